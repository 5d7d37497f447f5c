"""``POST /api/test-stripe``: is the stored secret key functional? (README, "A site")

The troubleshooting guide asks that a key be "not only saved but also functional"; the
fleet's engine calls this after it pushes a key. Needs ``X-API-Key`` (as the settings
API). Never echoes a secret: the answer carries the key's fingerprint only.

The request is two short units of work around the Stripe call, so that no database
transaction stays open while Stripe answers (on SQLite every transaction holds the
write lock): read the keys (committed, nothing written), call Stripe, then record the
outcome (committed), as ``checkout/flow.py`` does around its Checkout Session.
"""

from __future__ import annotations

import math
import time

from flask import Blueprint, Response, current_app, jsonify
from flask_limiter.util import get_remote_address
from limits import parse

from stripefleet.common.web import ApiError
from stripefleet.site.extensions import limiter, transactional
from stripefleet.site.settings.api_keys import require_api_key
from stripefleet.site.settings.services import CHECK_OK
from stripefleet.site.stripe_check import services
from stripefleet.site.stripe_check.services import CheckFailed, CheckInputs, CheckResult

bp = Blueprint("stripe_check", __name__)

#: Checks allowed per client: each spends one request of Stripe's rate limit
#: (https://docs.stripe.com/rate-limits). README, "A site".
CHECKS_LIMIT = parse("10 per minute")
_NAMESPACE = "test-stripe"


def _rate_limit() -> None:
    """Count this check for the client. :raise 429: ``rate_limited`` with ``Retry-After``
    past 10 checks in a minute (Flask-Limiter's storage, per client address)."""
    if not limiter.enabled:
        return
    client = get_remote_address()
    if limiter.limiter.hit(CHECKS_LIMIT, _NAMESPACE, client):
        return
    reset_at = limiter.limiter.get_window_stats(CHECKS_LIMIT, _NAMESPACE, client).reset_time
    retry_after = max(1, math.ceil(reset_at - time.time()))
    raise ApiError("rate_limited",
                   f"At most 10 Stripe checks a minute per client (each calls Stripe); try "
                   f"again in {retry_after} s.", status=429,
                   headers={"Retry-After": str(retry_after)})


@transactional
def _read() -> CheckInputs:
    """Unit 1: the keys and the inbox's newest event (nothing written)."""
    return services.read_inputs()


@transactional
def _record(outcome: str, secret_key: str, result: CheckResult | None = None) -> None:
    """Unit 2: the outcome stored for ``GET /api/health/stripe``."""
    services.record(outcome, secret_key, result)


@bp.post("/api/test-stripe")
@require_api_key
def test_stripe() -> Response:
    """Check the stored secret key with Stripe (``GET /v1/account``); create nothing.

    200 ``{"success": true, "account_id": "acct_...", "livemode": bool,
    "secret_key_fingerprint": "<16 hex>", "publishable_key_mode": "test"|"live"|null,
    "mode_consistent": bool, "last_webhook_verified_at": ISO 8601 UTC | null,
    "checked_at": ISO 8601 UTC}``. Every outcome that reached the point of calling
    Stripe is stored (``GET /api/health/stripe`` shows it).

    :raise 401: ``invalid_api_key``; 429 ``too_many_attempts`` (see ``require_api_key``).
    :raise 429: ``rate_limited`` (more than 10 checks a minute from this client), with
        ``Retry-After``.
    :raise 409: ``secret_key_not_configured``.
    :raise 502: ``stripe_auth_failed`` (Stripe refused the key), ``api_key_expired``
        (Stripe says it expired), ``stripe_error`` (any other refusal).
    :raise 503: ``stripe_unreachable`` (timeout, connection error, Stripe's 429 or 5xx),
        with ``Retry-After``.
    """
    _rate_limit()
    inputs = _read()
    secret = inputs.secret_key
    if secret is None:
        raise ApiError("secret_key_not_configured",
                       "The site has no Stripe secret key yet; push stripe_secret_key first.",
                       status=409)
    try:
        result = services.check(inputs, api_base=current_app.config.get("STRIPE_API_BASE"))
    except CheckFailed as exc:
        _record(exc.code, secret)
        headers = ({"Retry-After": str(services.RETRY_AFTER)}
                   if exc.code == "stripe_unreachable" else None)
        raise ApiError(exc.code, exc.message, status=exc.status, headers=headers) from None
    _record(CHECK_OK, secret, result)
    return jsonify(success=True, **result.to_json())
