"""``POST /saas_launch_site`` (the troubleshooting guide) and
``GET /api/export/launch-requests``."""

from __future__ import annotations

import pytest
import requests

from tests.site.shop.harness import API_KEY, Shop


def _launch(shop: Shop, **body: str) -> requests.Response:
    return requests.post(f"{shop.url}/saas_launch_site", json=body, timeout=30)


def test_paid_launch_is_listed_to_the_dashboard(shop: Shop) -> None:
    """The troubleshooting guide's example body gives a checkout URL; once paid
    (webhook), the request is listed at ``/api/export/launch-requests`` with its plan and
    amount."""
    r = _launch(shop, domain="test.example.fr", email="test@example.com", type="standard")
    assert r.status_code == 200 and r.json()["checkout_url"].startswith(shop.emulator.url)
    sid = r.json()["session_id"]
    assert shop.emulator.pay(sid).status_code == 200
    shop.wait_delivered("checkout.session.completed", sid)
    listed = requests.get(f"{shop.url}/api/export/launch-requests",
                          headers={"X-API-Key": API_KEY}, timeout=10).json()["launch_requests"]
    mine = [row for row in listed if row["session_id"] == sid]
    assert [(m["domain"], m["type"], m["amount"], m["status"]) for m in mine] == [
        ("test.example.fr", "standard", 4900, "paid")]


@pytest.mark.parametrize(("body", "code"), [
    ({"domain": "not a domain", "email": "a@example.com"}, "invalid_domain"),
    ({"domain": "ok.example.fr", "email": "nope"}, "invalid_email"),
    ({"domain": "ok.example.fr", "email": "a@example.com", "type": "gold"}, "invalid_type"),
])
def test_launch_refuses_bad_fields(shop: Shop, body: dict[str, str], code: str) -> None:
    """Domain, e-mail and plan are checked: 400 with the code and the field."""
    r = _launch(shop, **body)
    assert (r.status_code, r.json()["error"]) == (400, code)


def test_launch_requests_need_the_api_key(shop: Shop) -> None:
    """The export is for the fleet only."""
    r = requests.get(f"{shop.url}/api/export/launch-requests", timeout=10)
    assert (r.status_code, r.json()["error"]) == (401, "invalid_api_key")


def test_success_page_status_follows_the_launch_payment(shop: Shop) -> None:
    """The success page's status poll knows launch sessions too: pending, then paid."""
    sid = _launch(shop, domain="page.example.fr", email="p@example.com").json()["session_id"]
    status = f"{shop.url}/commande/statut?session_id={sid}"
    assert requests.get(status, timeout=10).json() == {"status": "pending"}
    shop.emulator.pay(sid)
    shop.wait_delivered("checkout.session.completed", sid)
    assert requests.get(status, timeout=10).json() == {"status": "paid"}
