"""The functional check of the site's Stripe keys: ``POST /api/test-stripe``.

The troubleshooting guide asks that a key be "not only saved but also functional": this
part calls Stripe (``GET /v1/account``) with the stored secret key, stores the outcome
through the settings domain (``settings.services.record_stripe_check``, shown by
``GET /api/health/stripe``) and reads the webhook inbox for the last verified event.
It sits above ``settings`` and ``webhooks`` (``docs/architecture.md``).
"""

from __future__ import annotations

from flask import Flask

from stripefleet.site.stripe_check import api


def init_app(app: Flask) -> None:
    """Register ``POST /api/test-stripe``."""
    app.register_blueprint(api.bp)
