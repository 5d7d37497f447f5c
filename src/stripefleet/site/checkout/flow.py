"""A checkout as units of work: what ``POST /api/checkout/`` and the cart page run.

The view layer's side of checkout: the views that sell call :func:`run_checkout`, which
holds their commit points. Each unit of work is a function under
``common.web.transactional`` (committed when it returns, rolled back when it raises);
services only flush. A checkout commits twice, on purpose (README, "Selling":
Checkout):

1. :func:`_open`: the pending order, its lines and its stock reservation, committed
   before Stripe is called: the reservation's UPDATEs lock product rows, which must not
   stay locked during a network call, and once committed the units are taken for every
   worker. What the call needs (its parameters, the Stripe client) is read in this unit,
   so that no transaction is open during the call.
2. :func:`_attach`: the Checkout Session's id and URL on the order; or, when Stripe
   failed, :func:`_fail`: the order ``failed`` and its units released.

A crash between 1 and 2 leaves a pending order that the sweep expires (and releases)
after ``expires_at``; the session, if Stripe made one, expires at the same time. The
sweep itself (:func:`maybe_sweep`, at most every ``SWEEP_EVERY`` seconds) runs first, as
a unit of its own whose failure does not fail the checkout.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

import stripe
from flask import url_for

from stripefleet.common.web import transactional
from stripefleet.site.accounts.models import Customer
from stripefleet.site.checkout import services, stripe_gateway
from stripefleet.site.checkout.models import PENDING, Order
from stripefleet.site.checkout.stripe_gateway import (
    StripeFailure,
    client,
    create_checkout_session,
)
from stripefleet.site.checkout.validation import CheckoutRequest
from stripefleet.site.extensions import db

log = logging.getLogger(__name__)
unit_of_work = transactional(db)

#: Seconds between two sweeps of expired reservations in one process.
SWEEP_EVERY = 30.0
#: Most overdue orders a checkout's sweep settles with Stripe (each is an API call).
SWEEP_LIMIT = 20
_last_sweep = 0.0
_sweep_lock = threading.Lock()


@unit_of_work
def _overdue() -> list[tuple[int, str | None]]:
    return services.overdue_orders(limit=SWEEP_LIMIT)


@unit_of_work
def _apply(answers: services.Answers) -> int:
    return services.apply_answers(answers)


def _sweep(stripe_client: stripe.StripeClient) -> int:
    """The sweep as two units of work around the Stripe calls (none holds a transaction
    open during a call; SQLite's ``BEGIN IMMEDIATE`` would keep every writer waiting)."""
    due = _overdue()
    return _apply(services.ask_stripe(due, stripe_client=stripe_client)) if due else 0


def maybe_sweep(stripe_client: stripe.StripeClient) -> None:
    """Settle overdue pending orders with Stripe (``services.sweep_expired``'s rule), at
    most every ``SWEEP_EVERY`` seconds (units of work of their own: committed, or rolled
    back and logged)."""
    global _last_sweep
    with _sweep_lock:
        if time.monotonic() - _last_sweep < SWEEP_EVERY:
            return
        _last_sweep = time.monotonic()
    try:
        expired = _sweep(stripe_client)
    except Exception:  # the sweep must never break a checkout
        log.exception("sweep of expired reservations failed")
        return
    if expired:
        log.info("sweep: %d overdue order(s) expired, stock released", expired)


@dataclass(frozen=True)
class _Opened:
    """What the Stripe call needs of an opened order, read before its commit."""

    order: Order
    params: dict[str, Any]
    idempotency_key: str


@unit_of_work
def _open(request: CheckoutRequest, customer: Customer | None, *, success_url: str,
          cancel_url: str | None) -> _Opened:
    """Unit 1: the pending order with its reservation (see the module doc). Without a
    ``cancel_url`` the storefront's cancel page is used, with the order's reference
    (``?ref=``), so that Cancel on the pay page frees the order at once
    (:func:`cancel_checkout`)."""
    order = services.open_order(request, customer)
    cancel_url = cancel_url or url_for("pages.cancel", ref=order.reference, _external=True)
    params = services.session_params(order, success_url=success_url, cancel_url=cancel_url)
    return _Opened(order, params, services.idempotency_key(order))


@unit_of_work
def _attach(order: Order, session: dict[str, Any]) -> None:
    """Unit 2: the Checkout Session on the order."""
    services.attach_session(order, session)


@unit_of_work
def _fail(order: Order, reason: str) -> None:
    """Unit 2 when Stripe failed: the order ``failed``, its units released."""
    services.fail_order(order, reason)


def run_checkout(request: CheckoutRequest, customer: Customer | None) -> Order:
    """Reserve, create the Checkout Session, and return the order (committed).

    A refusal of ``expires_at`` (Stripe's clock ahead of the site's) is retried once,
    with a later end (``services.later_end``) and its own idempotency key (Stripe saved
    no result for the refused request).

    Raises:
        stripe_gateway.StripeNotConfigured: no secret key (nothing reserved).
        validation.CheckoutInvalid: a wrong item (nothing reserved).
        reservations.OutOfStock: not enough units (nothing reserved).
        stripe_gateway.StripeFailure: Stripe failed; the order is ``failed`` and its
            reservation released (committed).
    """
    stripe_client = client()  # raises StripeNotConfigured before anything is reserved
    maybe_sweep(stripe_client)
    success_url = request.success_url or (
        url_for("pages.success", _external=True) + "?session_id={CHECKOUT_SESSION_ID}")
    opened = _open(request, customer, success_url=success_url, cancel_url=request.cancel_url)
    try:
        try:
            session = create_checkout_session(opened.params,
                                              idempotency_key=opened.idempotency_key,
                                              stripe_client=stripe_client)
        except StripeFailure as exc:
            if exc.param != "expires_at":
                raise
            log.warning("Stripe refused expires_at of order %s (its clock is ahead of the "
                        "site's): retried once with a later end", opened.order.id)
            session = create_checkout_session(
                services.later_end(opened.params),
                idempotency_key=f"{opened.idempotency_key}-later", stripe_client=stripe_client)
    except StripeFailure as exc:
        _fail(opened.order, f"{exc.code}: {exc.message}")
        raise
    except Exception:
        _fail(opened.order, "internal_error")
        raise
    _attach(opened.order, session)
    return opened.order


@dataclass(frozen=True)
class Cancelled:
    """An order after :func:`cancel_checkout`: its ``status``, its Checkout Session id,
    and its ``lines`` as ``(product id, quantity, days)`` (to put back in a cart)."""

    status: str
    session_id: str | None
    lines: list[tuple[int, int, int]]


@unit_of_work
def _cancel_target(reference: str) -> tuple[int, str | None, stripe.StripeClient | None] | None:
    """The order's id, and its session id and the Stripe client when it is to be
    settled (pending, with a session); read before the call, like :func:`_open`."""
    order = services.order_by_reference(reference)
    if order is None:
        return None
    if order.status != PENDING or order.stripe_session_id is None:
        return order.id, None, None
    return order.id, order.stripe_session_id, client()


@unit_of_work
def _settle(order_id: int, state: stripe_gateway.SessionState) -> None:
    order = db.session.get(Order, order_id)
    if order is not None and order.status == PENDING:
        log.info("order %s cancelled on the pay page: %s", order_id,
                 services.settle_with_stripe(order, state))


@unit_of_work
def _cancelled(order_id: int) -> Cancelled:
    order = db.session.get(Order, order_id)
    assert order is not None
    return Cancelled(order.status, order.stripe_session_id,
                     [(line.product_id, line.quantity, line.days) for line in order.lines])


def cancel_checkout(reference: str) -> Cancelled | None:
    """The customer left the pay page with Cancel (the storefront's cancel URL carries
    the order's reference): settle the order with Stripe at once instead of holding its
    units until the session's end (README, "Selling": Pages).

    The Checkout Session is expired through Stripe (``stripe_gateway.expire_session``,
    with no transaction open during the call) and ``services.settle_with_stripe``
    applies the answer: released when Stripe confirms it expired, paid when Stripe says
    it was paid meanwhile. An order no longer pending is left as it is.

    Returns:
        The order's outcome, or None when no order has this reference.

    Raises:
        stripe_gateway.StripeNotConfigured, stripe_gateway.StripeFailure: Stripe could
            not say; nothing was released (the sweep settles it later).
    """
    target = _cancel_target(reference)
    if target is None:
        return None
    order_id, session_id, stripe_client = target
    if session_id is not None and stripe_client is not None:
        _settle(order_id, stripe_gateway.expire_session(session_id,
                                                        stripe_client=stripe_client))
    return _cancelled(order_id)
