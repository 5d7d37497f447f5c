"""The site's only door to Stripe: the official SDK, with the site's secret key.

``StripeClient(secret_key, base_addresses={"api": STRIPE_API_BASE})`` when
``STRIPE_API_BASE`` is set (the emulator), Stripe's own API otherwise (README,
"Selling"; https://docs.stripe.com/api). Every SDK error becomes a
:class:`StripeFailure` with a stable code, so a Stripe problem never surfaces as a 500;
the secret key never appears in a message.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any

import stripe
from flask import current_app

from stripefleet.common.keys import SECRET_KEY, fingerprint
from stripefleet.site.settings.services import get_value

log = logging.getLogger(__name__)

#: Seconds the SDK waits for Stripe (connect and read) on one attempt.
TIMEOUT = 20.0
_clients: dict[tuple[str, str | None], stripe.StripeClient] = {}
_lock = threading.Lock()


class StripeNotConfigured(Exception):
    """The site has no secret key yet (503 ``stripe_not_configured``)."""


class StripeFailure(Exception):
    """Stripe could not do it. ``code``: ``stripe_unavailable`` (unreachable, 5xx, rate
    limited), ``stripe_auth_failed`` (key refused) or ``stripe_rejected`` (a 4xx on the
    request); ``message`` is safe to show; ``param``: the parameter Stripe refused, when
    it named one."""

    def __init__(self, code: str, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.param = param


def client() -> stripe.StripeClient:
    """A StripeClient for the site's current secret key (cached per key and base URL).

    Raises:
        StripeNotConfigured: no secret key is set.
    """
    secret = get_value(SECRET_KEY)
    if not secret:
        raise StripeNotConfigured("no Stripe secret key is configured on this site")
    base = current_app.config.get("STRIPE_API_BASE")
    key = (fingerprint(secret), base)
    with _lock:
        cached = _clients.get(key)
        if cached is None:
            options: dict[str, Any] = {"max_network_retries": 1,
                                       "http_client": stripe.RequestsClient(timeout=TIMEOUT)}
            if base:
                options["base_addresses"] = {"api": base}
            cached = _clients[key] = stripe.StripeClient(secret, **options)
            if len(_clients) > 8:
                _clients.pop(next(iter(_clients)))
        return cached


def translate(exc: stripe.StripeError) -> StripeFailure:
    """The :class:`StripeFailure` for an SDK error (logged without the key)."""
    if isinstance(exc, stripe.AuthenticationError | stripe.PermissionError):
        failure = StripeFailure("stripe_auth_failed",
                                "Stripe refused the site's secret key; push a valid one.")
    elif isinstance(exc, stripe.APIConnectionError | stripe.RateLimitError) or (
            exc.http_status or 500) >= 500:
        failure = StripeFailure("stripe_unavailable",
                                "Stripe could not be reached; try again in a moment.")
    else:
        param = getattr(exc, "param", None)
        failure = StripeFailure("stripe_rejected",
                                f"Stripe refused the request: {exc.user_message or 'error'}"[:300],
                                param if isinstance(param, str) else None)
    log.warning("Stripe error %s (%s, HTTP %s, request %s)", failure.code,
                type(exc).__name__, exc.http_status, exc.request_id)
    return failure


def create_checkout_session(params: dict[str, Any], *, idempotency_key: str,
                            stripe_client: stripe.StripeClient | None = None) -> dict[str, Any]:
    """Create a Checkout Session (``POST /v1/checkout/sessions``,
    https://docs.stripe.com/api/checkout/sessions/create).

    Args:
        stripe_client: the :func:`client` to use, taken beforehand by a caller that
            keeps the database out of the network call; :func:`client` when None.

    Returns:
        ``{"id": "cs_...", "url": "https://...", "expires_at": unix}``.

    Raises:
        StripeNotConfigured: no secret key. StripeFailure: any SDK error.
    """
    try:
        session = (stripe_client or client()).v1.checkout.sessions.create(
            params=params,  # type: ignore[arg-type]
            options={"idempotency_key": idempotency_key})
    except stripe.StripeError as exc:
        raise translate(exc) from None
    return {"id": session.id, "url": session.url, "expires_at": session.expires_at}


def retrieve_payment_intent(payment_intent_id: str) -> dict[str, Any] | None:
    """A PaymentIntent as a dict, or None when Stripe cannot say (not configured, error)."""
    try:
        intent = client().v1.payment_intents.retrieve(payment_intent_id)
    except (StripeNotConfigured, stripe.StripeError) as exc:
        log.warning("cannot retrieve PaymentIntent %s: %s", payment_intent_id,
                    type(exc).__name__)
        return None
    return intent.to_dict()


@dataclass(frozen=True)
class SessionState:
    """What Stripe says of a Checkout Session: ``status`` (``open``, ``complete``,
    ``expired``), ``payment_status`` (``paid``, ``unpaid``, ``no_payment_required``),
    ``amount_total`` (cents), ``currency``, ``payment_intent`` (id or None)."""

    status: str
    payment_status: str | None
    amount_total: int | None
    currency: str | None
    payment_intent: str | None


def _state(obj: stripe.StripeObject) -> SessionState:
    session = obj.to_dict()
    intent = session.get("payment_intent")
    if intent is not None and not isinstance(intent, str):
        intent = intent.get("id")
    return SessionState(str(session.get("status")), session.get("payment_status"),
                        session.get("amount_total"), session.get("currency"), intent)


def expire_session(session_id: str, *,
                   stripe_client: stripe.StripeClient | None = None) -> SessionState:
    """Settle a Checkout Session with Stripe before its reservation is released: expire
    it (``POST /v1/checkout/sessions/{id}/expire``,
    https://docs.stripe.com/api/checkout/sessions/expire); when Stripe refuses because
    it is no longer open (paid just before, or already expired), read it
    (``GET /v1/checkout/sessions/{id}``) and say which.

    Returns:
        The session's state after the call: ``expired`` (nobody can pay it any more:
        its units may be released), ``complete`` (paid or paying: record the payment),
        or, exceptionally, ``open``.

    Raises:
        StripeNotConfigured: no secret key. StripeFailure: Stripe could not say
            (unreachable, key refused, unknown session): release nothing.
    """
    sessions = (stripe_client or client()).v1.checkout.sessions
    try:
        return _state(sessions.expire(session_id))
    except stripe.InvalidRequestError as exc:
        if exc.http_status != 400 or (exc.code or "") == "resource_missing":
            raise translate(exc) from None
    except stripe.StripeError as exc:
        raise translate(exc) from None
    try:  # not open any more: complete or expired
        return _state(sessions.retrieve(session_id))
    except stripe.StripeError as exc:
        raise translate(exc) from None
