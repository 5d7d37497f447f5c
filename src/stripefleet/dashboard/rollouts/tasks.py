"""Huey tasks of rollouts: one task per chunk of targets, and the resumer.

``run_chunk(rollout_id, chunk)`` runs the chunk through the engine (see ``runner``);
``resume_rollouts`` re-queues chunks nobody holds; it runs when a worker starts, every
minute, and again when a dead worker's lease is about to expire.
"""

from __future__ import annotations

from typing import Any

from flask import Flask
from huey import Huey, crontab

from stripefleet.dashboard.extensions import db
from stripefleet.dashboard.rollouts.models import Rollout


def register_rollout_tasks(huey: Huey, app: Flask) -> dict[str, Any]:
    """Register the rollout tasks on ``huey``, bound to ``app``; returns them by name."""

    @huey.task(name="run_chunk")  # type: ignore[untyped-decorator]
    def run_chunk(rollout_id: int, chunk: int) -> None:
        from stripefleet.dashboard.rollouts import runner

        with app.app_context():
            try:
                runner.run_chunk(rollout_id, chunk)
            finally:
                db.session.remove()

    @huey.task(name="resume_rollouts")  # type: ignore[untyped-decorator]
    def resume_rollouts() -> None:
        from stripefleet.dashboard.rollouts import runner

        with app.app_context():
            try:
                wait = runner.resume()
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
    """Queue one ``run_chunk`` task per chunk (after the rollout was committed).

    With no chunk to run (every target already recorded, e.g. a rollback whose targets
    were all skipped), the rollout is closed at once.
    """
    from stripefleet.dashboard.queue import task
    from stripefleet.dashboard.rollouts import runner

    if rollout.chunk_count == 0 or not any(t.state == "pending" for t in rollout.targets):
        runner.finish(rollout.id)
        return
    run_chunk = task("run_chunk", app)
    for chunk in range(rollout.chunk_count):
        run_chunk(rollout.id, chunk)
