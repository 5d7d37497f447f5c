"""The owner's admin area (README, "Selling": "Pages"): products, orders, webhook events.

On the blueprint ``admin`` under ``/admin/``. A top floor like the storefront: it may
import ``shop``, ``accounts``, ``checkout`` and ``webhooks``; nothing of the site
imports it but ``app`` (``docs/architecture.md``).
"""

from __future__ import annotations

from flask import Flask

from stripefleet.site.admin import pages


def init_app(app: Flask) -> None:
    """Register the admin area's pages."""
    app.register_blueprint(pages.bp)
