"""The template site: receives Stripe keys from the fleet, sells, takes webhooks.

``create_app`` builds the Flask app (see ``app``); ``stripefleet site serve`` runs one.
Domains: ``settings`` (the settings API, DESIGN.md section 3). Shared pieces:
``config`` (the only reader of the environment), ``extensions`` (db, migrate,
limiter), ``db`` (UTC timestamps, migrations), ``errors`` (JSON error bodies).
"""

from __future__ import annotations

from stripefleet.site.app import create_app

__all__ = ["create_app"]
