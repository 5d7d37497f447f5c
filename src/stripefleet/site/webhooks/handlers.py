"""What each Stripe event does to an order (README, "Selling": the table of events).

Each handler takes the event's ``data.object`` and returns ``(status, note, order_id)``;
status ``processed`` or ``ignored`` (an event for a session this site did not create,
or one it has nothing to do for). Every effect is a one-way conditional move (the
payment rule ``checkout.payment``, ``checkout.services.move_status``,
``checkout.reservations``), so a handler run twice, or events in any order, reach the
same final state. The Checkout Sessions of another owner (the SaaS launch requests)
go to that owner (``checkout.session_owners``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from flask import current_app

from stripefleet.site.checkout import payment, services
from stripefleet.site.checkout.models import PENDING, REFUNDED, Order
from stripefleet.site.checkout.session_owners import Outcome, owner_of
from stripefleet.site.checkout.stripe_gateway import retrieve_payment_intent
from stripefleet.site.extensions import db
from stripefleet.site.webhooks.models import IGNORED, PROCESSED


def _ours(metadata: dict[str, Any] | None) -> str | None:
    """The order reference of metadata this site wrote, else None (another site's)."""
    metadata = metadata or {}
    if metadata.get("site") != current_app.config["SITE_NAME"]:
        return None
    ref = metadata.get("order_ref")
    return ref if isinstance(ref, str) else None


def _by_reference(ref: str | None) -> Order | None:
    if ref is None:
        return None
    return db.session.scalar(sa.select(Order).where(Order.reference == ref))


def _session_order(session: dict[str, Any]) -> Order | None:
    """The order of a Checkout Session: by session id, else by our metadata (a session
    whose id was never recorded because the site stopped right after creating it)."""
    order = services.order_by_session(session["id"])
    if order is None:
        order = _by_reference(_ours(session.get("metadata")))
        if order is not None and order.stripe_session_id not in (None, session["id"]):
            return None
        if order is not None and order.stripe_session_id is None:
            order.stripe_session_id = session["id"]
    return order


def _intent_order(intent_id: str | None, metadata: dict[str, Any] | None) -> Order | None:
    order = _by_reference(_ours(metadata))
    if order is None and intent_id:
        order = db.session.scalar(sa.select(Order).where(Order.stripe_payment_intent == intent_id))
    if order is not None and intent_id and order.stripe_payment_intent is None:
        order.stripe_payment_intent = intent_id
    return order


def mark_paid(order: Order, amount: int | None, currency: str | None) -> Outcome:
    """A payment Stripe reports: ``checkout.payment.settle`` (paid once, or flagged for
    review when the amount or currency differs from the order's)."""
    return PROCESSED, payment.settle(order, amount, currency), order.id


def session_completed(session: dict[str, Any]) -> Outcome:
    """Paid: the order is paid. Unpaid (async methods): wait for the async events."""
    order = _session_order(session)
    if order is None:
        return IGNORED, "session not created by this site", None
    if session.get("payment_intent") and order.stripe_payment_intent is None:
        order.stripe_payment_intent = session["payment_intent"]
    if session.get("payment_status") in ("paid", "no_payment_required"):
        return mark_paid(order, session.get("amount_total"), session.get("currency"))
    return PROCESSED, "completed unpaid: waiting for the async payment", order.id


def session_async_succeeded(session: dict[str, Any]) -> Outcome:
    """The delayed payment succeeded: the order is paid."""
    order = _session_order(session)
    if order is None:
        return IGNORED, "session not created by this site", None
    return mark_paid(order, session.get("amount_total"), session.get("currency"))


def session_async_failed(session: dict[str, Any]) -> Outcome:
    """The delayed payment failed: a pending order fails and its stock comes back."""
    order = _session_order(session)
    if order is None:
        return IGNORED, "session not created by this site", None
    services.fail_order(order, "async payment failed")
    return PROCESSED, f"order {order.status}", order.id


def session_expired(session: dict[str, Any]) -> Outcome:
    """The session expired: a pending order expires and its stock comes back."""
    order = _session_order(session)
    if order is None:
        return IGNORED, "session not created by this site", None
    services.expire_order(order)
    return PROCESSED, f"order {order.status}", order.id


def intent_succeeded(intent: dict[str, Any]) -> Outcome:
    """Paid (possibly before ``checkout.session.completed`` arrives): no second effect."""
    order = _intent_order(intent.get("id"), intent.get("metadata"))
    if order is None:
        return IGNORED, "PaymentIntent not of this site", None
    return mark_paid(order, intent.get("amount_received") or intent.get("amount"),
                     intent.get("currency"))


def intent_failed(intent: dict[str, Any]) -> Outcome:
    """A declined attempt: recorded on the order; no status or stock change."""
    order = _intent_order(intent.get("id"), intent.get("metadata"))
    if order is None:
        return IGNORED, "PaymentIntent not of this site", None
    error = intent.get("last_payment_error") or {}
    order.payment_error = str(error.get("message") or error.get("code") or "payment failed")[:500]
    return PROCESSED, "payment attempt failed (recorded)", order.id


def charge_refunded(charge: dict[str, Any]) -> Outcome:
    """A full refund: the order becomes ``refunded`` (paid first if that event is late)."""
    intent_id = charge.get("payment_intent")
    order = _intent_order(intent_id, charge.get("metadata"))
    if order is None and intent_id:
        intent = retrieve_payment_intent(intent_id)
        order = _intent_order(intent_id, intent.get("metadata") if intent else None)
    if order is None:
        return IGNORED, "charge not of this site", None
    if not charge.get("refunded"):
        return PROCESSED, f"partial refund of {charge.get('amount_refunded')}", order.id
    if order.status == PENDING:
        mark_paid(order, charge.get("amount"), charge.get("currency"))
    services.move_status(order, REFUNDED)
    return PROCESSED, f"order {order.status}", order.id


HANDLERS: dict[str, Callable[[dict[str, Any]], Outcome]] = {
    "checkout.session.completed": session_completed,
    "checkout.session.async_payment_succeeded": session_async_succeeded,
    "checkout.session.async_payment_failed": session_async_failed,
    "checkout.session.expired": session_expired,
    "payment_intent.succeeded": intent_succeeded,
    "payment_intent.payment_failed": intent_failed,
    "charge.refunded": charge_refunded,
}


def handle(event: dict[str, Any]) -> Outcome:
    """Run the event's handler: ``(status, note, order_id)``."""
    kind = event.get("type", "")
    obj = (event.get("data") or {}).get("object") or {}
    if kind.startswith("checkout.session."):
        owner = owner_of(obj.get("id", ""))
        if owner is not None:
            return owner.handle(kind, obj)
    handler = HANDLERS.get(kind)
    if handler is None:
        return IGNORED, f"unhandled event type {kind}", None
    return handler(obj)
