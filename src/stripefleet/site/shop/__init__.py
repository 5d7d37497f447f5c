"""The shop domain: the catalogue (``products``), its JSON API and how pages show it.

Public surface: ``services`` (list, find, import, edit products; ``product_json``),
``models.Product`` (stock counters moved only by ``checkout.reservations``) and
``display`` (``money``, ``product_state``, given to the templates by :func:`init_app`).
The pages that sell it are the storefront's (``stripefleet.site.storefront``), the
owner's editing pages the admin area's (``stripefleet.site.admin``).
"""

from __future__ import annotations

from flask import Flask

from stripefleet.site.shop import api, display, models  # noqa: F401  (models: the table)


def init_app(app: Flask) -> None:
    """Register the catalogue API; give the templates ``money`` and ``product_state``."""
    app.jinja_env.filters["money"] = display.money
    app.jinja_env.globals["product_state"] = display.product_state
    app.register_blueprint(api.bp)
