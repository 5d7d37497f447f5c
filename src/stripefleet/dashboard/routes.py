"""Registers every blueprint of the dashboard on the app."""

from __future__ import annotations

from flask import Flask, redirect, url_for
from werkzeug.wrappers import Response


def register_blueprints(app: Flask) -> None:
    """Pages, the JSON API and the seed 001_ blueprint."""
    from stripefleet.dashboard.audit.views import bp as audit_bp
    from stripefleet.dashboard.auth.api import bp as auth_api
    from stripefleet.dashboard.auth.views import bp as auth_bp
    from stripefleet.dashboard.history.views import bp as history_bp
    from stripefleet.dashboard.propagate_bp import bp as propagate_bp
    from stripefleet.dashboard.rollouts.api import bp as rollouts_api
    from stripefleet.dashboard.rollouts.views import bp as rollouts_bp
    from stripefleet.dashboard.sites.api import bp as sites_api
    from stripefleet.dashboard.sites.views import bp as sites_bp

    for blueprint in (auth_bp, auth_api, sites_bp, sites_api, rollouts_bp, rollouts_api,
                      history_bp, audit_bp, propagate_bp):
        app.register_blueprint(blueprint)

    @app.get("/")
    def index() -> Response:
        return redirect(url_for("sites.fleet"))

    @app.get("/api/health")
    def health() -> tuple[dict[str, object], int]:
        return {"success": True, "status": "ok"}, 200
