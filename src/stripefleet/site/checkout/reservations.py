"""Stock reservations: taken, converted and released by conditional UPDATEs only.

DESIGN.md section 5: a reservation is taken when the Checkout Session is created, in one
``UPDATE products SET reserved = reserved + :q WHERE id = :id AND (stock IS NULL OR
stock - reserved - sold >= :q)`` per product (never read-then-write; PostgreSQL
re-checks the condition on the row's newest version after a concurrent update, SQLite
serialises writers with ``BEGIN IMMEDIATE``). The order's ``reservation`` column moves
``held -> sold | released`` by a conditional UPDATE first, so each order's stock is
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
from stripefleet.site.checkout.models import HELD, RELEASED, SOLD, Order, OrderLine
from stripefleet.site.extensions import db
from stripefleet.site.shop.models import PRODUCT, Product

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


def order_quantities(order_id: int) -> list[tuple[int, int, str]]:
    """``(product_id, units, product_type)`` of an order, summed per product, in id order
    (one query; the lock order of :func:`_quantities`)."""
    lines = OrderLine.__table__
    rows = db.session.execute(
        sa.select(lines.c.product_id, sa.func.sum(lines.c.quantity),
                  sa.func.min(lines.c.product_type))
        .where(lines.c.order_id == order_id).group_by(lines.c.product_id)
        .order_by(lines.c.product_id)).all()
    return [(int(r[0]), int(r[1]), str(r[2])) for r in rows]


def convert_units(order_id: int) -> None:
    """Move an order's units from ``reserved`` to ``sold`` (equipment: back from
    ``reserved``). The caller has just moved the order's reservation ``held -> sold``."""
    for product_id, units, kind in order_quantities(order_id):
        sold = _products.c.sold + units if kind == PRODUCT else _products.c.sold
        db.session.execute(sa.update(_products).where(_products.c.id == product_id)
                           .values(reserved=_products.c.reserved - units, sold=sold,
                                   updated_at=utcnow()))


def _quantities(lines: Iterable[OrderLine]) -> list[tuple[int, int]]:
    """``(product_id, units)`` summed per product, in id order (a fixed lock order
    keeps two checkouts of the same products from deadlocking on PostgreSQL)."""
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


def _move(order_id: int, new_state: str) -> bool:
    """``held -> new_state`` for the order, once; True when this call made the move."""
    result = db.session.execute(
        sa.update(_orders).where(_orders.c.id == order_id, _orders.c.reservation == HELD)
        .values(reservation=new_state, updated_at=utcnow())
    )
    return rowcount(result) == 1


def release(order: Order) -> bool:
    """Give the order's reserved units back, once (expired, failed). Flushes.

    Returns:
        True when this call released them; False when already sold or released.
    """
    if not _move(order.id, RELEASED):
        return False
    for product_id, units in _quantities(order.lines):
        db.session.execute(sa.update(_products).where(_products.c.id == product_id)
                           .values(reserved=_products.c.reserved - units, updated_at=utcnow()))
    log.info("order %s: reservation released", order.id)
    return True


def convert(order: Order) -> bool:
    """Keep the order's reservation as a sale, once (paid). Flushes.

    A product's units move from ``reserved`` to ``sold``; rented equipment's units go
    back to ``reserved - units`` only (rentals are not kept on a calendar here).

    Returns:
        True when this call converted them; False when already sold or released.
    """
    if not _move(order.id, SOLD):
        return False
    convert_units(order.id)
    log.info("order %s: reservation kept as sold", order.id)
    return True

