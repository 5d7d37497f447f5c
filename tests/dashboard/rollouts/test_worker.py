"""Rollouts run by real ``stripefleet dashboard worker`` processes: live progress,
SIGKILL mid-rollout and resumption, two workers sharing a rollout over Redis with the
dashboard on PostgreSQL (``stripefleet/dashboard/rollouts/tasks.py``)."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask

from stripefleet.common.processes import ManagedProcess
from stripefleet.dashboard.extensions import db
from stripefleet.testing.fleet import FaultFleet
from tests.dashboard.conftest import PK, Account, add_user, import_sites

FINISHED = ("succeeded", "partially_failed", "failed", "halted", "rolled_back")


def start_rollout(app: Flask, owner: Account, value: str, **options: Any) -> int:
    resp = app.test_client().post(
        "/api/rollouts", json={"setting": PK, "value": value, "options": options},
        headers=owner.headers)
    assert resp.status_code == 202, resp.json
    return int(resp.json["rollout"]["id"])


def poll(app: Flask, owner: Account, rollout_id: int, *,
         until: Callable[[dict[str, Any]], bool], limit: float = 60.0) -> list[dict[str, Any]]:
    """Read GET /api/rollouts/<id> every 50 ms until ``until(answer)``; all answers."""
    client = app.test_client()
    seen = []
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        answer = client.get(f"/api/rollouts/{rollout_id}", headers=owner.headers).json
        seen.append(answer)
        if until(answer):
            return seen
        time.sleep(0.05)
    raise AssertionError(f"rollout {rollout_id} did not get there: {seen[-1]['progress']}")


def done(answer: dict[str, Any]) -> int:
    return answer["rollout"]["total"] - answer["progress"].get("pending", 0)


def finished(answer: dict[str, Any]) -> bool:
    return answer["rollout"]["state"] in FINISHED


def wait_log(proc: ManagedProcess, text: str, limit: float = 30.0) -> None:
    deadline = time.monotonic() + limit
    while text not in proc.log_tail(200):
        if time.monotonic() > deadline or (proc.proc and proc.proc.poll() is not None):
            raise AssertionError(f"{text!r} not in the worker log:\n{proc.log_tail()}")
        time.sleep(0.05)


def test_live_progress_through_the_api(make_app: Any, start_worker: Any) -> None:
    """While a worker runs a rollout, GET /api/rollouts/<id> shows targets finishing one
    by one (counts between 0 and all), then the recap."""
    with FaultFleet(sites=8, latency_ms=120) as fleet:
        app = make_app(TEMPLATE_MASTER_API_KEY=fleet.api_key, HUEY_IMMEDIATE=False)
        owner = add_user(app, "owner")
        import_sites(app.test_client(), owner, fleet.urls)
        start_worker(app)
        rollout_id = start_rollout(app, owner, "pk_test_Live1", concurrency=1)
        seen = poll(app, owner, rollout_id, until=finished)
    partial = [done(a) for a in seen if 0 < done(a) < 8]
    assert partial, "no intermediate progress was ever visible"
    assert [done(a) for a in seen] == sorted(done(a) for a in seen)  # never goes back
    assert seen[-1]["rollout"]["recap"]["changed"] == 8
    assert seen[-1]["rollout"]["state"] == "succeeded"


def test_sigkill_mid_rollout_then_new_worker_finishes_pushing_each_site_once(
        make_app: Any, start_worker: Any) -> None:
    """A worker killed with SIGKILL in the middle of a rollout leaves it half done; a new
    worker resumes it (after the dead worker's lease): every site ends up with exactly
    one completed PUT, and a site finished before the kill receives no second PUT at
    all. (A PUT in flight at the kill dies with the connection, unapplied: the fleet
    cancels its handler, so that site is pushed again; the FaultFleet counts both.)"""
    with FaultFleet(sites=10, latency_ms=250) as fleet:
        app = make_app(TEMPLATE_MASTER_API_KEY=fleet.api_key, HUEY_IMMEDIATE=False,
                       LEASE_SECONDS=2)
        owner = add_user(app, "owner")
        import_sites(app.test_client(), owner, fleet.urls)
        env = {"DASHBOARD_LEASE_SECONDS": "2"}
        first = start_worker(app, env=env)
        rollout_id = start_rollout(app, owner, "pk_test_Kill1", concurrency=2)
        poll(app, owner, rollout_id, until=lambda a: done(a) >= 3)
        first.kill()
        at_kill = poll(app, owner, rollout_id, until=lambda a: True)[-1]
        assert 3 <= done(at_kill) < 10 and not finished(at_kill)
        finished_before = {t["url"] for t in at_kill["targets"] if t["state"] != "pending"}
        start_worker(app, env=env)
        final = poll(app, owner, rollout_id, until=finished)[-1]
        completed = [sum(1 for r in fleet.requests(u, "PUT") if r.status)  # 0: cancelled
                     for u in fleet.urls]
        received = {u: fleet.puts(u) for u in fleet.urls}
    assert completed == [1] * 10
    assert all(received[u] == 1 for u in finished_before)
    assert sum(received.values()) - 10 <= 2  # at most the PUTs in flight (concurrency 2)
    assert final["rollout"]["state"] == "succeeded"
    assert final["rollout"]["recap"]["changed"] == 10


@pytest.mark.redis
@pytest.mark.postgres
def test_two_workers_share_one_rollout_over_redis_on_postgres(
        make_app: Any, start_worker: Any, redis_url: str, postgres_url: str) -> None:
    """With REDIS_URL the chunks of one rollout are shared by two worker processes (each
    runs some of them) and each site is pushed once; the dashboard runs on PostgreSQL.
    The rollout's concurrency (2) bounds the requests in flight over both workers."""
    with FaultFleet(sites=12, latency_ms=150) as fleet:
        app = make_app(TEMPLATE_MASTER_API_KEY=fleet.api_key, HUEY_IMMEDIATE=False,
                       REDIS_URL=redis_url, SQLALCHEMY_DATABASE_URI=postgres_url, CHUNK_SIZE=2)
        owner = add_user(app, "owner")
        import_sites(app.test_client(), owner, fleet.urls)
        workers = [start_worker(app, workers=1), start_worker(app, workers=1)]
        for proc in workers:
            wait_log(proc, "Worker ready (RedisHuey")
        rollout_id = start_rollout(app, owner, "pk_test_Redis1", concurrency=2,
                                   batches=["100%"])
        final = poll(app, owner, rollout_id, until=finished)[-1]
        puts = [fleet.puts(u) for u in fleet.urls]
        peak = fleet.max_in_flight
        chunks = [set(re.findall(rf"rollout {rollout_id} chunk (\d+): \d+ targets claimed",
                                 proc.log_tail(500))) for proc in workers]
        with app.app_context():
            db.engine.dispose()
    assert puts == [1] * 12
    assert final["rollout"]["state"] == "succeeded"
    assert peak == 2, f"{peak} requests in flight at once, for a concurrency of 2"
    assert chunks[0] and chunks[1], f"a worker ran nothing: {chunks}"
    assert chunks[0] | chunks[1] == {str(n) for n in range(6)}


def test_sigkill_in_a_batch_resumes_it_without_starting_the_next_batch_early(
        make_app: Any, start_worker: Any) -> None:
    """A worker killed with SIGKILL in the middle of a rollout's first batch: the next
    worker finishes that batch only (pushing each of its sites once), the rollout waits
    for approval with no site of the later batch pushed, and once approved every site
    holds the value after exactly one completed PUT."""
    with FaultFleet(sites=6, latency_ms=300) as fleet:
        app = make_app(TEMPLATE_MASTER_API_KEY=fleet.api_key, HUEY_IMMEDIATE=False,
                       LEASE_SECONDS=2)
        owner = add_user(app, "owner")
        import_sites(app.test_client(), owner, fleet.urls)
        env = {"DASHBOARD_LEASE_SECONDS": "2"}
        first = start_worker(app, env=env)
        rollout_id = start_rollout(app, owner, "pk_test_BatchKill1", concurrency=1,
                                   batches=[3, "100%"], pause_for_approval=True)
        poll(app, owner, rollout_id, until=lambda a: done(a) >= 1)
        first.kill()
        start_worker(app, env=env)
        waiting = poll(app, owner, rollout_id,
                       until=lambda a: a["rollout"]["state"] == "awaiting_approval")[-1]
        canaries = {t["url"] for t in waiting["targets"] if t["batch"] == 0}
        later = [u for u in fleet.urls if u not in canaries]
        puts_before_approval = {u: fleet.puts(u) for u in later}
        completed_canaries = [sum(1 for r in fleet.requests(u, "PUT") if r.status)
                              for u in canaries]
        approved = app.test_client().post(f"/api/rollouts/{rollout_id}/approve",
                                          headers=owner.headers)
        assert approved.status_code == 202, approved.json
        final = poll(app, owner, rollout_id, until=finished)[-1]
        completed = [sum(1 for r in fleet.requests(u, "PUT") if r.status) for u in fleet.urls]
    assert len(canaries) == 3
    assert puts_before_approval == dict.fromkeys(later, 0)
    assert completed_canaries == [1, 1, 1]
    assert completed == [1] * 6
    assert final["rollout"]["state"] == "succeeded"
    assert final["rollout"]["recap"]["changed"] == 6


def test_halt_stops_a_running_rollout(make_app: Any, start_worker: Any) -> None:
    """Halting a rollout a worker is running cancels its pushes: the pending targets
    become ``skipped`` and the remaining sites never receive a PUT."""
    with FaultFleet(sites=10, latency_ms=200) as fleet:
        app = make_app(TEMPLATE_MASTER_API_KEY=fleet.api_key, HUEY_IMMEDIATE=False,
                       LEASE_SECONDS=1)
        owner = add_user(app, "owner")
        import_sites(app.test_client(), owner, fleet.urls)
        worker = start_worker(app, env={"DASHBOARD_LEASE_SECONDS": "1"})
        rollout_id = start_rollout(app, owner, "pk_test_Halt1", concurrency=1)
        poll(app, owner, rollout_id, until=lambda a: done(a) >= 2)
        resp = app.test_client().post(f"/api/rollouts/{rollout_id}/halt", headers=owner.headers)
        assert resp.status_code == 200 and resp.json["rollout"]["state"] == "halted"
        wait_log(worker, f"rollout {rollout_id} is halted: stopping its chunk")
        final = poll(app, owner, rollout_id, until=finished)[-1]
        puts = sum(fleet.puts(u) for u in fleet.urls)
    states = [t["state"] for t in final["targets"]]
    assert states.count("skipped") >= 5
    assert puts <= 10 - states.count("skipped") + 1  # at most one PUT was in flight
