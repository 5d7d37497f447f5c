"""The webhooks domain: the Stripe event receiver and its inbox (issue 4).

Public surface: ``services.list_events`` (the admin area), ``models.WebhookEvent``.
"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the webhook receiver (models are imported with it)."""
    from stripefleet.site.webhooks import api, models  # noqa: F401

    app.register_blueprint(api.bp)
