"""Huey tasks of rollouts (entry points), and how a request queues a new rollout.

- ``run_chunk(rollout_id, chunk)`` runs one chunk of targets through the worker
  (``worker.run_chunk``);
- ``resume_rollouts`` closes finished rollouts and re-queues the chunks nobody holds
  (``worker.resume``); it runs when a worker starts, every minute, and again when a dead
  worker's lease is about to expire;
- :func:`launch` creates (approves, halts) a rollout in the request's one transaction,
  commits it, then queues what it needs next (:func:`enqueue_rollout`: the chunks of its
  current batch, or a halted rollout's rollback).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask
from huey import Huey, crontab

from stripefleet.dashboard.extensions import db, transactional
from stripefleet.dashboard.rollouts import worker
from stripefleet.dashboard.rollouts.models import Rollout


def register_rollout_tasks(huey: Huey, app: Flask) -> dict[str, Any]:
    """Register the rollout tasks on ``huey``, bound to ``app``; returns them by name."""

    @huey.task(name="run_chunk")  # type: ignore[untyped-decorator]
    def run_chunk(rollout_id: int, chunk: int) -> None:
        with app.app_context():
            try:
                worker.run_chunk(rollout_id, chunk)
            finally:
                db.session.remove()

    @huey.task(name="resume_rollouts")  # type: ignore[untyped-decorator]
    def resume_rollouts() -> None:
        with app.app_context():
            try:
                wait = worker.resume()
            finally:
                db.session.remove()
        if wait is not None and not huey.immediate:
            resume_rollouts.schedule(delay=wait)

    @huey.periodic_task(crontab(), name="resume_rollouts_periodic")  # type: ignore[untyped-decorator]
    def resume_rollouts_periodic() -> None:
        resume_rollouts()

    @huey.on_startup(name="resume_rollouts_on_startup")  # type: ignore[untyped-decorator]
    def _on_startup() -> None:
        resume_rollouts()

    return {"run_chunk": run_chunk, "resume_rollouts": resume_rollouts}


def enqueue_rollout(rollout: Rollout, app: Flask | None = None) -> None:
    """Queue what a committed rollout needs next (a task must see its rows).

    An open rollout: one ``run_chunk`` task per chunk of its current batch (a rollout
    awaiting approval: nothing). A rollout with nothing left to push (a rollback whose
    targets were all skipped at creation) still gets its first chunk: the chunk claims
    nothing and closes it. A halted rollout: its automatic rollback
    (``rollback_rollout_id``) is queued, and the halt announced.
    """
    db.session.refresh(rollout)
    if rollout.state in ("pending", "running"):
        worker.queue_chunks(rollout, app)
    elif rollout.state == "halted":
        worker.announce(rollout.id)
        if rollout.rollback_rollout_id is not None:
            rollback = db.session.get(Rollout, rollout.rollback_rollout_id)
            if rollback is not None and rollback.state in ("pending", "running"):
                worker.queue_chunks(rollback, app)


def launch(create: Callable[[], Rollout]) -> Rollout:
    """Create a rollout (or approve, or halt one) and queue what follows.

    ``create`` calls a service (``services.create_rollout``, ``approve``, ``halt``...:
    flushes, returns the rollout). It runs as a ``transactional`` step, the request's
    one commit point; the chunks are queued after that commit (on the immediate queue
    of the tests, each runs at once, in a session of its own).

    Raises:
        What ``create`` raises: nothing is then committed, nor queued.
    """
    rollout = _committed(create)
    enqueue_rollout(rollout)
    return rollout


@transactional
def _committed(create: Callable[[], Rollout]) -> Rollout:
    return create()
