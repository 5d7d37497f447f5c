"""``stripefleet/dashboard/sites/tasks.py``: the verification task (health, drift, the
functional check), its notifications, and its periodic run once per period whatever the
number of workers."""

from __future__ import annotations

import threading
import time
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import select

from stripefleet.dashboard.extensions import db
from stripefleet.dashboard.queue import get_huey
from stripefleet.dashboard.sites import tasks
from stripefleet.dashboard.sites.models import PeriodicRun
from stripefleet.testing.fleet import DEFAULT_SECRET_KEY, FaultFleet
from tests.dashboard.conftest import PK, Account, add_user, import_sites
from tests.dashboard.rollouts.test_notifications import APPRISE_IMGHDR, Inbox


def test_verify_records_health_and_drift(make_app: Any) -> None:
    """After a push, a site whose value was changed behind the dashboard's back shows
    drift on that setting; an unreachable one shows as down; the others are ok."""
    with FaultFleet(["ok", "ok", "refuse"]) as fleet:
        app = make_app(TEMPLATE_MASTER_API_KEY=fleet.api_key)
        owner: Account = add_user(app, "owner")
        client = app.test_client()
        import_sites(client, owner, fleet.urls)
        resp = client.post("/api/rollouts", json={"setting": PK, "value": "pk_test_Drift1",
                                                  "options": {"retries": 0, "batches": ["100%"],
                                                              "max_fail_percentage": 100}},
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


def _sites(app: Any, owner: Account) -> dict[str, Any]:
    return {s["url"]: s for s in app.test_client().get("/api/sites",
                                                       headers=owner.headers).json["sites"]}


def test_verify_runs_the_functional_check(make_app: Any) -> None:
    """The verification also checks each site's key works (``POST /api/test-stripe``):
    account, mode and outcome per site; a failing check is drift
    (``functional_check``); a site without the endpoint is ``unavailable``."""
    with FaultFleet(["ok", "api_key_expired", "old_site"]) as fleet:
        fleet.accounts[DEFAULT_SECRET_KEY] = "acct_FleetAccount01"
        app = make_app(TEMPLATE_MASTER_API_KEY=fleet.api_key)
        owner = add_user(app, "owner")
        import_sites(app.test_client(), owner, fleet.urls)
        assert app.test_client().post("/api/sites/verify",
                                      headers=owner.headers).status_code == 202
        sites = _sites(app, owner)
    good, expired, old = (sites[u] for u in fleet.urls)
    assert (good["functional_state"], good["functional_error"], good["stripe_account_id"],
            good["stripe_livemode"], good["drift"]) == ("ok", None, "acct_FleetAccount01",
                                                        False, [])
    assert good["functional_checked_at"]
    assert (expired["functional_state"], expired["functional_error"]) == (
        "failed", "api_key_expired")
    assert expired["drift"] == ["functional_check"]
    assert (old["functional_state"], old["drift"]) == ("unavailable", [])


@pytest.mark.filterwarnings(APPRISE_IMGHDR)
def test_failing_check_and_drift_are_notified(make_app: Any) -> None:
    """A verification that finds a failing key or drift sends one message naming the
    sites and the codes (no value); a clean fleet sends none."""
    inbox = Inbox()
    try:
        with FaultFleet(["ok", "stripe_auth_failed"]) as fleet:
            app = make_app(TEMPLATE_MASTER_API_KEY=fleet.api_key, NOTIFY_URLS=[inbox.url])
            with app.app_context():
                tasks.verify_fleet()  # no site registered: nothing to say
            owner = add_user(app, "owner")
            import_sites(app.test_client(), owner, fleet.urls)
            with app.app_context():
                tasks.verify_fleet()
    finally:
        inbox.close()
    assert inbox.titles() == ["Fleet verification: 1 problem(s)"]
    body = str(inbox.messages[0]["message"])
    assert fleet.urls[1] in body and "stripe_auth_failed" in body
    assert DEFAULT_SECRET_KEY not in "".join(inbox.raw)


def test_periodic_verification_runs_once_per_period_with_two_workers(make_app: Any) -> None:
    """Two workers (two apps on one database) fire the periodic verification for the
    same period at the same moment: one runs it, the other skips it, and each site is
    read once; the next period runs again."""
    with FaultFleet(sites=2) as fleet:
        first = make_app(TEMPLATE_MASTER_API_KEY=fleet.api_key)
        second = make_app(TEMPLATE_MASTER_API_KEY=fleet.api_key,
                          SQLALCHEMY_DATABASE_URI=first.config["SQLALCHEMY_DATABASE_URI"])
        import_sites(first.test_client(), add_user(first, "owner"), fleet.urls)
        fleet.clear_log()
        moment = datetime(2026, 11, 30, 10, 17, 3)
        ran: list[bool] = []
        barrier = threading.Barrier(2)

        def fire(app: Any) -> None:
            with app.app_context():
                barrier.wait()
                ran.append(tasks.verify_fleet_once_per_period(moment))
                db.session.remove()

        threads = [threading.Thread(target=fire, args=(app,)) for app in (first, second)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        reads = [len(fleet.requests(u, "GET")) for u in fleet.urls]
        with first.app_context():
            again = tasks.verify_fleet_once_per_period(datetime(2026, 11, 30, 10, 31))
    assert sorted(ran) == [False, True]
    assert reads == [1, 1]
    assert again is True


def test_period_of_is_the_same_in_every_worker() -> None:
    """A period is named by its start, to the minute: 10:17 and 10:29 are the 10:15
    period of a 15-minute verification; hourly periods start on the hour."""
    assert tasks.period_of(datetime(2026, 1, 1, 10, 17, 59), 15) == "2026-01-01T10:15"
    assert tasks.period_of(datetime(2026, 1, 1, 10, 29), 15) == "2026-01-01T10:15"
    assert tasks.period_of(datetime(2026, 1, 1, 10, 30), 15) == "2026-01-01T10:30"
    assert tasks.period_of(datetime(2026, 1, 1, 13, 40), 120) == "2026-01-01T12:00"


@pytest.mark.slow
def test_two_worker_processes_verify_the_fleet_once_per_period(
        make_app: Any, start_worker: Any) -> None:
    """Two real ``dashboard worker`` processes, each running Huey's periodic scheduler
    with a one-minute verification: every period that fired was run by one of them
    only (one ``periodic_runs`` row, one read of each site per period). Waits for the
    next minute boundary (up to a minute)."""
    with FaultFleet(sites=2) as fleet:
        app = make_app(TEMPLATE_MASTER_API_KEY=fleet.api_key, HUEY_IMMEDIATE=False,
                       VERIFY_INTERVAL_MINUTES=1)
        import_sites(app.test_client(), add_user(app, "owner"), fleet.urls)
        fleet.clear_log()
        env = {"DASHBOARD_VERIFY_INTERVAL_MINUTES": "1"}
        workers = [start_worker(app, env=env, workers=1), start_worker(app, env=env, workers=1)]
        deadline = time.monotonic() + 90
        while not all(fleet.requests(u, "POST") for u in fleet.urls):
            assert time.monotonic() < deadline, [w.log_tail() for w in workers]
            time.sleep(0.2)
        time.sleep(2.0)  # the other worker's scheduler fired in the same minute
        for proc in workers:
            proc.stop()
        with app.app_context():
            periods = list(db.session.scalars(
                select(PeriodicRun.period).where(PeriodicRun.name == tasks.PERIODIC_NAME)))
            db.engine.dispose()
        reads = [len(fleet.requests(u, "GET")) for u in fleet.urls]
    assert len(periods) >= 1
    assert reads == [len(periods)] * 2
