"""Stock reservations: taken and released by conditional UPDATEs only.

README, "Selling" (the webhook and stock notes): a reservation is taken when the
Checkout Session is created, in one ``UPDATE products SET reserved = reserved + :q WHERE
id = :id AND (stock IS NULL OR stock - reserved - sold >= :q)`` per product (never
read-then-write; PostgreSQL re-checks the condition on the row's newest version after a
concurrent update, SQLite serialises writers with ``BEGIN IMMEDIATE``). The order's
``reservation`` column moves ``held -> released`` (here) or ``held -> sold`` (the
payment rule, ``payment``) by a conditional UPDATE first, so each order's stock is
converted or given back exactly once, whichever of the webhook, the sweep or a failure
gets there first. A CHECK constraint on ``products`` backs all of this up.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable
from typing import Any, cast

import sqlalchemy as sa

from stripefleet.common.db import utcnow
from stripefleet.site.checkout.models import HELD, RELEASED, Order, OrderLine
from stripefleet.site.extensions import db
from stripefleet.site.shop.models import Product

log = logging.getLogger(__name__)
_products = Product.__table__
_orders = Order.__table__


def rowcount(result: Any) -> int:
    """Rows an UPDATE matched (``CursorResult.rowcount``)."""
    return int(cast(sa.CursorResult[Any], result).rowcount)


class OutOfStock(Exception):
    """Not enough stock; ``product_ids`` are the products short of units."""

    def __init__(self, product_ids: list[int]) -> None:
        super().__init__(f"not enough stock for product(s) {product_ids}")
        self.product_ids = product_ids


def _quantities(lines: Iterable[OrderLine]) -> list[tuple[int, int]]:
    """``(product_id, units)`` summed per product, in id order (a fixed lock order
    keeps two checkouts of the same products from deadlocking on PostgreSQL; the payment
    rule keeps it too)."""
    totals: Counter[int] = Counter()
    for line in lines:
        totals[line.product_id] += line.quantity
    return sorted(totals.items())


def reserve(lines: Iterable[OrderLine]) -> None:
    """Reserve the lines' units, all or none (flushes inside the caller's transaction).

    Raises:
        OutOfStock: some product lacks units; the caller must roll back the
            transaction (reservations already taken in it are then undone).
    """
    short = []
    for product_id, units in _quantities(lines):
        result = db.session.execute(
            sa.update(_products)
            .where(_products.c.id == product_id, _products.c.active.is_(True),
                   sa.or_(_products.c.stock.is_(None),
                          _products.c.stock - _products.c.reserved - _products.c.sold >= units))
            .values(reserved=_products.c.reserved + units, updated_at=utcnow())
        )
        if rowcount(result) != 1:
            short.append(product_id)
    if short:
        raise OutOfStock(short)


def _release_order(order_id: int) -> bool:
    """``held -> released`` for the order, once; True when this call made the move."""
    result = db.session.execute(
        sa.update(_orders).where(_orders.c.id == order_id, _orders.c.reservation == HELD)
        .values(reservation=RELEASED, updated_at=utcnow())
    )
    return rowcount(result) == 1


def release(order: Order) -> bool:
    """Give the order's reserved units back, once (expired, failed). Flushes.

    Returns:
        True when this call released them; False when already sold or released.
    """
    if not _release_order(order.id):
        return False
    for product_id, units in _quantities(order.lines):
        db.session.execute(sa.update(_products).where(_products.c.id == product_id)
                           .values(reserved=_products.c.reserved - units, updated_at=utcnow()))
    log.info("order %s: reservation released", order.id)
    return True

