"""How the pages show the catalogue: amounts the French way, a product's buy state.

``shop.init_app`` gives both to the templates: ``{{ cents|money(currency) }}`` and
``product_state(product)``.
"""

from __future__ import annotations

from stripefleet.site.shop.models import Product

#: Currency symbols the pages know; any other currency shows its ISO code.
SYMBOLS = {"eur": "€", "usd": "$", "gbp": "£"}


def money(cents: int | None, currency: str = "eur") -> str:
    """``1 234,50 €``: an amount in cents shown the French way ("" for None)."""
    if cents is None:
        return ""
    units, rest = divmod(int(cents), 100)
    symbol = SYMBOLS.get(currency.lower(), currency.upper())
    return f"{units:,}".replace(",", "\u202f") + f",{rest:02d}\u00a0{symbol}"


def product_state(product: Product) -> str:
    """``available``, ``reserved`` (every unit held by pending orders) or ``sold``.

    The same rule as the pages' script, which reads ``soldOut`` and ``inStock`` from
    ``GET /api/products``.
    """
    if product.sold_out:
        return "sold"
    return "available" if product.in_stock else "reserved"
