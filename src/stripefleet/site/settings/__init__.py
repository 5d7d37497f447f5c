"""The settings domain: the site's Stripe keys and API keys, stored encrypted.

Public surface for the other parts of the site: ``services.get_value`` (a key in clear,
for the Stripe client), ``services.webhook_secrets`` (the webhook verifier),
``services.stripe_environment``, and ``api_keys.require_api_key`` (a view decorator).
"""

from __future__ import annotations

from flask import Flask

from stripefleet.site.settings import api, models  # noqa: F401  (models: the tables)


def init_app(app: Flask) -> None:
    """Register the settings API."""
    app.register_blueprint(api.bp)
