"""``stripefleet/dashboard/rollouts/worker.py``: claims, leases, resumption."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select, update

from stripefleet.common.db import utcnow
from stripefleet.dashboard.extensions import db
from stripefleet.dashboard.rollouts import worker
from stripefleet.dashboard.rollouts.models import RolloutTarget
from stripefleet.dashboard.sites.models import Site
from stripefleet.dashboard.sites.services import api_key_for
from stripefleet.testing.fleet import FaultFleet
from tests.dashboard.conftest import PK, add_user, import_sites


def _queued_rollout(make_app: Any, fleet: FaultFleet, value: str,
                    setting: str = PK) -> tuple[Any, int]:
    app = make_app(TEMPLATE_MASTER_API_KEY=fleet.api_key, HUEY_IMMEDIATE=False, CHUNK_SIZE=2)
    owner = add_user(app, "owner")
    client = app.test_client()
    import_sites(client, owner, fleet.urls)
    resp = client.post("/api/rollouts", json={"setting": setting, "value": value,
                                              "options": {"batches": ["100%"]}},
                       headers=owner.headers)
    assert resp.status_code in (200, 201, 202), resp.json
    return app, resp.json["rollout"]["id"]


def test_resumed_target_already_holding_the_value_is_not_pushed_again(make_app: Any) -> None:
    """A target a dead worker had claimed (lease expired) whose site already holds the
    value is recorded from a read, with no second PUT; the others are pushed once."""
    with FaultFleet(sites=2) as fleet:
        app, rollout_id = _queued_rollout(make_app, fleet, "pk_test_Resume1")
        with app.app_context():
            first = db.session.scalars(select(RolloutTarget).order_by(RolloutTarget.id)).first()
            db.session.execute(update(RolloutTarget).where(RolloutTarget.id == first.id).values(
                claim_token="dead-worker", claims=1, lease_until=utcnow() - timedelta(seconds=1)))
            db.session.commit()
            fleet.set_value(first.url, PK, "pk_test_Resume1")  # its PUT had landed
            fleet.clear_log()
            assert worker.run_chunk(rollout_id, 0) == 2
            rows = {t.url: t for t in db.session.scalars(select(RolloutTarget))}
            resumed_url = first.url
        other_url = next(u for u in fleet.urls if u != resumed_url)
        assert fleet.puts(resumed_url) == 0 and fleet.puts(other_url) == 1
        assert rows[resumed_url].state == "changed"
        assert "Resumed" in (rows[resumed_url].message or "")
        assert rows[other_url].state == "changed"


def test_resumed_rotation_of_the_fleet_key_reads_the_site_with_the_new_key(
        make_app: Any) -> None:
    """A dead worker's PUT of a new ``template_master_api_key`` had landed: the site now
    refuses the old key. The resumed target is read with the new key, recorded
    ``changed`` without a second PUT, and the dashboard reaches the site with it."""
    new_key = "rotated-fleet-key-resume-0123456789"
    with FaultFleet(sites=2) as fleet:
        app, rollout_id = _queued_rollout(make_app, fleet, new_key,
                                          setting="template_master_api_key")
        with app.app_context():
            first = db.session.scalars(select(RolloutTarget).order_by(RolloutTarget.id)).first()
            db.session.execute(update(RolloutTarget).where(RolloutTarget.id == first.id).values(
                claim_token="dead-worker", claims=1, lease_until=utcnow() - timedelta(seconds=1)))
            db.session.commit()
            fleet.set_value(first.url, "template_master_api_key", new_key)
            fleet.clear_log()
            assert worker.run_chunk(rollout_id, 0) == 2
            rows = {t.url: t for t in db.session.scalars(select(RolloutTarget))}
            resumed_url = first.url
            site_keys = {s.url: api_key_for(s) for s in db.session.scalars(select(Site))}
        assert fleet.puts(resumed_url) == 0
        assert (rows[resumed_url].state, rows[resumed_url].error) == ("changed", None)
        assert "Resumed" in (rows[resumed_url].message or "")
        assert set(site_keys.values()) == {new_key}


def test_live_lease_is_not_taken(make_app: Any) -> None:
    """A target another worker holds (lease in the future) is left alone; the rollout
    stays open until it is recorded."""
    with FaultFleet(sites=2) as fleet:
        app, rollout_id = _queued_rollout(make_app, fleet, "pk_test_Lease1")
        with app.app_context():
            first = db.session.scalars(select(RolloutTarget).order_by(RolloutTarget.id)).first()
            db.session.execute(update(RolloutTarget).where(RolloutTarget.id == first.id).values(
                claim_token="live-worker", claims=1, lease_until=utcnow() + timedelta(minutes=5)))
            db.session.commit()
            assert worker.run_chunk(rollout_id, 0) == 1
            assert worker.finish(rollout_id) is False
            wait = worker.resume()
            held_url = first.url
        assert wait is not None and wait > 200
        assert fleet.puts(held_url) == 0


def test_finished_target_is_never_claimed_again(make_app: Any) -> None:
    """Running a chunk twice pushes each target once."""
    with FaultFleet(sites=3) as fleet:
        app, rollout_id = _queued_rollout(make_app, fleet, "pk_test_Twice1")
        with app.app_context():
            assert worker.run_chunk(rollout_id, 0) == 2
            assert worker.run_chunk(rollout_id, 0) == 0
            assert worker.run_chunk(rollout_id, 1) == 1
        assert [fleet.puts(u) for u in fleet.urls] == [1, 1, 1]
