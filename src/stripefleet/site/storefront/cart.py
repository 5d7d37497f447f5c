"""The customer's cart, kept in the session cookie: ``{product id: {quantity, days}}``.

Nothing is reserved until checkout; a product that left the catalogue since it was
added is skipped.
"""

from __future__ import annotations

from typing import Any

from flask import session

from stripefleet.site.shop import services
from stripefleet.site.shop.models import EQUIPMENT, Product

#: The session key holding the cart.
CART = "cart"
#: Bounds of a line's quantity and of an equipment's rental days.
MAX_QUANTITY = 1000
MAX_DAYS = 365


def entries() -> dict[str, dict[str, int]]:
    """The cart as stored: product id (text) -> ``{"quantity", "days"}``."""
    cart = session.get(CART)
    return cart if isinstance(cart, dict) else {}


def save(cart: dict[str, dict[str, int]]) -> None:
    """Store the cart in the session."""
    session[CART] = cart


def add(product: Product, quantity: int, days: int) -> None:
    """Add ``quantity`` units of ``product`` (``days`` for equipment, else 1)."""
    cart = entries()
    entry = cart.get(str(product.id), {"quantity": 0, "days": 1})
    entry["quantity"] = min(entry["quantity"] + quantity, MAX_QUANTITY)
    entry["days"] = days if product.type == EQUIPMENT else 1
    cart[str(product.id)] = entry
    save(cart)


def put(product: Product, quantity: int, days: int) -> None:
    """Set the cart's line of ``product`` to ``quantity`` units (``days`` for equipment,
    else 1): putting a cancelled order's items back twice leaves them once."""
    cart = entries()
    cart[str(product.id)] = {"quantity": min(quantity, MAX_QUANTITY),
                             "days": days if product.type == EQUIPMENT else 1}
    save(cart)


def remove(product_id: str) -> None:
    """Take a product out of the cart (nothing when it is not in it)."""
    cart = entries()
    cart.pop(product_id, None)
    save(cart)


def lines() -> list[dict[str, Any]]:
    """``[{"product", "quantity", "days", "amount"}]`` of the products still sold."""
    found = []
    for key, entry in entries().items():
        product = services.find_product(key)
        if product is None:
            continue
        days = int(entry.get("days", 1)) if product.type == EQUIPMENT else 1
        quantity = int(entry.get("quantity", 1))
        found.append({"product": product, "quantity": quantity, "days": days,
                      "amount": product.price * quantity * days})
    return found
