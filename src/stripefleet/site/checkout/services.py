"""Orders: open one with its lines and reservation, attach its Checkout Session, fail,
expire, and read it back (README, "Selling": Checkout).

Services only flush; their callers commit (``flow`` for a checkout, with why it commits
twice; ``webhooks.services.receive``; the ``orders sweep`` command). Paying an order is
``payment``'s rule.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import secrets
from typing import Any

import sqlalchemy as sa
import stripe
from flask import current_app

from stripefleet.common.db import iso_utc, utcnow
from stripefleet.site.accounts.models import Customer
from stripefleet.site.accounts.services import EMAIL
from stripefleet.site.checkout import payment, reservations, stripe_gateway
from stripefleet.site.checkout.models import (
    EXPIRED,
    FAILED,
    HELD,
    PENDING,
    STATUS_MOVES,
    Order,
    OrderLine,
)
from stripefleet.site.checkout.validation import CheckoutInvalid, CheckoutRequest
from stripefleet.site.extensions import db
from stripefleet.site.shop.models import EQUIPMENT
from stripefleet.site.shop.services import find_product

log = logging.getLogger(__name__)
_orders = Order.__table__

#: The largest amount Stripe charges, in the smallest currency unit: eight digits
#: (https://docs.stripe.com/currencies#minimum-and-maximum-charge-amounts).
MAX_AMOUNT = 99_999_999


def price_lines(request: CheckoutRequest) -> list[OrderLine]:
    """The order's lines, priced from the catalogue (never from the client).

    Product: price x quantity. Equipment: daily rate x quantity x days (README, "Selling").

    Raises:
        CheckoutInvalid: ``items[i].id`` unknown or inactive (``product_not_found``),
            ``items[i].type`` not the product's type, mixed currencies, or a total over
            ``MAX_AMOUNT`` (``amount_too_large``, field ``items``).
    """
    lines = []
    currencies = set()
    for i, item in enumerate(request.items):
        product = find_product(item.key)
        if product is None:
            raise CheckoutInvalid(f"items[{i}].id", f"no active product {item.key[:64]!r}",
                                  "product_not_found")
        if product.type != item.type:
            raise CheckoutInvalid(f"items[{i}].type", f"{product.slug} is a {product.type}")
        currencies.add(product.currency)
        days = item.days if product.type == EQUIPMENT else 1
        unit_amount = product.price * days
        lines.append(OrderLine(product_id=product.id, product_type=product.type,
                               slug=product.slug, name=product.name, quantity=item.quantity,
                               days=days, unit_amount=unit_amount,
                               amount=unit_amount * item.quantity))
    if len(currencies) > 1:
        raise CheckoutInvalid("items", "all items must be in the same currency")
    total = sum(line.amount for line in lines)
    if total > MAX_AMOUNT:
        raise CheckoutInvalid("items", f"make a total of {total}, over Stripe's largest "
                              f"amount ({MAX_AMOUNT} in the smallest currency unit)",
                              "amount_too_large")
    return lines


def open_order(request: CheckoutRequest, customer: Customer | None) -> Order:
    """A ``pending`` order with its lines and its stock reserved (flushes).

    ``expires_at`` = now + ``SITE_RESERVATION_MINUTES``: the session's and the
    reservation's end.

    Raises:
        CheckoutInvalid: see :func:`price_lines`; ``customer_info.email`` missing for a
            guest or malformed.
        reservations.OutOfStock: not enough units; the caller rolls back.
    """
    lines = price_lines(request)
    email = request.customer_info.get("email") or (customer.email if customer else "")
    if not EMAIL.fullmatch(email):
        raise CheckoutInvalid("customer_info.email", "must be the customer's e-mail address")
    first = find_product(lines[0].product_id)
    assert first is not None
    minutes = int(current_app.config["SITE_RESERVATION_MINUTES"])
    order = Order(reference=secrets.token_hex(16), customer_id=customer.id if customer else None,
                  email=email.lower(), customer_info=json.dumps(request.customer_info),
                  status=PENDING, reservation=HELD,
                  amount_total=sum(line.amount for line in lines), currency=first.currency,
                  expires_at=session_end(minutes), created_at=utcnow(),
                  updated_at=utcnow(), lines=lines)
    db.session.add(order)
    reservations.reserve(lines)
    db.session.flush()
    log.info("order %s opened: %d line(s), %d %s, reserved until %s", order.id, len(lines),
             order.amount_total, order.currency, iso_utc(order.expires_at))
    return order


#: Added to a session's end over the reservation's minutes: Stripe wants ``expires_at``
#: at least 30 minutes after it receives the request, by its own clock
#: (https://docs.stripe.com/api/checkout/sessions/create#create_checkout_session-expires_at),
#: so the margin covers the request's latency and a site clock up to 5 minutes behind.
EXPIRES_MARGIN = dt.timedelta(minutes=5)
#: Added again when Stripe still refuses ``expires_at`` (a clock further behind): the
#: one retry (``flow.run_checkout``).
EXPIRES_RETRY = dt.timedelta(minutes=15)


def session_end(minutes: int, extra: dt.timedelta = dt.timedelta(0)) -> dt.datetime:
    """Now + ``minutes`` + ``EXPIRES_MARGIN`` (+ ``extra``), whole seconds, under 24
    hours (Stripe's longest session)."""
    seconds = min(minutes * 60 + (EXPIRES_MARGIN + extra).total_seconds(), 24 * 3600 - 60)
    return (utcnow() + dt.timedelta(seconds=seconds)).replace(microsecond=0)


def later_end(params: dict[str, Any]) -> dict[str, Any]:
    """``params`` with a later ``expires_at`` (``EXPIRES_RETRY`` more), for the one retry
    after Stripe refused the first; the order's own end moves when the session is
    attached (:func:`attach_session`)."""
    minutes = int(current_app.config["SITE_RESERVATION_MINUTES"])
    return {**params, "expires_at": int(session_end(minutes, EXPIRES_RETRY).timestamp())}


def session_params(order: Order, *, success_url: str, cancel_url: str) -> dict[str, Any]:
    """The ``POST /v1/checkout/sessions`` parameters of an order (``price_data`` items,
    ``metadata`` {order_id, order_ref, site}, ``client_reference_id``, ``customer_email``,
    ``expires_at``)."""
    metadata = {"order_id": str(order.id), "order_ref": order.reference,
                "site": current_app.config["SITE_NAME"]}
    items = []
    for line in order.lines:
        name = line.name if line.product_type != EQUIPMENT else f"{line.name} ({line.days} j)"
        items.append({"quantity": line.quantity, "price_data": {
            "currency": order.currency, "unit_amount": line.unit_amount,
            "product_data": {"name": name}}})
    return {
        "mode": "payment", "line_items": items, "success_url": success_url,
        "cancel_url": cancel_url, "client_reference_id": order.reference,
        "customer_email": order.email, "metadata": metadata,
        "payment_intent_data": {"metadata": metadata},
        "expires_at": int(order.expires_at.timestamp()),
    }


def idempotency_key(order: Order) -> str:
    """The session's idempotency key: unique per order, across every site."""
    return f"checkout-order-{order.reference}"


def attach_session(order: Order, session: dict[str, Any]) -> None:
    """Record the Checkout Session of an order, and its end: Stripe's ``expires_at``
    (flushes)."""
    order.stripe_session_id = session["id"]
    if isinstance(session.get("expires_at"), int):
        order.expires_at = dt.datetime.fromtimestamp(session["expires_at"], dt.UTC)
    order.checkout_url = session["url"]
    order.updated_at = utcnow()
    db.session.flush()


def move_status(order: Order, new: str, **values: Any) -> bool:
    """Move the order's status one way (``STATUS_MOVES``), once; flushes.

    Returns:
        True when this call moved it; False when the order was not in a state it may
        leave for ``new`` (already paid, expired, ...).
    """
    result = db.session.execute(
        sa.update(_orders)
        .where(_orders.c.id == order.id, _orders.c.status.in_(STATUS_MOVES[new]))
        .values(status=new, updated_at=utcnow(), **values))
    if reservations.rowcount(result) == 1:
        db.session.refresh(order)
        log.info("order %s -> %s", order.id, new)
        return True
    return False


def fail_order(order: Order, reason: str) -> None:
    """Mark a pending order ``failed`` and release its reservation (flushes)."""
    if move_status(order, FAILED, payment_error=reason[:500]):
        reservations.release(order)


def expire_order(order: Order) -> bool:
    """Mark a pending order ``expired`` and release its reservation (flushes)."""
    if move_status(order, EXPIRED):
        reservations.release(order)
        return True
    return False


def settle_with_stripe(order: Order, state: stripe_gateway.SessionState) -> str:
    """Apply what Stripe says of the order's Checkout Session, settled by
    ``stripe_gateway.expire_session`` before any release (flushes).

    - ``expired``: nobody can pay it any more: the order expires, its units come back;
    - ``complete`` and paid: the payment is recorded (``payment.settle``, the one
      payment rule): a payment made just before the end, whose webhook is late, is kept
      and its units are never sold again;
    - anything else (``complete`` but unpaid, an async method still paying; ``open``):
      nothing changes, the reservation stays held.

    Returns:
        A note of what happened (for logs).
    """
    if state.status == "expired":
        return "expired, stock released" if expire_order(order) else f"order {order.status}"
    if state.status == "complete" and state.payment_status in ("paid", "no_payment_required"):
        if state.payment_intent and order.stripe_payment_intent is None:
            order.stripe_payment_intent = state.payment_intent
        return payment.settle(order, state.amount_total, state.currency)
    return f"session {state.status} ({state.payment_status}): reservation kept"


#: What the sweep learnt of an overdue order's session: None when it has none.
Answers = dict[int, "stripe_gateway.SessionState | None"]


def overdue_orders(*, grace: dt.timedelta = dt.timedelta(minutes=2),
                   limit: int = 100) -> list[tuple[int, str | None]]:
    """``(order id, session id or None)`` of pending orders past ``expires_at`` +
    ``grace``, the oldest first (reads only)."""
    rows = db.session.execute(
        sa.select(Order.id, Order.stripe_session_id)
        .where(Order.status == PENDING, Order.expires_at < utcnow() - grace)
        .order_by(Order.expires_at).limit(limit)).all()
    return [(int(order_id), session_id) for order_id, session_id in rows]


def ask_stripe(due: list[tuple[int, str | None]], *,
               stripe_client: stripe.StripeClient | None = None) -> Answers:
    """Settle each overdue order's Checkout Session with Stripe
    (``stripe_gateway.expire_session``); no database access, so that the caller holds no
    transaction during the calls.

    Args:
        stripe_client: ``stripe_gateway.client()``, taken beforehand by a caller that
            keeps the database out of the calls (reading the key opens a transaction);
            read here when None.

    Returns:
        ``{order id: state}`` for the orders Stripe answered for, ``{order id: None}``
        for those without a session; an order Stripe could not answer for (unreachable,
        no key, key refused) is left out: nothing of it may be released.
    """
    if stripe_client is None:
        try:
            stripe_client = stripe_gateway.client()
        except stripe_gateway.StripeNotConfigured:
            stripe_client = None
    answers: Answers = {}
    for order_id, session_id in due:
        if session_id is None:
            answers[order_id] = None
        elif stripe_client is None:
            log.warning("sweep: order %s is overdue but the site has no Stripe key: kept",
                        order_id)
        else:
            try:
                answers[order_id] = stripe_gateway.expire_session(
                    session_id, stripe_client=stripe_client)
            except stripe_gateway.StripeFailure as exc:
                log.warning("sweep: order %s kept, Stripe could not settle its session: %s",
                            order_id, exc.code)
    return answers


def apply_answers(answers: Answers) -> int:
    """Apply :func:`ask_stripe`'s answers (flushes): :func:`settle_with_stripe` for each
    order still pending; an order without a session is expired (its customer never got
    a payment page).

    Returns:
        How many of the orders are settled now (expired or paid, by this call or by the
        webhook Stripe sent meanwhile).
    """
    settled = 0
    for order_id, state in answers.items():
        order = db.session.get(Order, order_id)
        if order is None:
            continue
        if order.status != PENDING:
            note = f"already {order.status} (its webhook came first)"
        elif state is None:
            note = "expired, no session" if expire_order(order) else "unchanged"
        else:
            note = settle_with_stripe(order, state)
        db.session.refresh(order)  # a webhook may have moved it while this call waited
        settled += order.status != PENDING
        log.info("sweep: order %s: %s", order_id, note)
    return settled


def sweep_expired(*, grace: dt.timedelta = dt.timedelta(minutes=2), limit: int = 100) -> int:
    """Settle pending orders past ``expires_at`` + ``grace`` with Stripe (flushes):
    :func:`overdue_orders`, :func:`ask_stripe`, :func:`apply_answers` in the caller's
    transaction (the ``orders sweep`` command; a checkout's sweep runs the three as
    units of their own, ``flow.maybe_sweep``, so that no transaction is open during
    the calls).

    Covers a lost ``checkout.session.expired`` webhook (README, "Selling": the sweep).
    Nothing is released on the site's clock alone: each overdue order's Checkout Session
    is expired through Stripe first and released only when Stripe confirms ``expired``;
    paid when Stripe says it was paid; left for the next sweep when Stripe cannot
    answer.

    Returns:
        See :func:`apply_answers`.
    """
    return apply_answers(ask_stripe(overdue_orders(grace=grace, limit=limit)))


def order_by_reference(reference: str) -> Order | None:
    """The order with this reference (32 hex characters), or None."""
    return db.session.scalar(sa.select(Order).where(Order.reference == reference))


def order_by_session(session_id: str) -> Order | None:
    """The order behind a Checkout Session id, or None."""
    return db.session.scalar(sa.select(Order).where(Order.stripe_session_id == session_id))


def order_json(order: Order) -> dict[str, Any]:
    """``GET /api/orders/session/<id>/``'s ``order``: status, amounts (cents), lines."""
    return {
        "id": order.id, "reference": order.reference, "status": order.status,
        "reservation": order.reservation, "amount_total": order.amount_total,
        "currency": order.currency, "session_id": order.stripe_session_id,
        "email": order.email, "customer_info": json.loads(order.customer_info or "{}"),
        "created_at": iso_utc(order.created_at), "expires_at": iso_utc(order.expires_at),
        "paid_at": iso_utc(order.paid_at), "review_reason": order.review_reason,
        "payment_error": order.payment_error,
        "lines": [{"product_id": line.product_id, "slug": line.slug, "name": line.name,
                   "type": line.product_type, "quantity": line.quantity, "days": line.days,
                   "unit_amount": line.unit_amount, "amount": line.amount}
                  for line in order.lines],
    }
