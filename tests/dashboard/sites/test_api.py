"""``stripefleet/dashboard/sites/api.py``: the fleet through the JSON API."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from tests.dashboard.conftest import Account

KEY = "site-own-api-key-ABCDEFGH12345"


def test_create_list_update_disable(client: Any, users: dict[str, Account]) -> None:
    """An owner adds a site, edits it, disables it; the list shows each change."""
    owner = users["owner"]
    resp = client.post("/api/sites", json={"url": "https://shop.example.fr/", "name": "Shop",
                                           "environment": "prod", "tags": ["eu", "art"]},
                       headers=owner.headers)
    assert resp.status_code == 201
    site = resp.json["site"]
    assert (site["url"], site["environment"], site["tags"], site["enabled"]) == \
        ("https://shop.example.fr", "prod", ["eu", "art"], True)
    resp = client.patch(f"/api/sites/{site['id']}", json={"name": "Shop 2", "tags": "x"},
                        headers=owner.headers)
    assert resp.json["site"]["name"] == "Shop 2" and resp.json["site"]["tags"] == ["x"]
    resp = client.post(f"/api/sites/{site['id']}/disable", headers=owner.headers)
    assert resp.json["site"]["enabled"] is False
    listed = client.get("/api/sites", headers=users["viewer"].headers).json["sites"]
    assert [s["enabled"] for s in listed] == [False]


@pytest.mark.parametrize(("body", "code"), [
    ({"url": "shop.example.fr"}, "invalid_url"),
    ({"url": "https://a.fr", "environment": "staging"}, "invalid_environment"),
    ({"url": "https://a.fr", "tags": ["bad tag"]}, "invalid_tag"),
    ({"url": "https://a.fr", "api_key": "short"}, "invalid_api_key_format"),
])
def test_create_refuses_bad_input(client: Any, users: dict[str, Account], body: dict[str, Any],
                                  code: str) -> None:
    """Bad input is 400 with a stable code, and nothing is created."""
    resp = client.post("/api/sites", json=body, headers=users["owner"].headers)
    assert resp.status_code == 400
    assert resp.json["error"] == code
    assert client.get("/api/sites", headers=users["owner"].headers).json["sites"] == []


def test_duplicate_url_is_409(client: Any, users: dict[str, Account]) -> None:
    """The same base URL twice is 409 ``site_exists``."""
    owner = users["owner"]
    client.post("/api/sites", json={"url": "https://a.fr"}, headers=owner.headers)
    resp = client.post("/api/sites", json={"url": "https://a.fr/"}, headers=owner.headers)
    assert resp.status_code == 409 and resp.json["error"] == "site_exists"


def test_site_api_key_is_stored_encrypted(app: Any, client: Any, users: dict[str, Account],
                                          tmp_path: Path) -> None:
    """A site's own API key is shown only as its fingerprint and is not in clear in the
    database file."""
    resp = client.post("/api/sites", json={"url": "https://a.fr", "api_key": KEY},
                       headers=users["owner"].headers)
    site = resp.json["site"]
    assert KEY not in resp.get_data(as_text=True)
    assert site["own_api_key"] is True and len(site["api_key_fingerprint"]) == 16
    db_path = app.config["SQLALCHEMY_DATABASE_URI"].removeprefix("sqlite:///")
    with sqlite3.connect(db_path) as conn:
        dump = "\n".join(conn.iterdump())
    assert KEY not in dump


def test_import_sites_file(client: Any, users: dict[str, Account]) -> None:
    """A sites file adds each URL once; known ones are reported, not duplicated."""
    owner = users["owner"]
    text = "# fleet\nhttps://a.fr\nhttps://b.fr name=B env=prod tags=eu\n\nhttps://a.fr/\n"
    resp = client.post("/api/sites/import", json={"text": text}, headers=owner.headers)
    assert resp.json["added"] == ["https://a.fr", "https://b.fr"]
    again = client.post("/api/sites/import", json={"text": text}, headers=owner.headers)
    assert again.json["added"] == [] and again.json["existing"] == ["https://a.fr", "https://b.fr"]
    sites = {s["url"]: s for s in client.get("/api/sites", headers=owner.headers).json["sites"]}
    assert (sites["https://b.fr"]["name"], sites["https://b.fr"]["environment"]) == ("B", "prod")


def test_import_names_the_bad_line(client: Any, users: dict[str, Account]) -> None:
    """A bad line fails the whole import (400 ``invalid_sites_file`` naming the line)."""
    resp = client.post("/api/sites/import", json={"text": "https://a.fr\nnot a url\n"},
                       headers=users["owner"].headers)
    assert resp.status_code == 400
    assert resp.json["error"] == "invalid_sites_file" and "Line 2" in resp.json["message"]
    assert client.get("/api/sites", headers=users["owner"].headers).json["sites"] == []


def test_unknown_site_is_404(client: Any, users: dict[str, Account]) -> None:
    """A missing site is 404 ``site_not_found``."""
    resp = client.get("/api/sites/99", headers=users["viewer"].headers)
    assert resp.status_code == 404 and resp.json["error"] == "site_not_found"


def test_non_json_body_is_400(client: Any, users: dict[str, Account]) -> None:
    """A body that is not a JSON object is 400 ``invalid_json``."""
    resp = client.post("/api/sites", data="url=x", headers=users["owner"].headers)
    assert resp.status_code == 400 and resp.json["error"] == "invalid_json"
