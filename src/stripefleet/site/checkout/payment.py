"""Paying an order: the one rule, built once in SQLAlchemy Core.

The paid transition (README, "Selling"; the webhook and stock notes): an order whose
status is ``pending`` and whose reservation is ``held`` becomes ``paid`` with its
reservation ``sold`` (``paid_at`` set, its PaymentIntent recorded when not known yet),
and each of its products' reserved units become sold (rented equipment's units only
leave ``reserved``: rentals are not kept on a calendar). Every move is a conditional
UPDATE on the states ``FROM_STATUS``/``FROM_RESERVATION``, so the transition happens
once, whichever delivery gets there first; a second attempt matches no row and changes
nothing.

The statements are built here only, and run in one of two ways:

- :func:`pay`, in the caller's session (flushes): the order's UPDATE, then one UPDATE
  per product in product id order, the lock order of ``reservations.reserve``, so that
  two payments sharing products cannot deadlock on PostgreSQL. The webhooks' general
  path, through :func:`settle`.
- :func:`pay_in_one_statement`: the same UPDATEs as data-modifying CTEs of a single
  PostgreSQL statement, for an order of one product (one product row: no lock order to
  keep), with the caller's record of the payment (the webhook inbox row) inserted by
  the same statement. The webhooks' fast path (``webhooks.fast``).

:func:`settle` decides what a payment Stripe reports does to an order: paid, flagged
for review (another amount or currency, an order already expired or failed), or
nothing (already paid).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql import ColumnElement
from sqlalchemy.sql.dml import ReturningInsert, ReturningUpdate, Update

from stripefleet.common.db import utcnow
from stripefleet.site.checkout.models import (
    EXPIRED,
    FAILED,
    HELD,
    PAID,
    PENDING,
    REFUNDED,
    SOLD,
    STATUS_MOVES,
    Order,
    OrderLine,
)
from stripefleet.site.extensions import db
from stripefleet.site.shop.models import PRODUCT, Product

log = logging.getLogger(__name__)
_orders = Order.__table__
_lines = OrderLine.__table__
_products = Product.__table__

#: The paid transition: the order's status and reservation, before and after.
FROM_STATUS, TO_STATUS = PENDING, PAID
FROM_RESERVATION, TO_RESERVATION = HELD, SOLD
assert FROM_STATUS in STATUS_MOVES[TO_STATUS]

#: Builds the caller's record of a payment from the ``paid`` CTE (its ``id`` column: the
#: paid order's id): an INSERT ... SELECT ... FROM paid with one RETURNING column.
Record = Callable[[sa.CTE], ReturningInsert[Any]]

Value = Any  # a Python value, a bindparam() or a column: what a statement is built from


def paid_order(*where: ColumnElement[bool], now: Value,
               payment_intent: Value = None) -> ReturningUpdate[int]:
    """``UPDATE orders SET status = paid, reservation = sold, paid_at, updated_at,
    review_reason = NULL, stripe_payment_intent = COALESCE(stripe_payment_intent,
    :payment_intent) WHERE status = pending AND reservation = held AND <where> RETURNING
    id``: a payment of the right amount clears the review reason an earlier mismatched
    event left."""
    return (sa.update(_orders)
            .where(_orders.c.status == FROM_STATUS, _orders.c.reservation == FROM_RESERVATION,
                   *where)
            .values(status=TO_STATUS, reservation=TO_RESERVATION, paid_at=now, updated_at=now,
                    review_reason=sa.null(),
                    stripe_payment_intent=sa.func.coalesce(_orders.c.stripe_payment_intent,
                                                           payment_intent))
            .returning(_orders.c.id))


def order_units(order_id: Value) -> sa.Select[int, int, str]:
    """``(product_id, units, kind)`` of an order's lines, summed per product."""
    return (sa.select(_lines.c.product_id, sa.func.sum(_lines.c.quantity).label("units"),
                      sa.func.min(_lines.c.product_type).label("kind"))
            .where(_lines.c.order_id == order_id).group_by(_lines.c.product_id))


