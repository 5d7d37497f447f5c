"""``POST /admin/stripe/propagate``: the embeddable propagation blueprint
(``stripefleet/embed/stripe_propagate.py``) registered in a minimal foreign Flask app as
the README's integration steps say, and the dashboard's own route of the same contract."""

from __future__ import annotations

import time
from typing import Any

import pytest
from flask import Flask

from stripefleet.embed.stripe_propagate import bp
from stripefleet.testing.fleet import FaultFleet
from tests.dashboard.conftest import PK, add_user, import_sites


def host_app(fleet: FaultFleet, **config: Any) -> Flask:
    """A host app with only the blueprint's two settings (plus optional extras)."""
    app = Flask("host")
    app.config["TEMPLATE_MASTER_API_KEY"] = fleet.api_key
    app.config["TEMPLATE_SITES_LIST"] = list(fleet.urls)
    app.config.update(config)
    app.register_blueprint(bp)
    return app


def wait_done(client: Any, rollout_id: str, headers: dict[str, str]) -> Any:
    """Poll the run's status until it is no longer running (bounded)."""
    for _ in range(200):
        body = client.get(f"/admin/stripe/propagate/{rollout_id}", headers=headers).json
        if body["rollout"]["state"] != "running":
            return body["rollout"]
        time.sleep(0.05)
    raise AssertionError("the propagation did not finish")


def test_host_app_pushes_to_every_listed_site() -> None:
    """In a foreign app the endpoint answers 202 at once and a background thread pushes
    the key to every site of TEMPLATE_SITES_LIST."""
    with FaultFleet(sites=3) as fleet:
        client = host_app(fleet).test_client()
        headers = {"X-API-Key": fleet.api_key}
        resp = client.post("/admin/stripe/propagate", json={"publishable_key": "pk_test_Host1"},
                           headers=headers)
        assert resp.status_code == 202
        assert resp.json["success"] is True and resp.json["rollout_id"]
        run = wait_done(client, resp.json["rollout_id"], headers)
        assert run["state"] == "succeeded" and run["recap"]["changed"] == 3
        assert [fleet.value(u, PK) for u in fleet.urls] == ["pk_test_Host1"] * 3


@pytest.mark.parametrize(("key", "code"), [("sk_test_abc", "invalid_publishable_key_format"),
                                           ("", "missing_value")])
def test_host_app_refuses_bad_keys(key: str, code: str) -> None:
    """400 with the format's code for a missing or invalid key; nothing is sent."""
    with FaultFleet(sites=1) as fleet:
        client = host_app(fleet).test_client()
        resp = client.post("/admin/stripe/propagate", json={"publishable_key": key},
                           headers={"X-API-Key": fleet.api_key})
        assert resp.status_code == 400 and resp.json["error"] == code
        assert fleet.total_requests() == 0


def test_host_app_refuses_unauthorized_callers() -> None:
    """Without the fleet key, an authorize hook or an admin user: 403."""
    with FaultFleet(sites=1) as fleet:
        resp = host_app(fleet).test_client().post(
            "/admin/stripe/propagate", json={"publishable_key": "pk_test_A1"})
        assert resp.status_code == 403 and resp.json["error"] == "forbidden"
        hooked = host_app(fleet, STRIPE_PROPAGATE_AUTHORIZE=lambda: True).test_client()
        ok = hooked.post("/admin/stripe/propagate", json={"publishable_key": "pk_test_A1"})
        assert ok.status_code == 202
        wait_done(hooked, ok.json["rollout_id"], {})


def test_snippet_is_served_and_calls_the_endpoint() -> None:
    """The HTML snippet is served and posts ``publishable_key`` to the endpoint."""
    with FaultFleet(sites=1) as fleet:
        html = host_app(fleet).test_client().get("/admin/stripe/snippet").get_data(as_text=True)
    assert "/admin/stripe/propagate" in html and "publishable_key" in html


def test_in_dashboard_it_starts_a_rollout(make_app: Any) -> None:
    """In the dashboard the endpoint creates a rollout of every enabled site (202 with
    its id) that the rollout API then shows; a viewer gets 403."""
    with FaultFleet(sites=2) as fleet:
        app = make_app(TEMPLATE_MASTER_API_KEY=fleet.api_key)
        operator, viewer = add_user(app, "operator"), add_user(app, "viewer")
        owner = add_user(app, "owner")
        client = app.test_client()
        import_sites(client, owner, fleet.urls)
        denied = client.post("/admin/stripe/propagate", json={"publishable_key": "pk_test_D1"},
                             headers=viewer.headers)
        assert denied.status_code == 403
        resp = client.post("/admin/stripe/propagate", json={"publishable_key": "pk_test_D1"},
                           headers=operator.headers)
        assert resp.status_code == 202 and isinstance(resp.json["rollout_id"], int)
        rollout = client.get(f"/api/rollouts/{resp.json['rollout_id']}",
                             headers=viewer.headers).json
        assert rollout["rollout"]["recap"]["changed"] == 2
        assert [fleet.value(u, PK) for u in fleet.urls] == ["pk_test_D1"] * 2
        page = client.get("/rollouts/new", headers=operator.headers).get_data(as_text=True)
        assert "stripe-propagate-btn" in page
