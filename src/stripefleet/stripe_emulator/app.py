"""The emulator's aiohttp application: Stripe's ``/v1`` API, the pay page, the control API.

Every ``/v1`` request goes through :func:`_api_handler`: authenticate (``auth.py``: the
key gives the account and mode the request acts for),
decode the parameters (``forms.py``), expire due sessions, replay or record an
idempotent POST (``idempotency.py``), call the resource function, answer JSON with a
``Request-Id`` header. A background task saves the store when it changed
(``--state-file``, at most every ``save_interval`` seconds, and at shutdown).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

from stripefleet.common.keys import mask
from stripefleet.stripe_emulator import (
    account,
    checkout,
    control,
    events,
    idempotency,
    pay_page,
    payment_intents,
    refunds,
    webhook_endpoints,
)
from stripefleet.stripe_emulator.auth import authenticate
from stripefleet.stripe_emulator.config import API_VERSION
from stripefleet.stripe_emulator.errors import StripeError, unrecognized_url
from stripefleet.stripe_emulator.ids import new_id
from stripefleet.stripe_emulator.runtime import ApiRequest, Emulator
from stripefleet.stripe_emulator.state import Obj
from stripefleet.stripe_emulator.webhooks import Deliverer
from stripefleet.stripe_emulator.webio import EMULATOR, json_response, read_params

log = logging.getLogger(__name__)

Resource = Callable[[Emulator, ApiRequest], Obj]

#: ``(method, path, resource function)`` of every Stripe endpoint served.
API_ROUTES: list[tuple[str, str, Resource]] = [
    ("GET", "/v1/account", account.retrieve_account),
    ("GET", "/v1/balance", account.retrieve_balance),
    ("POST", "/v1/checkout/sessions", checkout.create_session),
    ("GET", "/v1/checkout/sessions", checkout.list_sessions),
    ("GET", "/v1/checkout/sessions/{id}", checkout.retrieve_session),
    ("POST", "/v1/checkout/sessions/{id}/expire", checkout.expire_session_api),
    ("GET", "/v1/checkout/sessions/{id}/line_items", checkout.list_line_items),
    ("GET", "/v1/payment_intents", payment_intents.list_payment_intents),
    ("GET", "/v1/payment_intents/{id}", payment_intents.retrieve_payment_intent),
    ("GET", "/v1/charges/{id}", payment_intents.retrieve_charge),
    ("POST", "/v1/refunds", refunds.create_refund),
    ("GET", "/v1/refunds", refunds.list_refunds),
    ("GET", "/v1/refunds/{id}", refunds.retrieve_refund),
    ("POST", "/v1/webhook_endpoints", webhook_endpoints.create_endpoint),
    ("GET", "/v1/webhook_endpoints", webhook_endpoints.list_endpoints),
    ("GET", "/v1/webhook_endpoints/{id}", webhook_endpoints.retrieve_endpoint),
    ("POST", "/v1/webhook_endpoints/{id}", webhook_endpoints.update_endpoint),
    ("DELETE", "/v1/webhook_endpoints/{id}", webhook_endpoints.delete_endpoint),
    ("GET", "/v1/events", events.list_events),
    ("GET", "/v1/events/{id}", events.retrieve_event),
]


def base_url(request: web.Request) -> str:
    """``scheme://host[:port]`` this request came to."""
    return f"{request.scheme}://{request.host}"


