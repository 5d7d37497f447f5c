"""The checks made before any site is touched (README, "Pushing keys to the fleet":
Preflight).

:func:`check_secret_key` asks Stripe whether a secret key works (``GET /v1/account``
through the official SDK) and which account it belongs to; :func:`check_sites` compares
the values to push with what each site is (its environment in the sites file, its
current Stripe account, its current secret key's mode) and lists the refusals: the
troubleshooting guide's "never mix test and live", and a key of another Stripe account
pushed by mistake.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from stripefleet.common.keys import (
    PUBLISHABLE_KEY,
    SECRET_KEY,
    InvalidValue,
    key_mode,
    mask,
    normalize_value,
)

#: The sites file's environments and the key mode each one takes.
ENVIRONMENT_MODES: Final = {"test": "test", "prod": "live"}

MODE_MISMATCH: Final = "mode_mismatch"
ACCOUNT_MISMATCH: Final = "account_mismatch"
PAIR_MODE_MISMATCH: Final = "pair_mode_mismatch"


@dataclass(frozen=True)
class StripeAccount:
    """The Stripe account a secret key belongs to.

    Attributes:
        id: ``acct_...``.
        livemode: True for a live key (``sk_live_``).
    """

    id: str
    livemode: bool


class PreflightRefused(Exception):
    """Stripe (or the key's format) refuses the secret key: nothing is pushed.

    Attributes:
        code: ``stripe_auth_failed`` (Stripe answered 401/403), ``api_key_expired``
            (Stripe's code for an expired key), ``stripe_unreachable`` (no answer, a
            rate limit or a 5xx), ``invalid_secret_format``.
        message: Stripe's reason (the key masked), or ours.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


if TYPE_CHECKING:
    import stripe


def _error_code(exc: stripe.StripeError) -> str | None:
    """Stripe's error code (``api_key_expired``...): the SDK's, else the answer's body
    (the SDK leaves ``code`` empty on an authentication error)."""
    if exc.code:
        return str(exc.code)
    body = exc.json_body if isinstance(exc.json_body, dict) else {}
    error = body.get("error")
    code = error.get("code") if isinstance(error, dict) else None
    return code if isinstance(code, str) else None


def _reason(exc: stripe.StripeError, secret_key: str) -> str:
    text = exc.user_message or str(exc) or type(exc).__name__
    return str(text).replace(secret_key, mask(secret_key))


def check_secret_key(secret_key: str, *, api_base: str | None = None,
                     timeout: float = 10.0) -> StripeAccount:
    """Ask Stripe which account ``secret_key`` belongs to (``GET /v1/account``,
    https://docs.stripe.com/api/accounts/retrieve; blocking, no retry; never logs the
    key, and Stripe's reason is passed on with the key masked).

    Args:
        secret_key: ``sk_test_...`` / ``sk_live_...`` (trimmed here).
        api_base: Stripe's API base URL (``STRIPE_API_BASE``: the emulator); None:
            Stripe's own.
        timeout: seconds for the request.

    Returns:
        The :class:`StripeAccount` (``livemode`` from the key's prefix).

    Raises:
        PreflightRefused: ``invalid_secret_format``, ``stripe_auth_failed``,
            ``api_key_expired`` or ``stripe_unreachable``.
    """
    try:
        key = normalize_value(SECRET_KEY, secret_key)
    except InvalidValue as exc:
        raise PreflightRefused(exc.code, str(exc)) from None
    import stripe  # lazy: 0.3 s at import (measured), paid by secret-key pushes only

    client = stripe.StripeClient(
        key, base_addresses={"api": api_base} if api_base else None, max_network_retries=0,
        http_client=stripe.new_default_http_client(timeout=timeout))
    try:
        account = client.v1.accounts.retrieve_current()
    except stripe.AuthenticationError as exc:
        expired = _error_code(exc) == "api_key_expired"
        code = "api_key_expired" if expired else "stripe_auth_failed"
        raise PreflightRefused(code, _reason(exc, key)) from None
    except stripe.PermissionError as exc:
        raise PreflightRefused("stripe_auth_failed", _reason(exc, key)) from None
    except (stripe.APIConnectionError, stripe.RateLimitError, stripe.APIError) as exc:
        raise PreflightRefused("stripe_unreachable", _reason(exc, key)) from None
    except stripe.StripeError as exc:
        raise PreflightRefused("stripe_auth_failed", _reason(exc, key)) from None
    account_id = getattr(account, "id", None)
    if not isinstance(account_id, str) or not account_id:
        raise PreflightRefused("stripe_unreachable", "Stripe's answer has no account id.")
    return StripeAccount(id=account_id, livemode=key_mode(key) == "live")


@dataclass(frozen=True)
class SiteFacts:
    """What the preflight knows of one site.

    Attributes:
        url: its base URL.
        name: its display name, or None.
        environment: ``test`` or ``prod`` (the sites file's ``env=`` tag), None: unknown
            (no mode check).
        account_id: the Stripe account of its last functional check (``GET
            /api/health/stripe``), None: unknown (no account check).
        secret_key_mode: ``test`` or ``live``, its current secret key's mode (from the
            masked key of ``GET /api/export/settings``), None: unknown or not set.
    """

    url: str
    name: str | None
    environment: str | None
    account_id: str | None
    secret_key_mode: str | None


@dataclass(frozen=True)
class Refusal:
    """A site the preflight will not push to, and why.

    Attributes:
        url: the site's base URL.
        name: its display name, or None.
        code: ``mode_mismatch``, ``account_mismatch`` or ``pair_mode_mismatch``.
        message: a sentence naming what differs (never a secret: masked values).
    """

    url: str
    name: str | None
    code: str
    message: str


def _mode_refusal(values: Mapping[str, str], site: SiteFacts) -> Refusal | None:
    wanted = ENVIRONMENT_MODES.get(site.environment or "")
    if wanted is None:
        return None
    for setting, value in values.items():
        mode = key_mode(value)
        if mode is not None and mode != wanted:
            return Refusal(site.url, site.name, MODE_MISMATCH,
                           f"{setting} {mask(value)} is a {mode} key; the site is "
                           f"env={site.environment} (it takes {wanted} keys)")
    return None


def check_sites(values: Mapping[str, str], sites: Iterable[SiteFacts], *,
                account: StripeAccount | None, allow_mode_mismatch: bool = False,
                allow_account_change: bool = False) -> list[Refusal]:
    """The refusals of a push of ``values`` to ``sites`` (README, "Pushing keys to the
    fleet": Preflight), in site order, at most one per code per site.

    Codes:
        ``mode_mismatch``: a ``*_live_`` value to an ``env=test`` site, or a ``*_test_``
            value to an ``env=prod`` site (the troubleshooting guide: never mix test and
            live). Overridden by ``allow_mode_mismatch``.
        ``account_mismatch``: ``account`` (the secret key's) differs from the site's
            current ``account_id``. Overridden by ``allow_account_change``.
        ``pair_mode_mismatch``: a publishable key pushed alone (no secret key in
            ``values``) whose mode differs from the site's current secret key's.
            Overridden by ``allow_mode_mismatch``.

    A fact that is None skips its check.

    Args:
        values: setting -> value (a pair passes both keys).
        sites: the sites' facts.
        account: the secret key's account (:func:`check_secret_key`), None when no
            secret key is pushed.
    """
    refusals: list[Refusal] = []
    publishable = values.get(PUBLISHABLE_KEY)
    for site in sites:
        if not allow_mode_mismatch:
            refusal = _mode_refusal(values, site)
            if refusal is not None:
                refusals.append(refusal)
        if (not allow_account_change and account is not None and site.account_id
                and site.account_id != account.id):
            refusals.append(Refusal(
                site.url, site.name, ACCOUNT_MISMATCH,
                f"the secret key belongs to {account.id}; the site's account is "
                f"{site.account_id}"))
        if (not allow_mode_mismatch and publishable is not None and SECRET_KEY not in values
                and site.secret_key_mode is not None
                and key_mode(publishable) != site.secret_key_mode):
            refusals.append(Refusal(
                site.url, site.name, PAIR_MODE_MISMATCH,
                f"the publishable key {mask(publishable)} is a {key_mode(publishable)} key; "
                f"the site's secret key is a {site.secret_key_mode} key (push both with "
                "--pair)"))
    return refusals


__all__ = ["ACCOUNT_MISMATCH", "ENVIRONMENT_MODES", "MODE_MISMATCH", "PAIR_MODE_MISMATCH",
           "PreflightRefused", "Refusal", "SiteFacts", "StripeAccount", "check_secret_key",
           "check_sites"]