def sold_units(product_id: Value, units: Value, kind: Value, now: Value) -> Update:
    """``UPDATE products SET reserved = reserved - :units, sold = sold + (:units when
    :kind is a product, else 0), updated_at WHERE id = :product_id``."""
    if not isinstance(kind, ColumnElement):
        kind = sa.literal(kind, sa.String)
    return (sa.update(_products).where(_products.c.id == product_id)
            .values(reserved=_products.c.reserved - units,
                    sold=_products.c.sold + sa.case((kind == PRODUCT, units), else_=0),
                    updated_at=now))


def one_product() -> ColumnElement[bool]:
    """The order (in an UPDATE of ``orders``) has lines of a single product."""
    return sa.select(sa.func.count(sa.distinct(_lines.c.product_id))).where(
        _lines.c.order_id == _orders.c.id).scalar_subquery() == 1


def pay(*where: ColumnElement[bool], payment_intent: str | None = None) -> int | None:
    """The paid transition for the order matching ``where``, in the session (flushes).

    Returns:
        The order's id when this call paid it; None when no order matching ``where``
        was payable (none, or already moved).
    """
    now = utcnow()
    order_id = db.session.execute(
        paid_order(*where, now=now, payment_intent=payment_intent)).scalar_one_or_none()
    if order_id is None:
        return None
    units = db.session.execute(order_units(order_id).order_by(_lines.c.product_id)).all()
    for product_id, count, kind in units:
        db.session.execute(sold_units(product_id, count, kind, now))
    log.info("order %s -> paid, reservation kept as sold", order_id)
    return int(order_id)


def pay_in_one_statement(*where: ColumnElement[bool], now: Value, payment_intent: Value,
                         record: Record) -> sa.Select[int | None, int | None]:
    """The paid transition and its record as one PostgreSQL statement (data-modifying
    CTEs ``paid``, ``units``, ``moved``, ``recorded``), for an order of one product.

    Atomic by itself, so it may run as its own transaction (autocommit). PostgreSQL only:
    SQLite has no UPDATE in a CTE.

    Returns:
        ``SELECT order_id, record_id``: the paid order's id, NULL when no order matching
        ``where`` was payable; the record's RETURNING value, NULL when ``record``
        inserted nothing.
    """
    paid = paid_order(*where, one_product(), now=now, payment_intent=payment_intent).cte("paid")
    units = order_units(paid.c.id).cte("units")
    moved = (sold_units(units.c.product_id, units.c.units, units.c.kind, now)
             .returning(_products.c.id).cte("moved"))
    recorded = record(paid).cte("recorded")
    return sa.select(sa.select(paid.c.id).scalar_subquery().label("order_id"),
                     sa.select(*recorded.c).scalar_subquery().label("record_id")).add_cte(moved)


def settle(order: Order, amount: int | None, currency: str | None) -> str:
    """What a payment Stripe reports (``amount`` in cents, ``currency``) does to
    ``order``, once; the note of it (flushes).

    - already ``paid`` or ``refunded``: nothing;
    - an amount or currency unlike the order's: not paid, ``review_reason`` set;
    - ``expired`` or ``failed``: not paid, ``review_reason`` ``paid_after_<status>``
      (its units were given back);
    - ``pending``: the paid transition (:func:`pay`).
    """
    if order.status in (PAID, REFUNDED):
        return f"order already {order.status}"
    if amount != order.amount_total or (currency or "").lower() != order.currency:
        order.review_reason = (f"amount_mismatch: event {amount} {currency}, order "
                               f"{order.amount_total} {order.currency}")[:200]
        return "amount or currency mismatch: order flagged for review"
    if order.status in (EXPIRED, FAILED):
        order.review_reason = f"paid_after_{order.status}"
        return f"payment for an order already {order.status}: flagged"
    db.session.flush()  # the caller's changes to the order first: the UPDATE is Core
    if pay(_orders.c.id == order.id) is None:
        return f"order already {order.status}"
    db.session.refresh(order)
    return "order paid"

