"""The propagation engine's plain values: what goes in (targets, options) and what
comes out (one result per target, a recap), and the engine's defaults
(:class:`EngineDefaults`). No Flask, no aiohttp in here, so that the CLI, the dashboard's
worker and the tests share them (README, "Pushing keys to the fleet").
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any, Final, Protocol


class TargetState(str, enum.Enum):  # noqa: UP042 (str() stays the member name)
    """Where one target of a rollout stands (README, "Pushing keys to the fleet": States).

    ``ok``: the site already had the value (nothing changed). ``changed``: the PUT
    changed it and the read-back matched. ``would_change``: a dry run found a different
    value. ``failed``: a definitive error (4xx, bad answer, verification failed).
    ``unreachable``: connect errors, timeouts or 5xx/429 after every retry.
    ``skipped``: not attempted (halted rollout, insecure URL for a secret, ...).
    ``rolled_back``: a rollback restored the value it had before.
    """

    PENDING = "pending"
    OK = "ok"
    CHANGED = "changed"
    WOULD_CHANGE = "would_change"
    FAILED = "failed"
    UNREACHABLE = "unreachable"
    SKIPPED = "skipped"
    ROLLED_BACK = "rolled_back"

    @property
    def succeeded(self) -> bool:
        """True for the states that count as success (exit code 0)."""
        return self in (TargetState.OK, TargetState.CHANGED, TargetState.WOULD_CHANGE,
                        TargetState.ROLLED_BACK)


@dataclass(frozen=True)
class Target:
    """One site to reach.

    Attributes:
        url: the site's base URL, without a trailing slash (``https://shop.example.fr``).
        api_key: the key sent as ``X-API-Key`` (never printed; excluded from repr).
        name: a display name; the URL when None.
    """

    url: str
    api_key: str = field(repr=False)
    name: str | None = None

    @property
    def label(self) -> str:
        """The name to show: ``name`` or ``url``."""
        return self.name or self.url


class SharedSlots(Protocol):
    """Request slots shared by several runs: ``async with shared.slot(): ...`` holds one
    for the time of one HTTP request (the dashboard's ``rollouts.slots``)."""

    def slot(self) -> AbstractAsyncContextManager[object]:
        """An async context manager that waits for a free slot and holds it."""
        ...


@dataclass(frozen=True)
class EngineDefaults:
    """The engine's tuning defaults, written once: :class:`PushOptions` takes its
    defaults from :data:`ENGINE_DEFAULTS`, and so do the CLI's options (``--timeout``...)
    and the dashboard's rollout options. Times in seconds, rates in requests per second.

    Attributes:
        timeout: per request (the troubleshooting guide's ``--timeout``: 8).
        concurrency: requests in flight across the whole fleet at most.
        rate: requests per second to any one site at most (the original propagation
            script advises 5-10 req/s); 0 is no limit.
        retries: extra attempts after a transient failure.
        backoff_base: first backoff; doubles each attempt, with full jitter.
        backoff_max: cap on one backoff.
        retry_after_cap: cap on an honoured ``Retry-After``.
    """

    timeout: float = 8.0
    concurrency: int = 10
    rate: float = 5.0
    retries: int = 3
    backoff_base: float = 0.5
    backoff_max: float = 30.0
    retry_after_cap: float = 60.0


#: The engine's defaults (README, "Pushing keys to the fleet": Options).
ENGINE_DEFAULTS: Final = EngineDefaults()


@dataclass(frozen=True)
class PushOptions:
    """How a rollout runs. Times in seconds, rates in requests per second; every
    tuning default is :data:`ENGINE_DEFAULTS`'.

    Attributes:
        dry_run: only read each site's current fingerprint; send no PUT.
        verify: read back after each PUT and compare fingerprints.
        timeout: per request, seconds.
        concurrency: requests in flight across the whole fleet at most.
        rate: requests per second to any one site at most; 0 is no limit.
        retries: extra attempts after a transient failure (connect error, timeout,
            429, 500, 502, 503, 504); 400/401/403/404 are never retried.
        backoff_base: first backoff, seconds; doubles each attempt, with full jitter.
        backoff_max: cap on one backoff, seconds.
        retry_after_cap: cap on an honoured ``Retry-After``, seconds.
        allow_insecure_http: allow secret settings over plain ``http://`` to a
            non-loopback host.
        shared_slots: a bound on requests in flight shared with other runs, perhaps in
            other processes (the dashboard's chunks of one rollout); each request holds
            one of this run's ``concurrency`` slots and one of these. None: this run's
            own bound only.
        functional_verify: after the PUT and the read-back of a secret or publishable
            key (or a key pair), ask the site to call Stripe with what it now holds
            (``POST /api/test-stripe``): the troubleshooting guide's check that a key is
            "not only saved but also functional". A failing check makes the target
            ``failed``; a site without the endpoint (404) keeps its state, with
            ``functional="unavailable"``. Not for dry runs.
        expected_account: the Stripe account (``acct_...``) the site must answer with
            in the functional check (the account of the secret key pushed, from the
            preflight); None: any account.
    """

    dry_run: bool = False
    verify: bool = True
    timeout: float = ENGINE_DEFAULTS.timeout
    concurrency: int = ENGINE_DEFAULTS.concurrency
    rate: float = ENGINE_DEFAULTS.rate
    retries: int = ENGINE_DEFAULTS.retries
    backoff_base: float = ENGINE_DEFAULTS.backoff_base
    backoff_max: float = ENGINE_DEFAULTS.backoff_max
    retry_after_cap: float = ENGINE_DEFAULTS.retry_after_cap
    allow_insecure_http: bool = False
    shared_slots: SharedSlots | None = field(default=None, compare=False, repr=False)
    functional_verify: bool = True
    expected_account: str | None = None


#: The ``setting`` of a result of a key-pair push (publishable + secret [+ webhook
#: secret] in one ``PUT /api/export/settings``).
KEY_PAIR: Final = "key_pair"

#: ``TargetResult.functional`` when the site has no ``POST /api/test-stripe`` (404).
FUNCTIONAL_UNAVAILABLE: Final = "unavailable"
#: ``TargetResult.functional`` after a publishable key pushed to a site without a
#: secret key: no mode to compare with, the push stands.
FUNCTIONAL_NO_SECRET_KEY: Final = "no_secret_key"


@dataclass
class TargetResult:
    """What happened to one target. Never holds a secret in clear.

    Attributes:
        url: the target's base URL.
        name: the target's display name.
        setting: the setting pushed or read.
        state: the final state.
        http_status: the last HTTP status seen, None when no answer came.
        attempts: requests tried for the main step (PUT, or GET for a dry run).
        latency_ms: wall time spent on this target, milliseconds.
        error: a stable error code (``invalid_api_key``, ``verification_failed``,
            ``timeout``, ``connection_refused``, ``bad_response``, ...) or None.
        message: a human sentence about the error, or None.
        fingerprint_before: the value's fingerprint before the change (from the PUT's
            ``previous_fingerprint`` or the read), None when unset or unknown.
        fingerprint_after: the fingerprint read back after the change.
        masked_before: the old value masked (``pk_test_...wxyz``), when known.
        masked_after: the new value masked.
        verified: True when the read-back matched the value pushed.
        account_id: the Stripe account the site's functional check answered, or None.
        livemode: that check's ``livemode``, or None.
        functional: the functional check's outcome: ``"ok"``, ``"unavailable"`` (the
            site answered 404: it has no ``POST /api/test-stripe``), the failing code
            (``stripe_auth_failed``, ``api_key_expired``, ``mode_mismatch``,
            ``account_mismatch``, ...), or None when no check ran.
        last_webhook_verified_at: the check's ``last_webhook_verified_at`` (ISO 8601
            UTC), or None.
    """

    url: str
    setting: str
    state: TargetState
    name: str | None = None
    http_status: int | None = None
    attempts: int = 0
    latency_ms: int = 0
    error: str | None = None
    message: str | None = None
    fingerprint_before: str | None = None
    fingerprint_after: str | None = None
    masked_before: str | None = None
    masked_after: str | None = None
    verified: bool = False
    account_id: str | None = None
    livemode: bool | None = None
    functional: str | None = None
    last_webhook_verified_at: str | None = None

    def as_dict(self) -> dict[str, object]:
        """A JSON-ready dict (the ``--json`` line and the dashboard's row)."""
        return {
            "url": self.url,
            "name": self.name,
            "setting": self.setting,
            "state": self.state.value,
            "http_status": self.http_status,
            "attempts": self.attempts,
            "latency_ms": self.latency_ms,
            "error": self.error,
            "message": self.message,
            "fingerprint_before": self.fingerprint_before,
            "fingerprint_after": self.fingerprint_after,
            "masked_before": self.masked_before,
            "masked_after": self.masked_after,
            "verified": self.verified,
            "account_id": self.account_id,
            "livemode": self.livemode,
            "functional": self.functional,
            "last_webhook_verified_at": self.last_webhook_verified_at,
        }


RECAP_STATES = ("ok", "changed", "would_change", "failed", "unreachable", "skipped",
                "rolled_back")


@dataclass
class Recap:
    """Counts per target state at the end of a run, like Ansible's PLAY RECAP."""

    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(RECAP_STATES, 0))

    def add(self, state: TargetState) -> None:
        """Count one more target in ``state``."""
        self.counts[state.value] = self.counts.get(state.value, 0) + 1

    @classmethod
    def of(cls, results: Iterable[TargetResult]) -> Recap:
        """The recap of finished results."""
        recap = cls()
        for result in results:
            recap.add(result.state)
        return recap

    @property
    def total(self) -> int:
        """How many targets were counted."""
        return sum(self.counts.values())

    @property
    def succeeded(self) -> bool:
        """True when no target failed, was unreachable or was skipped."""
        return not (self.counts.get("failed") or self.counts.get("unreachable")
                    or self.counts.get("skipped"))

    def line(self) -> str:
        """``ok=.. changed=.. failed=.. unreachable=.. skipped=..`` (the CLI's recap line),
        plus the dry-run and rollback counts when they are not zero."""
        keys = ["ok", "changed", "failed", "unreachable", "skipped"]
        keys += [k for k in ("would_change", "rolled_back") if self.counts.get(k)]
        return " ".join(f"{k}={self.counts.get(k, 0)}" for k in keys)


