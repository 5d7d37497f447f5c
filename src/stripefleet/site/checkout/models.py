"""Tables of the checkout domain: ``orders`` and ``order_lines`` (README, "Selling").

An order is created ``pending`` with its lines and its stock reservation when a
Checkout Session is created; its ``status`` moves one way only (``STATUS_MOVES``) and
its ``reservation`` goes ``held -> sold`` (paid: the rule in ``payment``) or ``held ->
released`` (expired, failed: ``reservations.release``), each move a conditional
``UPDATE`` so that it happens once.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from stripefleet.common.db import UTCDateTime, utcnow
from stripefleet.site.extensions import db

PENDING, PAID, EXPIRED, FAILED, REFUNDED = "pending", "paid", "expired", "failed", "refunded"

#: Allowed status moves (README, "Selling": orders move one way): a late failure never
#: undoes a payment.
STATUS_MOVES: dict[str, tuple[str, ...]] = {
    PAID: (PENDING,),
    EXPIRED: (PENDING,),
    FAILED: (PENDING,),
    REFUNDED: (PAID,),
}

HELD, SOLD, RELEASED = "held", "sold", "released"


class Order(db.Model):  # type: ignore[name-defined,misc]
    """A customer's order behind one Checkout Session.

    Columns:
        reference: 32 hex characters, unique across sites; ``client_reference_id`` and
            ``metadata[order_ref]`` of the session, base of its idempotency key.
        customer_id: None for a guest (``SITE_GUEST_CHECKOUT=1``).
        email, customer_info: the checkout body's ``customer_info`` (JSON text).
        status: ``pending``, ``paid``, ``expired``, ``failed``, ``refunded``.
        reservation: ``held``, ``sold`` (kept once paid), ``released``.
        amount_total, currency: computed by the server (cents; 64-bit, at most
            ``services.MAX_AMOUNT`` by the checkout's check).
        stripe_session_id, checkout_url: the Checkout Session, once created.
        stripe_payment_intent: the PaymentIntent, once an event names it.
        expires_at: the session's (and the reservation's) end, UTC.
        review_reason: why the order needs a person (an amount or currency mismatch,
            a payment after expiry); such an order is not marked paid.
        payment_error: the last failed payment attempt's message.
    """

    __tablename__ = "orders"
    __table_args__ = (sa.Index("ix_orders_status_expires", "status", "expires_at"),)

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    reference: Mapped[str] = mapped_column(sa.String(32), nullable=False, unique=True)
    customer_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("customers.id", ondelete="SET NULL"), nullable=True, index=True)
    email: Mapped[str] = mapped_column(sa.String(254), nullable=False)
    customer_info: Mapped[str] = mapped_column(sa.Text, nullable=False, default="{}")
    status: Mapped[str] = mapped_column(sa.String(16), nullable=False, default=PENDING)
    reservation: Mapped[str] = mapped_column(sa.String(16), nullable=False, default=HELD)
    amount_total: Mapped[int] = mapped_column(sa.BigInteger, nullable=False)
    currency: Mapped[str] = mapped_column(sa.String(3), nullable=False)
    stripe_session_id: Mapped[str | None] = mapped_column(sa.String(255), nullable=True,
                                                          unique=True)
    checkout_url: Mapped[str | None] = mapped_column(sa.Text, nullable=True)
    stripe_payment_intent: Mapped[str | None] = mapped_column(sa.String(255), nullable=True,
                                                              index=True)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, nullable=False)
    review_reason: Mapped[str | None] = mapped_column(sa.String(200), nullable=True)
    payment_error: Mapped[str | None] = mapped_column(sa.String(500), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    paid_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)

    lines: Mapped[list[OrderLine]] = relationship(
        back_populates="order", order_by="OrderLine.id", cascade="all, delete-orphan")


class OrderLine(db.Model):  # type: ignore[name-defined,misc]
    """One item of an order, priced by the server.

    Columns:
        unit_amount: price (product) or daily rate x days (equipment), cents.
        amount: ``unit_amount * quantity``, cents.
        days: rental days (equipment), 1 for a product.
    """

    __tablename__ = "order_lines"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    order_id: Mapped[int] = mapped_column(sa.ForeignKey("orders.id", ondelete="CASCADE"),
                                          nullable=False, index=True)
    product_id: Mapped[int] = mapped_column(sa.ForeignKey("products.id"), nullable=False)
    product_type: Mapped[str] = mapped_column(sa.String(16), nullable=False)
    slug: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    name: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    quantity: Mapped[int] = mapped_column(sa.Integer, nullable=False)
    days: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=1)
    unit_amount: Mapped[int] = mapped_column(sa.BigInteger, nullable=False)
    amount: Mapped[int] = mapped_column(sa.BigInteger, nullable=False)

    order: Mapped[Order] = relationship(back_populates="lines")