def _api_handler(resource: Resource) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handle(request: web.Request) -> web.Response:
        emu = request.app[EMULATOR]
        request_id = new_id("req_", 14)
        headers = {"Request-Id": request_id, "Stripe-Version": API_VERSION}
        ikey = request.headers.get("Idempotency-Key") if request.method == "POST" else None
        if ikey:
            headers["Idempotency-Key"] = ikey
        livemode = False
        try:
            pair = authenticate(emu.keys, request.headers.get("Authorization"))
            livemode = pair.livemode
            params = await read_params(request)
            checkout.expire_due(emu)
            fingerprint = None
            if ikey:
                fingerprint = idempotency.fingerprint_request(
                    request.method, request.path, params.data)
                record = idempotency.lookup(emu.state, pair.secret_key, ikey, fingerprint,
                                            emu.now())
                if record is not None:
                    headers.update({"Idempotent-Replayed": "true",
                                    "Original-Request": record["request_id"]})
                    return json_response(record["body"], record["status"], headers)
            req = ApiRequest(params, dict(request.match_info), pair, request_id, ikey,
                             base_url(request))
            try:
                body, status = resource(emu, req), 200
            except StripeError as exc:
                if exc.status != 402:
                    raise
                body, status = exc.body(request_id, livemode), exc.status
            if ikey and fingerprint:
                idempotency.store(emu.state, pair.secret_key, ikey, fingerprint, emu.now(),
                                  status, body, request_id)
                emu.dirty = True
            return json_response(body, status, headers)
        except StripeError as exc:
            return json_response(exc.body(request_id, livemode), exc.status, headers)

    return handle


@web.middleware
async def stripe_errors(request: web.Request,
                        handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
                        ) -> web.StreamResponse:
    """Unknown ``/v1`` paths and unexpected failures answer Stripe's error bodies."""
    try:
        return await handler(request)
    except (web.HTTPNotFound, web.HTTPMethodNotAllowed):
        if request.path.startswith("/v1/") or request.path.startswith("/_emulator/"):
            err = unrecognized_url(request.method, request.path)
            return json_response(err.body(), err.status)
        raise
    except web.HTTPException:
        raise
    except Exception:
        log.exception("unexpected error on %s %s", request.method, mask_keys(request.path))
        err = StripeError("An unexpected error occurred in the emulator; see its log.",
                          status=500, type="api_error")
        return json_response(err.body(), err.status)


_KEY_IN_TEXT = re.compile(r"(?:sk|pk|rk)_(?:test|live)_[A-Za-z0-9]+|whsec_[A-Za-z0-9]+")


def mask_keys(text: str) -> str:
    """``text`` with every Stripe key or signing secret in it masked."""
    return _KEY_IN_TEXT.sub(lambda m: mask(m.group(0)), text)


class MaskingAccessLogger(AbstractAccessLogger):
    """An access log line per request, with keys in the path masked
    (``POST /_emulator/keys/sk_test_...wxyz/expire``)."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float
            ) -> None:
        self.logger.info('%s "%s %s" %s %.1f ms', request.remote, request.method,
                         mask_keys(request.path_qs), response.status, time * 1000)


async def _housekeeping(app: web.Application) -> AsyncIterator[None]:
    """Background work for the app's life: expire due sessions, save a changed store."""
    emu = app[EMULATOR]
    deliverer = Deliverer(emu)
    await deliverer.start()

    async def loop() -> None:
        while True:
            await asyncio.sleep(min(emu.config.expiry_sweep_interval,
                                    emu.config.save_interval))
            try:
                checkout.expire_due(emu)
                if emu.dirty:
                    emu.save()
            except Exception:
                log.exception("housekeeping failed")

    task = asyncio.create_task(loop())
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    await deliverer.stop()
    emu.save()


def create_app(emu: Emulator) -> web.Application:
    """The emulator's web application.

    Args:
        emu: the emulator (store, keys, clock, settings) it serves.

    Returns:
        An aiohttp application; its startup starts the webhook deliverer and the
        expiry sweep, its cleanup stops them and saves the store.
    """
    app = web.Application(middlewares=[stripe_errors])
    app[EMULATOR] = emu
    for method, path, resource in API_ROUTES:
        app.router.add_route(method, path, _api_handler(resource))
    control.add_routes(app)
    pay_page.add_routes(app)
    app.cleanup_ctx.append(_housekeeping)
    return app