@dataclass
class SiteSnapshot:
    """What one site answered to ``GET /api/export/settings`` (backup, dry run, drift).

    Attributes:
        url: the site's base URL.
        name: its display name.
        ok: True when the site answered 200 with a well-formed body.
        error: a stable error code when ``ok`` is False (``invalid_api_key``,
            ``timeout``, ``bad_response``, ...), else None.
        http_status: the last HTTP status seen, None when no answer came.
        settings: the ``settings`` object of the answer: per setting name, its entry
            (``configured``, ``fingerprint``, ``masked``, ``updated_at``, ``version``;
            ``value`` for the publishable key only). Empty when ``ok`` is False.
        attempts: requests tried.
        latency_ms: wall time spent on this site, milliseconds.
        message: a human sentence about the error, or None.
    """

    url: str
    name: str | None = None
    ok: bool = False
    error: str | None = None
    http_status: int | None = None
    settings: dict[str, dict[str, Any]] = field(default_factory=dict)
    attempts: int = 0
    latency_ms: int = 0
    message: str | None = None

    def as_dict(self) -> dict[str, object]:
        """A JSON-ready dict."""
        return {"url": self.url, "name": self.name, "ok": self.ok, "error": self.error,
                "http_status": self.http_status, "settings": self.settings,
                "attempts": self.attempts, "latency_ms": self.latency_ms,
                "message": self.message}


@dataclass
class StripeHealth:
    """What one site answered to ``GET /api/health/stripe`` (the preflight's account
    check reads ``account_id``: the account of the site's last functional check).

    Attributes:
        url: the site's base URL.
        name: its display name.
        ok: True when the site answered 200 with a JSON object.
        error: a stable error code when ``ok`` is False, else None.
        http_status: the last HTTP status seen, None when no answer came.
        account_id: ``acct_...`` from the site's last functional check; None before the
            first check, or on a site whose answer has no such field.
        checked_at: when that check ran (ISO 8601 UTC), or None.
        environment: ``test``, ``live``, ``mixed`` or None (the keys' modes).
    """

    url: str
    name: str | None = None
    ok: bool = False
    error: str | None = None
    http_status: int | None = None
    account_id: str | None = None
    checked_at: str | None = None
    environment: str | None = None
