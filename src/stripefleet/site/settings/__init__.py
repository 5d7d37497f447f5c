"""The settings domain: the site's Stripe keys and API keys, stored encrypted.

Public surface for the other domains of the site: ``services.get_value`` (a key in
clear, for the Stripe client), ``services.webhook_secrets`` (issue 4's verifier),
``services.stripe_environment``, and ``api_keys.require_api_key`` (a view decorator).
"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the settings domain's endpoints (models are imported with it)."""
    from stripefleet.site.settings import api, models  # noqa: F401

    api.init_app(app)
