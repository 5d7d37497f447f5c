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
from stripefleet.site.checkout import services
from stripefleet.site.checkout.models import Order
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
          cancel_url: str) -> _Opened:
    """Unit 1: the pending order with its reservation (see the module doc)."""
    order = services.open_order(request, customer)
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
    cancel_url = request.cancel_url or url_for("pages.cancel", _external=True)
    opened = _open(request, customer, success_url=success_url, cancel_url=cancel_url)
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
