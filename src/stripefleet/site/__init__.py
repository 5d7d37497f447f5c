"""The template site: receives Stripe keys from the fleet, sells, takes webhooks.

``create_app`` builds the Flask app (see ``app``); ``stripefleet site serve`` runs one
(README, "A site" and "Selling"). Domains: ``settings`` (the settings API), ``accounts``,
``shop``, ``checkout``, ``webhooks``, ``launch``; above them the pages (``storefront``,
``admin``), then ``app``, ``serve`` and ``cli``. Shared pieces: ``config`` (the only
reader of the environment), ``extensions`` (db, migrate, limiter, ...,
``transactional``), ``db`` (migrations), ``errors`` (JSON error bodies). The floors are
in ``docs/architecture.md``.
"""

from __future__ import annotations

from stripefleet.site.app import create_app

__all__ = ["create_app"]
