"""Registers every blueprint of the dashboard on the app: pages, the JSON API and the
dashboard's own ``/admin/stripe/propagate``."""

from __future__ import annotations

from flask import Blueprint, Flask, redirect, url_for
from werkzeug.wrappers import Response

from stripefleet.dashboard.audit.views import bp as audit_bp
from stripefleet.dashboard.auth.api import bp as auth_api
from stripefleet.dashboard.auth.views import bp as auth_bp
from stripefleet.dashboard.rollouts.api import bp as rollouts_api
from stripefleet.dashboard.rollouts.history_views import bp as history_bp
from stripefleet.dashboard.rollouts.propagate import bp as propagate_bp
from stripefleet.dashboard.rollouts.views import bp as rollouts_bp
from stripefleet.dashboard.sites.api import bp as sites_api
from stripefleet.dashboard.sites.views import bp as sites_bp

#: Every blueprint of the dashboard.
BLUEPRINTS: tuple[Blueprint, ...] = (auth_bp, auth_api, sites_bp, sites_api, rollouts_bp,
                                     rollouts_api, history_bp, audit_bp, propagate_bp)


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
