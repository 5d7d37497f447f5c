"""``stripefleet/dashboard/sites/tasks.py``: the verification task (health, drift)."""

from __future__ import annotations

from typing import Any

from stripefleet.testing.fleet import FaultFleet
from tests.dashboard.conftest import PK, Account, import_sites


def test_verify_records_health_and_drift(make_app: Any) -> None:
    """After a push, a site whose value was changed behind the dashboard's back shows
    drift on that setting; an unreachable one shows as down; the others are ok."""
    from tests.dashboard.conftest import add_user

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
