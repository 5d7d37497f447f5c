"""The storefront: the pages a customer sees, in French (README, "Selling": "Pages").

Catalogue, product, cart, checkout, success, cancel, login and registration, on the
blueprint ``pages`` (``url_for("pages.success")``...). The top floor of the selling
side: it may import ``shop``, ``accounts``, ``checkout`` and ``launch``; nothing of the
site imports it but ``app`` (``docs/architecture.md``).
"""

from __future__ import annotations

from flask import Flask

from stripefleet.site.storefront import pages


def init_app(app: Flask) -> None:
    """Register the storefront's pages."""
    app.register_blueprint(pages.bp)
