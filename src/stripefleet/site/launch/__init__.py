"""The SaaS launch domain (seed 002_): ``POST /saas_launch_site`` and the dashboard's
``GET /api/export/launch-requests``."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the launch endpoints (models are imported with it)."""
    from stripefleet.site.launch import api, models  # noqa: F401

    app.register_blueprint(api.bp)
