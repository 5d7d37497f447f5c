"""The SaaS launch domain (the troubleshooting guide's ``POST /saas_launch_site``) and
the dashboard's ``GET /api/export/launch-requests``."""

from __future__ import annotations

from flask import Flask

from stripefleet.site.launch import api, models  # noqa: F401  (models: the table)


def init_app(app: Flask) -> None:
    """Register the launch endpoints."""
    app.register_blueprint(api.bp)
