"""``stripefleet/dashboard/sites/services.py``: TEMPLATE_SITES_LIST and the sites file."""

from __future__ import annotations

from typing import Any

import pytest

from stripefleet.common.web import ApiError
from stripefleet.dashboard.extensions import db
from stripefleet.dashboard.sites import services
from tests.dashboard.conftest import add_user


def test_sites_list_from_config_is_registered_once(make_app: Any) -> None:
    """The configured TEMPLATE_SITES_LIST (the embeddable propagation blueprint's
    setting) is registered at start-up; a second start adds nothing."""
    app = make_app(TEMPLATE_SITES_LIST="https://a.fr, https://b.fr\nhttps://c.fr")
    with app.app_context():
        assert services.sync_sites_list()["added"] == ["https://a.fr", "https://b.fr",
                                                       "https://c.fr"]
        db.session.commit()
        again = services.sync_sites_list()
        assert again == {"added": [], "existing": ["https://a.fr", "https://b.fr",
                                                   "https://c.fr"]}


@pytest.mark.parametrize("line", ["https://a.fr colour=red", "https://a.fr?x=1", "a.fr"])
def test_sites_file_bad_lines(line: str) -> None:
    """Unknown words, queries and bare hosts are refused with the line number."""
    with pytest.raises(ApiError, match="Line 1"):
        services.parse_sites_file(line)


def test_site_without_any_api_key_cannot_be_targeted(make_app: Any) -> None:
    """With no site key and no TEMPLATE_MASTER_API_KEY, a rollout is refused up front
    (400 ``missing_api_key``) rather than failing on every site."""
    app = make_app(TEMPLATE_MASTER_API_KEY=None)
    owner = add_user(app, "owner")
    client = app.test_client()
    client.post("/api/sites", json={"url": "https://a.fr"}, headers=owner.headers)
    resp = client.post("/api/rollouts", json={"setting": "stripe_publishable_key",
                                              "value": "pk_test_A1"}, headers=owner.headers)
    assert resp.status_code == 400 and resp.json["error"] == "missing_api_key"
