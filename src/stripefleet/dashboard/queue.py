"""The dashboard's job queue: one Huey instance per app, its tasks bound to that app.

- ``REDIS_URL`` set: ``RedisHuey`` (any number of workers on any number of machines).
- otherwise: ``SqliteHuey`` on ``huey.db`` in the instance folder (the embedded default).
- ``HUEY_IMMEDIATE`` (tests): tasks run at once, in the caller, on in-memory storage.

Infrastructure: this module imports no domain. Each domain registers its tasks with a
registrar (``register_rollout_tasks(huey, app)``...: closures over the app, so that a
task runs in the app's context) that the app factory passes to :func:`init_queue` (the
list is ``routes.TASK_REGISTRARS``); the web app and the worker build the same app, so
the same task names exist on both sides. Domains queue work with :func:`task`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask, current_app
from huey import Huey, RedisHuey, SqliteHuey

from stripefleet.common.files import private_folder, private_sqlite

QUEUE_NAME = "stripefleet-dashboard"

#: Registers a domain's tasks on the Huey instance, bound to the app; returns the
#: tasks that may be queued, by name.
TaskRegistrar = Callable[[Huey, Flask], dict[str, Any]]


def make_huey(config: dict[str, Any]) -> Huey:
    """The Huey instance for ``config`` (see the module docstring)."""
    if config.get("HUEY_IMMEDIATE"):
        return Huey(QUEUE_NAME, immediate=True, results=False)
    if config.get("REDIS_URL"):
        return RedisHuey(QUEUE_NAME, url=config["REDIS_URL"], results=False)
    path = private_folder(config["INSTANCE_DIR"]) / "huey.db"
    private_sqlite(f"sqlite:///{path}")  # 0600, like dashboard.db
    return SqliteHuey(QUEUE_NAME, filename=str(path), results=False)


def init_queue(app: Flask, registrars: Iterable[TaskRegistrar] = ()) -> None:
    """Create the app's Huey and register the tasks of each registrar on it."""
    app.extensions["stripefleet_huey"] = make_huey(app.config)
    app.extensions["stripefleet_tasks"] = {}
    register_tasks(app, registrars)


def register_tasks(app: Flask, registrars: Iterable[TaskRegistrar]) -> None:
    """Register more tasks on the app's Huey (:func:`init_queue` does it for its own)."""
    huey = get_huey(app)
    tasks: dict[str, Any] = app.extensions["stripefleet_tasks"]
    for register in registrars:
        tasks.update(register(huey, app))


def get_huey(app: Flask | None = None) -> Huey:
    """The Huey instance of ``app`` (the current app by default)."""
    huey: Huey = (app or current_app).extensions["stripefleet_huey"]
    return huey


def task(name: str, app: Flask | None = None) -> Any:
    """The registered task wrapper called ``name`` (``run_chunk``, ``verify_fleet``...)."""
    return (app or current_app).extensions["stripefleet_tasks"][name]
