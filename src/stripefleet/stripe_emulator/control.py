"""The control API under ``/_emulator/``: what tests and the demo use; not part of Stripe.

No authentication (the emulator listens on loopback). Parameters are form-encoded like
Stripe's; answers are JSON; errors use Stripe's error body.

- ``GET  /_emulator/health``: ``{"ok": true, "api_version", "now"}``.
- ``POST /_emulator/checkout/sessions/{id}/pay`` ``card=4242424242424242``: the pay
  page's outcomes; 200 ``{"status": "succeeded", "checkout_session", "payment_intent",
  "redirect_url"}``, 402 ``card_error`` (decline, ``incorrect_number``), 400
  ``checkout_session_expired``/``checkout_session_complete``, 404.
- ``GET  /_emulator/clock``, ``POST /_emulator/clock/advance`` ``seconds=N``:
  ``{"now", "offset", "expired_sessions"}``.
- ``POST /_emulator/keys``: a new test key pair ``{"secret_key", "publishable_key",
  "created"}`` (also written to the keys file); ``POST /_emulator/keys/{secret_key}/expire``.
- ``GET  /_emulator/deliveries`` (``event_id``, ``endpoint_id``, ``event_type`` filters):
  every delivery attempt, oldest first, ``{"object": "list", "data": [...]}``.
- ``POST /_emulator/events/{id}/resend`` (optional ``webhook_endpoint``): deliver the
  event again (a duplicate, as Stripe sometimes sends); ``{"event_id", "queued"}``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from stripefleet.common.keys import mask
from stripefleet.stripe_emulator import checkout, payments
from stripefleet.stripe_emulator.config import API_VERSION
from stripefleet.stripe_emulator.errors import StripeError, resource_missing
from stripefleet.stripe_emulator.forms import Params
from stripefleet.stripe_emulator.webio import emulator_of, json_response, read_params

Handler = Callable[[web.Request, Params], tuple[Any, int]]


def _control(fn: Handler) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handle(request: web.Request) -> web.Response:
        try:
            params = await read_params(request)
            body, status = fn(request, params)
            return json_response(body, status)
        except StripeError as exc:
            return json_response(exc.body(), exc.status)

    return handle


def health(request: web.Request, params: Params) -> tuple[Any, int]:
    """Liveness: the emulator answers."""
    return {"ok": True, "api_version": API_VERSION, "now": emulator_of(request).now()}, 200


def pay(request: web.Request, params: Params) -> tuple[Any, int]:
    """Pay a Checkout Session with ``card`` (see :func:`payments.pay`)."""
    params.allow({"card"})
    card = params.string("card", required=True) or ""
    result = payments.pay(emulator_of(request), request.match_info["id"], card)
    return {"status": "succeeded", "checkout_session": result.session,
            "payment_intent": result.payment_intent, "redirect_url": result.redirect_url}, 200


def clock(request: web.Request, params: Params) -> tuple[Any, int]:
    """The emulator clock: ``{"now", "offset"}`` (Unix seconds, seconds)."""
    emu = emulator_of(request)
    return {"now": emu.now(), "offset": emu.clock.offset}, 200


def advance_clock(request: web.Request, params: Params) -> tuple[Any, int]:
    """Move the clock forward by ``seconds`` and expire what is due."""
    params.allow({"seconds"})
    seconds = params.integer("seconds", required=True, minimum=0) or 0
    emu = emulator_of(request)
    emu.clock.advance(seconds)
    emu.dirty = True
    expired = checkout.expire_due(emu)
    return {"now": emu.now(), "offset": emu.clock.offset, "expired_sessions": expired}, 200


def create_keys(request: web.Request, params: Params) -> tuple[Any, int]:
    """A new test-mode key pair, written to the keys file."""
    params.allow(set())
    emu = emulator_of(request)
    pair = emu.keys.create(emu.now())
    return {"secret_key": pair.secret_key, "publishable_key": pair.publishable_key,
            "created": pair.created}, 200


def expire_key(request: web.Request, params: Params) -> tuple[Any, int]:
    """Expire a secret key: it then answers 401 ``api_key_expired``."""
    key = request.match_info["secret_key"]
    pair = emulator_of(request).keys.expire(key)
    if pair is None:
        raise resource_missing("api_key", mask(key), "secret_key")
    return {"secret_key": mask(key), "expired": True}, 200


def deliveries(request: web.Request, params: Params) -> tuple[Any, int]:
    """Every delivery attempt, oldest first, optionally filtered."""
    params.allow({"event_id", "endpoint_id", "event_type"})
    filters = {k: params.string(k) for k in ("event_id", "endpoint_id", "event_type")}
    data = [d for d in emulator_of(request).state.deliveries
            if all(v is None or d[k] == v for k, v in filters.items())]
    return {"object": "list", "data": data, "has_more": False,
            "url": "/_emulator/deliveries"}, 200


def resend(request: web.Request, params: Params) -> tuple[Any, int]:
    """Deliver an event again to matching endpoints (or one ``webhook_endpoint``)."""
    params.allow({"webhook_endpoint"})
    emu = emulator_of(request)
    event_id = request.match_info["id"]
    event = emu.state.events.get(event_id)
    if event is None:
        raise resource_missing("event", event_id)
    only = params.string("webhook_endpoint")
    endpoints = emu.matching_endpoints(event["type"])
    if only is not None:
        if only not in emu.state.webhook_endpoints:
            raise resource_missing("webhook_endpoint", only, "webhook_endpoint")
        endpoints = [emu.state.webhook_endpoints[only]]
    if endpoints and emu.enqueue is not None:
        emu.enqueue(event, endpoints, True)
    return {"event_id": event_id, "queued": len(endpoints)}, 200


def add_routes(app: web.Application) -> None:
    """Register the control API on ``app``."""
    routes = [
        ("GET", "/_emulator/health", health),
        ("POST", "/_emulator/checkout/sessions/{id}/pay", pay),
        ("GET", "/_emulator/clock", clock),
        ("POST", "/_emulator/clock/advance", advance_clock),
        ("POST", "/_emulator/keys", create_keys),
        ("POST", "/_emulator/keys/{secret_key}/expire", expire_key),
        ("GET", "/_emulator/deliveries", deliveries),
        ("POST", "/_emulator/events/{id}/resend", resend),
    ]
    for method, path, fn in routes:
        app.router.add_route(method, path, _control(fn))
