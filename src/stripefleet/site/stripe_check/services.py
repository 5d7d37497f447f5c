"""Check the site's Stripe secret key against Stripe, without creating anything.

One call, ``GET /v1/account`` (https://docs.stripe.com/api/accounts/retrieve), through
the official SDK with a short timeout and no retries (the caller, an operator or the
fleet's engine, retries; a check must answer quickly). Errors map to the codes of
``POST /api/test-stripe`` (README, "A site"; Stripe's errors:
https://docs.stripe.com/error-handling and
https://docs.stripe.com/error-codes/api-key-expired). The key never appears in a
message, a log line or an exception.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
import stripe

from stripefleet.common.db import iso_utc, utcnow
from stripefleet.common.keys import PUBLISHABLE_KEY, SECRET_KEY, fingerprint, key_mode
from stripefleet.site.extensions import db
from stripefleet.site.settings import services as settings
from stripefleet.site.webhooks.models import WebhookEvent

log = logging.getLogger(__name__)

#: Seconds the SDK waits for Stripe (connect and read) on the one attempt.
TIMEOUT = 10.0
#: ``Retry-After`` of a 503 ``stripe_unreachable``, in seconds.
RETRY_AFTER = 30


class CheckFailed(Exception):
    """Stripe did not accept the key, or could not be asked.

    Attributes:
        code: ``stripe_auth_failed``, ``api_key_expired``, ``stripe_unreachable`` or
            ``stripe_error`` (any other refusal from Stripe).
        status: the HTTP status to answer (502, or 503 for ``stripe_unreachable``).
        message: safe to show (no key).
    """

    def __init__(self, code: str, status: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.status = status
        self.message = message


@dataclass(frozen=True)
class CheckInputs:
    """What a check needs, read from the database before calling Stripe.

    ``secret_key`` is None when none is configured; ``publishable_key_mode`` is
    ``test``, ``live`` or None (no publishable key); ``last_webhook_verified_at`` is the
    newest event of the webhook inbox (every stored event passed its signature check),
    None when it is empty.
    """

    secret_key: str | None
    publishable_key_mode: str | None
    last_webhook_verified_at: dt.datetime | None

    def __repr__(self) -> str:  # never the key, even in a traceback's locals
        return (f"CheckInputs(secret_key={'set' if self.secret_key else None}, "
                f"publishable_key_mode={self.publishable_key_mode!r})")


@dataclass(frozen=True)
class CheckResult:
    """A successful check: the account the secret key belongs to."""

    account_id: str
    livemode: bool
    secret_key_fingerprint: str
    publishable_key_mode: str | None
    mode_consistent: bool
    last_webhook_verified_at: dt.datetime | None
    checked_at: dt.datetime

    def to_json(self) -> dict[str, Any]:
        """The 200 body of ``POST /api/test-stripe`` without ``success``."""
        return {
            "account_id": self.account_id,
            "livemode": self.livemode,
            "secret_key_fingerprint": self.secret_key_fingerprint,
            "publishable_key_mode": self.publishable_key_mode,
            "mode_consistent": self.mode_consistent,
            "last_webhook_verified_at": iso_utc(self.last_webhook_verified_at),
            "checked_at": iso_utc(self.checked_at),
        }


def read_inputs() -> CheckInputs:
    """The stored keys and the newest webhook event's time (a read; writes nothing).

    Raises:
        stripefleet.common.crypto.DecryptionError: the key ring cannot decrypt the
            stored secret key.
    """
    newest = db.session.execute(sa.select(sa.func.max(WebhookEvent.received_at))).scalar()
    if newest is not None and newest.tzinfo is None:  # SQLite keeps no zone
        newest = newest.replace(tzinfo=dt.UTC)
    return CheckInputs(
        secret_key=settings.get_value(SECRET_KEY),
        publishable_key_mode=key_mode(settings.get_value(PUBLISHABLE_KEY)),
        last_webhook_verified_at=newest,
    )


def retrieve_account(secret_key: str, *, api_base: str | None) -> str:
    """The id (``acct_...``) of the account of ``secret_key``: ``GET /v1/account``.

    Args:
        secret_key: the key to check (``sk_test_``/``sk_live_``).
        api_base: ``STRIPE_API_BASE`` (the emulator), None for Stripe's API.

    Raises:
        CheckFailed: 502 ``api_key_expired`` (Stripe's 401 with that code), 502
            ``stripe_auth_failed`` (any other 401, or 403), 503 ``stripe_unreachable``
            (connection error or timeout, Stripe's 429 or 5xx), 502 ``stripe_error``
            (any other Stripe error).
    """
    http_client = stripe.RequestsClient(timeout=TIMEOUT)
    options: dict[str, Any] = {"max_network_retries": 0, "http_client": http_client}
    if api_base:
        options["base_addresses"] = {"api": api_base}
    try:
        account = stripe.StripeClient(secret_key, **options).v1.accounts.retrieve_current()
    except stripe.StripeError as exc:
        raise _failure(exc) from None
    finally:
        http_client.close()  # type: ignore[no-untyped-call]
    return str(account.id)


def _error_code(exc: stripe.StripeError) -> str | None:
    """Stripe's ``error.code``: the SDK leaves ``exc.code`` empty on a 401, so read the
    error object of the body too."""
    return exc.code or (exc.error.code if exc.error is not None else None)


def _failure(exc: stripe.StripeError) -> CheckFailed:
    code = _error_code(exc)
    if isinstance(exc, stripe.AuthenticationError) and code == "api_key_expired":
        failure = CheckFailed("api_key_expired", 502,
                              "Stripe says the site's secret key has expired; push a new "
                              "one (Dashboard > Developers > API keys).")
    elif isinstance(exc, stripe.AuthenticationError | stripe.PermissionError):
        failure = CheckFailed("stripe_auth_failed", 502,
                              "Stripe refused the site's secret key; push a valid one.")
    elif isinstance(exc, stripe.APIConnectionError | stripe.RateLimitError) or (
            exc.http_status or 500) >= 500:
        failure = CheckFailed("stripe_unreachable", 503,
                              f"Stripe could not be reached or is busy; try again in "
                              f"{RETRY_AFTER} s.")
    else:
        failure = CheckFailed("stripe_error", 502,
                              f"Stripe refused the check (HTTP {exc.http_status}, "
                              f"{code or type(exc).__name__}).")
    log.warning("Stripe check failed: %s (%s, HTTP %s, request %s)", failure.code,
                type(exc).__name__, exc.http_status, exc.request_id)
    return failure


def check(inputs: CheckInputs, *, api_base: str | None) -> CheckResult:
    """Call Stripe with ``inputs.secret_key`` (not None) and build the result.

    ``livemode`` is the secret key's mode (``sk_live_``); ``mode_consistent`` is True
    when the publishable key's mode equals it, or when no publishable key is set (the
    troubleshooting guide: never mix test and live).

    Raises:
        CheckFailed: see :func:`retrieve_account`.
    """
    secret = inputs.secret_key or ""
    account_id = retrieve_account(secret, api_base=api_base)
    mode = key_mode(secret)
    return CheckResult(
        account_id=account_id,
        livemode=mode == "live",
        secret_key_fingerprint=fingerprint(secret),
        publishable_key_mode=inputs.publishable_key_mode,
        mode_consistent=inputs.publishable_key_mode in (None, mode),
        last_webhook_verified_at=inputs.last_webhook_verified_at,
        checked_at=utcnow(),
    )


def record(outcome: str, secret_key: str, result: CheckResult | None = None) -> None:
    """Store the check through the settings domain (``record_stripe_check``); flushes."""
    settings.record_stripe_check(
        outcome, secret_key_fingerprint=fingerprint(secret_key),
        account_id=result.account_id if result else None,
        livemode=result.livemode if result else None,
        checked_at=result.checked_at if result else None)
