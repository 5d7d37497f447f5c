"""The checkout's transaction script, shared by ``POST /api/checkout/`` and the cart page.

Three commit points, in this order, each for a reason (DESIGN.md section 5):

1. the pending order, its lines and its reservation: committed before Stripe is
   called, so that no product row stays locked during a network call and every worker
   sees the units as taken;
2. the Checkout Session's id and URL on the order;
3. or, when Stripe fails, the order ``failed`` and its reservation released.

A crash between 1 and 2 leaves a pending order that the sweep expires (and releases)
after ``expires_at``; the session, if Stripe made one, expires at the same time.
"""

from __future__ import annotations

import logging
import threading
import time

from flask import url_for

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

#: Seconds between two sweeps of expired reservations in one process.
SWEEP_EVERY = 30.0
_last_sweep = 0.0
_sweep_lock = threading.Lock()


def maybe_sweep() -> None:
    """Expire overdue pending orders, at most every ``SWEEP_EVERY`` seconds; commits."""
    global _last_sweep
    with _sweep_lock:
        if time.monotonic() - _last_sweep < SWEEP_EVERY:
            return
        _last_sweep = time.monotonic()
    try:
        expired = services.sweep_expired()
        db.session.commit()
    except Exception:  # the sweep must never break a checkout
        db.session.rollback()
        log.exception("sweep of expired reservations failed")
        return
    if expired:
        log.info("sweep: %d overdue order(s) expired, stock released", expired)


def run_checkout(request: CheckoutRequest, customer: Customer | None) -> Order:
    """Reserve, create the Checkout Session, and return the order (committed).

    Raises:
        stripe_gateway.StripeNotConfigured: no secret key (nothing reserved).
        validation.CheckoutInvalid: a wrong item (nothing reserved).
        reservations.OutOfStock: not enough units (nothing reserved).
        stripe_gateway.StripeFailure: Stripe failed; the order is ``failed`` and its
            reservation released (committed).
    """
    client()  # raises StripeNotConfigured before anything is reserved
    maybe_sweep()
    try:
        order = services.open_order(request, customer)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    success_url = request.success_url or (
        url_for("pages.success", _external=True) + "?session_id={CHECKOUT_SESSION_ID}")
    cancel_url = request.cancel_url or url_for("pages.cancel", _external=True)
    params = services.session_params(order, success_url=success_url, cancel_url=cancel_url)
    try:
        session = create_checkout_session(params, idempotency_key=services.idempotency_key(order))
    except StripeFailure as exc:
        db.session.rollback()
        services.fail_order(order, f"{exc.code}: {exc.message}")
        db.session.commit()
        raise
    except Exception:
        db.session.rollback()
        services.fail_order(order, "internal_error")
        db.session.commit()
        raise
    services.attach_session(order, session)
    db.session.commit()
    return order
