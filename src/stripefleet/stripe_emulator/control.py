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
- ``POST /_emulator/keys``: a new key pair, written to the keys file; ``account=new``
  (a new account; then optional ``name``, ``country``, ``email``, ``default_currency``),
  ``account=acct_...`` (an existing one) or none (the default account); ``mode=test``
  (default) or ``live`` (``sk_live_``/``pk_live_``). Answers ``{"secret_key",
  "publishable_key", "account", "livemode", "created"}``.
- ``POST /_emulator/keys/expire`` ``secret_key=...`` (or ``POST
  /_emulator/keys/{secret_key}/expire``): the key then answers 401 ``api_key_expired``;
  with ``after_requests=N``, once it has been accepted N more times.
- ``GET  /_emulator/accounts``: every account with its key pairs (secret keys masked).
- ``GET  /_emulator/deliveries`` (``event_id``, ``endpoint_id``, ``event_type``,
  ``account`` filters): every delivery attempt, oldest first,
  ``{"object": "list", "data": [...]}``.
- ``POST /_emulator/events/{id}/resend`` (optional ``webhook_endpoint``): deliver the
  event again (a duplicate, as Stripe sometimes sends) to its account's matching
  endpoints; ``{"event_id", "queued"}``.

README, section 'The Stripe emulator', "Control API" and "Accounts".
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from typing import Any

from aiohttp import web

from stripefleet.common.keys import mask
from stripefleet.stripe_emulator import checkout, payments
from stripefleet.stripe_emulator.config import API_VERSION
from stripefleet.stripe_emulator.errors import StripeError, invalid_param, resource_missing
from stripefleet.stripe_emulator.forms import Params
from stripefleet.stripe_emulator.keystore import KeyPair
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


_ACCOUNT_DETAILS = ("name", "country", "email", "default_currency")
_DETAIL_FORMATS = {"country": (r"[A-Za-z]{2}", "a two-letter country code (FR)"),
                   "default_currency": (r"[A-Za-z]{3}", "a three-letter currency code (eur)")}


def create_keys(request: web.Request, params: Params) -> tuple[Any, int]:
    """A new key pair (of a new, a named or the default account), written to the keys
    file.

    Raises:
        StripeError: 400 for a bad ``mode``, ``country`` or ``default_currency``, or
            account details without ``account=new``; 404 for an unknown account.
    """
    params.allow({"account", "mode", *_ACCOUNT_DETAILS})
    emu = emulator_of(request)
    mode = params.string("mode", choices=("test", "live")) or "test"
    account = params.string("account")
    details = {k: params.string(k, max_length=200) for k in _ACCOUNT_DETAILS if params.has(k)}
    if details and account != "new":
        raise invalid_param(next(iter(details)), "Account details (name, country, email, "
                            "default_currency) go with account=new only.")
    for name, (pattern, what) in _DETAIL_FORMATS.items():
        if name in details and not re.fullmatch(pattern, details[name] or ""):
            raise invalid_param(name, f"{name} must be {what}.")
    if account == "new":
        account = emu.keys.create_account(emu.now(), **details).id
    elif account is not None and emu.keys.account(account) is None:
        raise resource_missing("account", account, "account")
    pair = emu.keys.create(emu.now(), account, livemode=mode == "live")
    return _pair_answer(pair), 200


def _pair_answer(pair: KeyPair) -> dict[str, Any]:
    return {"secret_key": pair.secret_key, "publishable_key": pair.publishable_key,
            "account": pair.account, "livemode": pair.livemode, "created": pair.created}


def _expire(request: web.Request, key: str, after_requests: int = 0) -> tuple[Any, int]:
    pair = emulator_of(request).keys.expire(key, after_requests=after_requests)
    if pair is None:
        raise resource_missing("api_key", mask(key), "secret_key")
    answer = {"secret_key": mask(key), "account": pair.account, "expired": pair.expired}
    if pair.uses_left is not None:
        answer["uses_left"] = pair.uses_left
    return answer, 200


def expire_key(request: web.Request, params: Params) -> tuple[Any, int]:
    """Expire the secret key in the path: it then answers 401 ``api_key_expired``
    (``after_requests=N``: once it has been accepted N more times)."""
    params.allow({"after_requests"})
    return _expire(request, request.match_info["secret_key"],
                   params.integer("after_requests", minimum=0) or 0)


def expire_key_form(request: web.Request, params: Params) -> tuple[Any, int]:
    """Expire the secret key given as ``secret_key`` (kept out of URLs and access logs);
    ``after_requests=N``: once it has been accepted N more times (a key that passes a
    preflight check, then fails the next call)."""
    params.allow({"secret_key", "after_requests"})
    return _expire(request, params.string("secret_key", required=True) or "",
                   params.integer("after_requests", minimum=0) or 0)


def accounts(request: web.Request, params: Params) -> tuple[Any, int]:
    """Every account, oldest first, with its key pairs (secret keys masked)."""
    params.allow(set())
    keys = emulator_of(request).keys
    data = [{**asdict(account), "keys": [
        {"secret_key": mask(p.secret_key), "publishable_key": p.publishable_key,
         "livemode": p.livemode, "expired": p.expired, "created": p.created}
        for p in keys.pairs if p.account == account.id]} for account in keys.accounts]
    return {"object": "list", "data": data, "has_more": False,
            "url": "/_emulator/accounts"}, 200


def deliveries(request: web.Request, params: Params) -> tuple[Any, int]:
    """Every delivery attempt, oldest first, optionally filtered."""
    names = ("event_id", "endpoint_id", "event_type", "account")
    params.allow(names)
    filters = {k: params.string(k) for k in names}
    data = [d for d in emulator_of(request).state.deliveries
            if all(v is None or d.get(k) == v for k, v in filters.items())]
    return {"object": "list", "data": data, "has_more": False,
            "url": "/_emulator/deliveries"}, 200


def resend(request: web.Request, params: Params) -> tuple[Any, int]:
    """Deliver an event again to its account's matching endpoints (or one
    ``webhook_endpoint`` of that account and mode)."""
    params.allow({"webhook_endpoint"})
    emu = emulator_of(request)
    event_id = request.match_info["id"]
    event = emu.state.events.get(event_id)
    if event is None:
        raise resource_missing("event", event_id)
    account = emu.owner(event_id)
    only = params.string("webhook_endpoint")
    endpoints = emu.matching_endpoints(event["type"], account, bool(event["livemode"]))
    if only is not None:
        endpoint = emu.state.webhook_endpoints.get(only)
        if (endpoint is None or emu.owner(only) != account
                or bool(endpoint["livemode"]) != bool(event["livemode"])):
            raise resource_missing("webhook_endpoint", only, "webhook_endpoint")
        endpoints = [endpoint]
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
        ("POST", "/_emulator/keys/expire", expire_key_form),
        ("POST", "/_emulator/keys/{secret_key}/expire", expire_key),
        ("GET", "/_emulator/accounts", accounts),
        ("GET", "/_emulator/deliveries", deliveries),
        ("POST", "/_emulator/events/{id}/resend", resend),
    ]
    for method, path, fn in routes:
        app.router.add_route(method, path, _control(fn))
