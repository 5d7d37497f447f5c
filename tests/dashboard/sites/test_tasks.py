"""``stripefleet/dashboard/sites/tasks.py``: the verification task (health, drift)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from stripefleet.dashboard.queue import get_huey
from stripefleet.testing.fleet import FaultFleet
from tests.dashboard.conftest import PK, Account, add_user, import_sites


def test_verify_records_health_and_drift(make_app: Any) -> None:
    """After a push, a site whose value was changed behind the dashboard's back shows
    drift on that setting; an unreachable one shows as down; the others are ok."""
    with FaultFleet(["ok", "ok", "refuse"]) as fleet:
        app = make_app(TEMPLATE_MASTER_API_KEY=fleet.api_key)
        owner: Account = add_user(app, "owner")
        client = app.test_client()
        import_sites(client, owner, fleet.urls)
        resp = client.post("/api/rollouts", json={"setting": PK, "value": "pk_test_Drift1",
                                                  "options": {"retries": 0}},
                           headers=owner.headers)
        assert resp.json["rollout"]["recap"]["changed"] == 2
        fleet.set_value(fleet.urls[1], PK, "pk_test_ChangedByHand")  # behind our back
        assert client.post("/api/sites/verify", headers=owner.headers).status_code == 202
        sites = {s["url"]: s for s in client.get("/api/sites", headers=owner.headers).json["sites"]}
    first, second, third = (sites[u] for u in fleet.urls)
    assert (first["health"], first["drift"]) == ("ok", [])
    assert first["observed"][PK]["value"] == "pk_test_Drift1"
    assert (second["health"], second["drift"]) == ("ok", [PK])
    assert third["health"] == "down" and third["last_verified_at"]


def test_verification_period_follows_the_setting(make_app: Any) -> None:
    """The periodic verification runs every VERIFY_INTERVAL_MINUTES (here 5): due at
    minute 10, not at minute 11."""
    app = make_app(VERIFY_INTERVAL_MINUTES=5)
    periodic = [t for t in get_huey(app)._registry._registry.values()
                if t.__name__ == "verify_fleet_periodic"]
    assert len(periodic) == 1
    task = periodic[0]()
    assert task.validate_datetime(datetime(2026, 1, 1, 12, 10))
    assert not task.validate_datetime(datetime(2026, 1, 1, 12, 11))
