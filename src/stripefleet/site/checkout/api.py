"""``POST /api/checkout/`` and ``GET /api/orders/session/<session_id>/`` (the shop's
Stripe configuration notes; README, "Selling").

Checkout answers ``{"success": true, "checkout_url", "session_id", "order_id"}``;
errors: 400 ``invalid_request``/``product_not_found``/``amount_too_large`` with
``field`` (the body is checked at the edge, ``accounts.edge``: also ``invalid_json``,
``json_too_deep``), 401
``authentication_required``/``invalid_token``, 409 ``out_of_stock`` with ``items``,
503 ``stripe_not_configured``, 502 ``stripe_unavailable``/``stripe_auth_failed``/
``stripe_rejected``. Its commits are ``flow.run_checkout``'s two units of work; the
order lookup only reads.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator

from flask import Blueprint, Response, current_app, jsonify, request

from stripefleet.common.web import ApiError
from stripefleet.site.accounts import edge
from stripefleet.site.accounts.auth import bearer_customer, page_customer
from stripefleet.site.checkout import services
from stripefleet.site.checkout.flow import cancel_checkout, run_checkout
from stripefleet.site.checkout.models import Order
from stripefleet.site.checkout.reservations import OutOfStock
from stripefleet.site.checkout.stripe_gateway import StripeFailure, StripeNotConfigured
from stripefleet.site.checkout.validation import CheckoutBody, CheckoutInvalid
from stripefleet.site.extensions import db
from stripefleet.site.settings.services import match_api_key
from stripefleet.site.shop.models import Product

bp = Blueprint("checkout_api", __name__)

#: A Checkout Session id as Stripe writes them (``cs_test_...``).
SESSION_ID = re.compile(r"[A-Za-z0-9_]{1,255}")


def out_of_stock_items(exc: OutOfStock) -> list[dict[str, object]]:
    """``[{"id", "slug", "name", "available"}]`` of the products short of units."""
    items = []
    for product_id in exc.product_ids:
        product = db.session.get(Product, product_id)
        if product is not None:
            items.append({"id": product.id, "slug": product.slug, "name": product.name,
                          "available": product.available})
    return items


@contextlib.contextmanager
def _stripe_answers() -> Iterator[None]:
    """Stripe's side of a request, as the API answers it.

    :raise 503: ``stripe_not_configured`` (no secret key yet).
    :raise 502: Stripe's refusal or outage, with its code (``stripe_auth_failed``, ...).
    """
    try:
        yield
    except StripeNotConfigured:
        raise ApiError("stripe_not_configured",
                       "This site has no Stripe secret key yet; the fleet must push one.",
                       status=503) from None
    except StripeFailure as exc:
        raise ApiError(exc.code, exc.message, status=502) from None


@bp.post("/api/checkout/", strict_slashes=False)
def checkout() -> Response | tuple[Response, int]:
    """Create a Checkout Session for the cart (the body of the shop's Stripe configuration
    notes); see the module doc."""
    customer = bearer_customer()
    if customer is None and not current_app.config["SITE_GUEST_CHECKOUT"]:
        raise ApiError("authentication_required",
                       "Log in first (POST /api/auth/login) and send Authorization: Bearer "
                       "<token>.", status=401)
    body = edge.parse(CheckoutBody, {}, default_code="invalid_request")
    try:
        with _stripe_answers():
            order = run_checkout(body.request(), customer)
    except CheckoutInvalid as exc:
        return jsonify(success=False, error=exc.code, field=exc.field,
                       message=f"{exc.field} {exc.message}."), 400
    except OutOfStock as exc:
        items = out_of_stock_items(exc)
        names = ", ".join(item["slug"] for item in items)  # type: ignore[misc]
        return jsonify(success=False, error="out_of_stock", items=items,
                       message=f"Not enough stock for: {names}."), 409
    return jsonify(success=True, checkout_url=order.checkout_url,
                   session_id=order.stripe_session_id, order_id=order.id)


def _visible_order(session_id: str) -> Order:
    """The order behind a session id, if the caller may see it: its customer (bearer
    token or page session), an owner, or the site's API key.

    Raises:
        edge.BodyInvalid: ``invalid_request`` (field ``session_id``): not a session id.
        ApiError: 404 ``order_not_found`` (also when the caller may not see it).
    """
    if not SESSION_ID.fullmatch(session_id):
        raise edge.BodyInvalid("invalid_request", "session_id is not a Checkout Session id.",
                               "session_id")
    order = services.order_by_session(session_id)
    allowed = False
    if order is not None:
        if match_api_key(request.headers.get("X-API-Key")) is not None:
            allowed = True
        else:
            customer = bearer_customer() or page_customer()
            allowed = customer is not None and (customer.id == order.customer_id
                                                or customer.is_owner)
    if order is None or not allowed:
        raise ApiError("order_not_found", "No order of yours has this session id.", status=404)
    return order


@bp.get("/api/orders/session/<session_id>/", strict_slashes=False)
def order_by_session(session_id: str) -> Response:
    """The order behind a Checkout Session: ``{"success": true, "order": {...}}``.

    Only to its customer (bearer token or page session) or with the site's API key.

    :raise 400: ``invalid_request`` with ``field`` ``session_id``: not a session id
        (a NUL byte, ...).
    :raise 404: ``order_not_found`` (also when the caller may not see it).
    """
    return jsonify(success=True, order=services.order_json(_visible_order(session_id)))


@bp.post("/api/orders/session/<session_id>/cancel", strict_slashes=False)
def cancel_order(session_id: str) -> Response:
    """The customer gave up paying (a headless shop's own cancel page): settle the order
    with Stripe at once (``flow.cancel_checkout``: the Checkout Session expired through
    Stripe, the reservation released; or the payment recorded, when Stripe says it was
    paid). ``{"success": true, "order": {...}}`` with the order after it.

    :raise 400, 404: as ``GET /api/orders/session/<id>/``.
    :raise 502: ``stripe_unavailable`` / ``stripe_auth_failed`` / ``stripe_rejected``:
        Stripe could not say; nothing released. :raise 503: ``stripe_not_configured``.
    """
    order = _visible_order(session_id)
    reference, order_id = order.reference, order.id
    with _stripe_answers():
        cancel_checkout(reference)
    settled = db.session.get(Order, order_id)
    assert settled is not None
    return jsonify(success=True, order=services.order_json(settled))
