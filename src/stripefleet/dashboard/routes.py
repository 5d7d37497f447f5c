"""What each domain of the dashboard plugs into the app: its blueprints (pages, JSON
API, ``/admin/stripe/propagate``) and its Huey tasks.

``create_app`` calls ``queue.init_queue(app, TASK_REGISTRARS)``, then
:func:`register_blueprints`.
"""

from __future__ import annotations

from flask import Blueprint, Flask, redirect, url_for
from werkzeug.wrappers import Response

from stripefleet.dashboard.audit.views import bp as audit_bp
from stripefleet.dashboard.auth.api import bp as auth_api
from stripefleet.dashboard.auth.views import bp as auth_bp
from stripefleet.dashboard.queue import TaskRegistrar
from stripefleet.dashboard.rollouts.api import bp as rollouts_api
from stripefleet.dashboard.rollouts.history_views import bp as history_bp
from stripefleet.dashboard.rollouts.propagate import bp as propagate_bp
from stripefleet.dashboard.rollouts.tasks import register_rollout_tasks
from stripefleet.dashboard.rollouts.views import bp as rollouts_bp
from stripefleet.dashboard.sites.api import bp as sites_api
from stripefleet.dashboard.sites.tasks import register_site_tasks
from stripefleet.dashboard.sites.views import bp as sites_bp

#: Every blueprint of the dashboard.
BLUEPRINTS: tuple[Blueprint, ...] = (auth_bp, auth_api, sites_bp, sites_api, rollouts_bp,
                                     rollouts_api, history_bp, audit_bp, propagate_bp)

#: Every domain's task registrar, for ``queue.init_queue(app, TASK_REGISTRARS)``.
TASK_REGISTRARS: tuple[TaskRegistrar, ...] = (register_rollout_tasks, register_site_tasks)


def register_blueprints(app: Flask) -> None:
    """Register every blueprint, the index redirect and ``/api/health``."""
    for blueprint in BLUEPRINTS:
        app.register_blueprint(blueprint)

    @app.get("/")
    def index() -> Response:
        return redirect(url_for("sites.fleet"))

    @app.get("/api/health")
    def health() -> tuple[dict[str, object], int]:
        return {"success": True, "status": "ok"}, 200
