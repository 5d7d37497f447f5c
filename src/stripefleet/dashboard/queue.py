"""The dashboard's job queue: one Huey instance per app, its tasks bound to that app.

- ``REDIS_URL`` set: ``RedisHuey`` (any number of workers on any number of machines).
- otherwise: ``SqliteHuey`` on ``huey.db`` in the instance folder (the embedded default).
- ``HUEY_IMMEDIATE`` (tests): tasks run at once, in the caller, on in-memory storage.

Tasks are registered by :func:`register_tasks` on the instance (closures over the app,
so that a task runs in the app's context); the web app and the worker build the same
app, so the same task names exist on both sides.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask, current_app
from huey import Huey, RedisHuey, SqliteHuey

QUEUE_NAME = "stripefleet-dashboard"


def make_huey(config: dict[str, Any]) -> Huey:
    """The Huey instance for ``config`` (see the module docstring)."""
    if config.get("HUEY_IMMEDIATE"):
        return Huey(QUEUE_NAME, immediate=True, results=False)
    if config.get("REDIS_URL"):
        return RedisHuey(QUEUE_NAME, url=config["REDIS_URL"], results=False)
    path = Path(config["INSTANCE_DIR"]) / "huey.db"
    path.parent.mkdir(parents=True, exist_ok=True)
    return SqliteHuey(QUEUE_NAME, filename=str(path), results=False)


def init_queue(app: Flask) -> None:
    """Create the app's Huey and register the tasks of every domain on it."""
    from stripefleet.dashboard.rollouts.tasks import register_rollout_tasks
    from stripefleet.dashboard.sites.tasks import register_site_tasks

    huey = make_huey(app.config)
    tasks: dict[str, Any] = {}
    tasks.update(register_rollout_tasks(huey, app))
    tasks.update(register_site_tasks(huey, app))
    app.extensions["stripefleet_huey"] = huey
    app.extensions["stripefleet_tasks"] = tasks


def get_huey(app: Flask | None = None) -> Huey:
    """The Huey instance of ``app`` (the current app by default)."""
    huey: Huey = (app or current_app).extensions["stripefleet_huey"]
    return huey


def task(name: str, app: Flask | None = None) -> Any:
    """The registered task wrapper called ``name`` (``run_chunk``, ``verify_fleet``...)."""
    return (app or current_app).extensions["stripefleet_tasks"][name]
