"""The shop domain: the catalogue (``products``), its JSON API, its import command, the
storefront pages in French and the owner's admin area (issue 4).

Public surface: ``services.find_product``, ``services.product_json``,
``models.Product`` (stock counters moved only by ``checkout.reservations``).
"""

from __future__ import annotations

from flask import Flask


def money(cents: int | None, currency: str = "eur") -> str:
    """``1 234,50 €``: an amount in cents shown the French way."""
    if cents is None:
        return ""
    units, rest = divmod(int(cents), 100)
    symbol = {"eur": "€", "usd": "$", "gbp": "£"}.get(currency.lower(), currency.upper())
    return f"{units:,}".replace(",", "\u202f") + f",{rest:02d}\u00a0{symbol}"


def init_app(app: Flask) -> None:
    """Register the catalogue API, the pages and the admin area; French by default."""
    from stripefleet.site.extensions import babel
    from stripefleet.site.shop import admin, api, models, pages  # noqa: F401

    app.config.setdefault("BABEL_DEFAULT_LOCALE", "fr")
    babel.init_app(app)
    app.jinja_env.filters["money"] = money
    app.jinja_env.globals["product_state"] = pages.product_state
    app.register_blueprint(api.bp)
    app.register_blueprint(pages.bp)
    app.register_blueprint(admin.bp)
