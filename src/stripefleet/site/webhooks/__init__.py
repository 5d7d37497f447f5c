"""The webhooks domain: the Stripe event receiver and its inbox (README, "Selling":
Webhooks).

Public surface: ``services.list_events`` (the admin area), ``models.WebhookEvent``.
"""

from __future__ import annotations

from flask import Flask

from stripefleet.site.checkout.session_owners import register_session_owner
from stripefleet.site.launch import services as launch
from stripefleet.site.webhooks import api, models  # noqa: F401  (the inbox's table)


def init_app(app: Flask) -> None:
    """Register the webhook receiver, and the launch requests as an owner of Checkout
    Sessions (``checkout.session_owners``): their events go to ``launch.services``."""
    app.register_blueprint(api.bp)
    register_session_owner(app, "launch", launch.owns_session, launch.handle_session_event)
