"""The propagation engine: push a setting to many sites, verify, read.

Per target: ``PUT /api/export/settings/{setting}``, then read back ``GET
/api/export/settings`` and compare fingerprints (two requests a site; a dry run only
reads); for a secret or publishable key (or a key pair, one ``PUT
/api/export/settings`` with every value) a third request, ``POST /api/test-stripe``,
checks that the site's keys work with Stripe (``PushOptions.functional_verify``).
``concurrency`` workers pull targets lazily from the iterable, so memory stays flat in
the number of sites; each result goes to ``on_result`` as soon as its target
finishes. One aiohttp session serves the whole run.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import ipaddress
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from contextlib import AbstractAsyncContextManager
from typing import Any, TypeVar
from urllib.parse import urlsplit

import aiohttp

from stripefleet.common.keys import (
    MASTER_API_KEY,
    PUBLISHABLE_KEY,
    SECRET_KEY,
    SETTINGS,
    STRIPE_SETTINGS,
    InvalidValue,
    fingerprint,
    is_secret,
    mask,
    normalize_value,
)
from stripefleet.propagation import client
from stripefleet.propagation.ratelimit import RateLimiter
from stripefleet.propagation.types import (
    FUNCTIONAL_NO_SECRET_KEY,
    FUNCTIONAL_UNAVAILABLE,
    KEY_PAIR,
    PushOptions,
    Recap,
    SharedSlots,
    SiteSnapshot,
    StripeHealth,
    Target,
    TargetResult,
    TargetState,
)

log = logging.getLogger("stripefleet.propagation")

ResultCallback = Callable[[TargetResult], Awaitable[None] | None]
SnapshotCallback = Callable[[SiteSnapshot], Awaitable[None] | None]
HealthCallback = Callable[[StripeHealth], Awaitable[None] | None]
T = TypeVar("T")

SETTINGS_PATH = "/api/export/settings"
TEST_STRIPE_PATH = "/api/test-stripe"
HEALTH_STRIPE_PATH = "/api/health/stripe"
#: Answers of the functional check never retried: Stripe's refusal of the key (a 502
#: that no retry changes) or its silence (each attempt spends the site's Stripe rate
#: limit; the operator checks again later).
NOT_RETRIED = ("stripe_auth_failed", "api_key_expired", "stripe_unreachable")
#: The settings whose push ends with the functional check (and key pairs).
FUNCTIONAL_SETTINGS = (PUBLISHABLE_KEY, SECRET_KEY, KEY_PAIR)
WORKERS_PER_SLOT = 2  # targets in progress per request slot (memory stays flat)
DEFAULT_OPTIONS = PushOptions()  # frozen: safe to share as a default


class _Run:
    """What one run shares: options, session, rate limiter, request slots."""

    def __init__(self, options: PushOptions, session: aiohttp.ClientSession) -> None:
        self.options = options
        self.session = session
        self.limiter = RateLimiter(options.rate)
        own = asyncio.Semaphore(options.concurrency)
        shared = options.shared_slots
        #: A fresh context manager per request: one of this run's slots, and one of the
        #: shared ones when the options carry them.
        self.slot: Callable[[], AbstractAsyncContextManager[object]] = (
            (lambda: own) if shared is None else (lambda: _both(own, shared)))

    async def call(self, target: Target, method: str, path: str, *, api_key: str,
                   body: dict[str, Any] | None = None, close: bool = False,
                   idempotency_key: str | None = None,
                   final_errors: tuple[str, ...] = ()) -> client.Reply:
        return await client.call(self.session, self.limiter, self.slot, self.options,
                                 target.url, method, target.url + path, api_key=api_key,
                                 body=body, close=close, idempotency_key=idempotency_key,
                                 final_errors=final_errors)


@contextlib.asynccontextmanager
async def _both(own: asyncio.Semaphore, shared: SharedSlots) -> AsyncIterator[None]:
    """One of this run's slots, then one of the shared ones (released in reverse)."""
    async with own, shared.slot():
        yield


def _check_options(options: PushOptions) -> None:
    if options.concurrency < 1:
        raise ValueError("concurrency must be at least 1")
    if options.timeout <= 0:
        raise ValueError("timeout must be positive (seconds)")
    if options.retries < 0:
        raise ValueError("retries must be 0 or more")


async def _emit(callback: Callable[[Any], Awaitable[None] | None] | None, value: Any) -> None:
    if callback is not None:
        outcome = callback(value)
        if inspect.isawaitable(outcome):
            await outcome


async def _pool(items: Iterable[T], options: PushOptions,
                work: Callable[[_Run, T], Awaitable[None]]) -> None:
    """Run ``work`` on each item with ``WORKERS_PER_SLOT x concurrency`` workers sharing
    one iterator (consumed as workers free up) and one session. Requests in flight stay
    bounded by ``concurrency`` (the run's slots); the extra workers keep every slot busy
    while others parse an answer or wait for a site's rate."""
    _check_options(options)
    iterator = iter(items)
    async with client.make_session(options) as session:
        run = _Run(options, session)

        async def worker() -> None:
            for item in iterator:
                await work(run, item)

        async with asyncio.TaskGroup() as group:
            for _ in range(WORKERS_PER_SLOT * options.concurrency):
                group.create_task(worker())


def is_loopback(url: str) -> bool:
    """True when ``url``'s host is ``localhost`` or a loopback address."""
    host = (urlsplit(url).hostname or "").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def insecure_transport(url: str, setting: str, options: PushOptions) -> bool:
    """True when a secret ``setting`` would travel over plain HTTP to a non-loopback
    host without ``allow_insecure_http`` (README, section 'Pushing keys to the fleet',
    option ``--allow-insecure-http``)."""
    return (is_secret(setting) and urlsplit(url).scheme.lower() == "http"
            and not is_loopback(url) and not options.allow_insecure_http)


def _entry(reply: client.Reply, setting: str) -> dict[str, Any] | None:
    """The well-formed ``settings[setting]`` entry of a read, or None."""
    settings = reply.body.get("settings") if reply.body else None
    entry = settings.get(setting) if isinstance(settings, dict) else None
    if not isinstance(entry, dict) or not isinstance(entry.get("configured"), bool):
        return None
    fp = entry.get("fingerprint")
    if fp is not None and not isinstance(fp, str):
        return None
    if entry["configured"] and fp is None:
        return None
    return entry


def _result(target: Target, setting: str, started: float, reply: client.Reply | None,
            state: TargetState, **fields: Any) -> TargetResult:
    if reply is not None:
        fields.setdefault("http_status", reply.status)
        fields.setdefault("attempts", reply.attempts)
        if not state.succeeded and state is not TargetState.SKIPPED:
            fields.setdefault("error", reply.error)
            fields.setdefault("message", reply.message)
    return TargetResult(url=target.url, name=target.name, setting=setting, state=state,
                        latency_ms=round((time.monotonic() - started) * 1000), **fields)


def _failure(reply: client.Reply) -> TargetState:
    return TargetState.UNREACHABLE if reply.transient else TargetState.FAILED


def _functional_wanted(setting: str, options: PushOptions) -> bool:
    """True when a push of ``setting`` ends with the functional check."""
    return options.functional_verify and not options.dry_run and setting in FUNCTIONAL_SETTINGS


async def _read(run: _Run, target: Target, setting: str, started: float, *, api_key: str,
                close: bool = True
                ) -> tuple[dict[str, Any] | None, TargetResult | None, client.Reply]:
    """GET the settings; the entry, or the failed result to report instead."""
    reply = await run.call(target, "GET", SETTINGS_PATH, api_key=api_key, close=close)
    if not reply.ok:
        return None, _result(target, setting, started, reply, _failure(reply)), reply
    entry = _entry(reply, setting)
    if entry is None:
        bad = _result(target, setting, started, reply, TargetState.FAILED, error="bad_response",
                      message=f"The settings answer lacks a well-formed {setting!r} entry.")
        return None, bad, reply
    return entry, None, reply


async def _put(run: _Run, target: Target, setting: str, value: str) -> client.Reply:
    """PUT the value, retried with one ``Idempotency-Key``: when an attempt landed but
    its answer was lost (a timeout, a reset), the site answers the retry as it answered
    that attempt (``changed`` true), so the recap says ``changed``, not ``ok``.

    A rotation of ``template_master_api_key`` whose lost attempt landed makes the site
    refuse the old key: a 401 is tried once more with the new key (a site that refuses
    both answers 401 again). aiohttp itself re-sends an idempotent request once when
    the connection drops, so a lost answer may not show in ``attempts``.
    """
    key = f"stripefleet-{uuid.uuid4().hex}"
    path = f"{SETTINGS_PATH}/{setting}"
    close = not run.options.verify and not _functional_wanted(setting, run.options)
    put = await run.call(target, "PUT", path, api_key=target.api_key, body={"value": value},
                         close=close, idempotency_key=key)
    if setting == MASTER_API_KEY and put.status == 401 and value != target.api_key:
        attempts = put.attempts
        put = await run.call(target, "PUT", path, api_key=value, body={"value": value},
                             close=close, idempotency_key=key)
        put.attempts += attempts
    return put


async def _push_one(run: _Run, target: Target, setting: str, value: str) -> TargetResult:
    started = time.monotonic()
    wanted = fingerprint(value)
    if insecure_transport(target.url, setting, run.options):
        return _result(target, setting, started, None, TargetState.SKIPPED,
                       error="insecure_transport",
                       message="A secret is never sent over plain http:// to a non-loopback "
                               "host (use https://, or allow_insecure_http).")
    if run.options.dry_run:
        entry, failed, reply = await _read(run, target, setting, started, api_key=target.api_key)
        if failed is not None or entry is None:
            return failed or _result(target, setting, started, reply, TargetState.FAILED)
        before = entry.get("fingerprint")
        state = TargetState.OK if before == wanted else TargetState.WOULD_CHANGE
        return _result(target, setting, started, reply, state, fingerprint_before=before,
                       masked_before=entry.get("masked"), masked_after=mask(value),
                       fingerprint_after=wanted)
    put = await _put(run, target, setting, value)
    if not put.ok:
        return _result(target, setting, started, put, _failure(put))
    assert put.body is not None
    changed, previous = put.body.get("changed"), put.body.get("previous_fingerprint")
    if not isinstance(changed, bool) or not (previous is None or isinstance(previous, str)):
        return _result(target, setting, started, put, TargetState.FAILED, error="bad_response",
                       message="The PUT answer lacks \"changed\" or \"previous_fingerprint\".")
    state = TargetState.CHANGED if changed else TargetState.OK
    fields: dict[str, Any] = {"fingerprint_before": previous, "masked_after": mask(value)}
    functional = _functional_wanted(setting, run.options)
    if not run.options.verify:
        done = _result(target, setting, started, put, state, fingerprint_after=wanted, **fields)
        return await _functional(run, target, done, started) if functional else done
    # After a rotation of the fleet's API key, only the new key is accepted.
    read_key = value if setting == MASTER_API_KEY else target.api_key
    entry, failed, reply = await _read(run, target, setting, started, api_key=read_key,
                                       close=not functional)
    if failed is not None or entry is None:
        assert failed is not None
        failed.attempts, failed.fingerprint_before = put.attempts, previous
        failed.message = f"The PUT was accepted; reading it back failed: {failed.message}"
        return failed
    after = entry.get("fingerprint")
    if after != wanted:
        return _result(target, setting, started, put, TargetState.FAILED,
                       error="verification_failed", fingerprint_after=after,
                       message="The site accepted the PUT but does not hold the new value.",
                       **fields)
    done = _result(target, setting, started, put, state, fingerprint_after=after,
                   verified=True, **fields)
    return await _functional(run, target, done, started) if functional else done


async def _functional(run: _Run, target: Target, result: TargetResult,
                      started: float) -> TargetResult:
    """``POST /api/test-stripe`` after a push: ``result`` kept, or turned ``failed``."""
    reply = await run.call(target, "POST", TEST_STRIPE_PATH, api_key=target.api_key,
                           close=True, final_errors=NOT_RETRIED)
    apply_functional(result, reply, run.options.expected_account)
    result.latency_ms = round((time.monotonic() - started) * 1000)
    return result


def apply_functional(result: TargetResult, reply: client.Reply,
                     expected_account: str | None) -> None:
    """Read one ``POST /api/test-stripe`` answer into ``result`` (the site's contract:
    README, "A site"; the rule: "Pushing keys to the fleet", functional verification).

    - A 404 (a site without the endpoint): ``functional="unavailable"``, state and error
      kept.
    - After a push of the publishable key alone, a 409 ``secret_key_not_configured`` (a
      site not given its secret key yet: no mode to compare with):
      ``functional="no_secret_key"``, state kept.
    - A success whose ``mode_consistent`` is true and whose ``account_id`` is
      ``expected_account`` (when given): ``functional="ok"``, state kept.
    - Anything else makes the result ``failed`` with ``error`` the site's code
      (``stripe_auth_failed``, ``api_key_expired``, ``secret_key_not_configured``,
      ``stripe_unreachable``, ``rate_limited``, ...), ``bad_response``,
      ``mode_mismatch`` or ``account_mismatch``.
    """
    if reply.status == 404:
        result.functional = FUNCTIONAL_UNAVAILABLE
        return
    if (reply.status == 409 and reply.error == "secret_key_not_configured"
            and result.setting == PUBLISHABLE_KEY):
        result.functional = FUNCTIONAL_NO_SECRET_KEY
        return
    if not reply.ok:
        _functional_failed(result, reply.error or "bad_response",
                           f"The functional check failed: {reply.message}", reply.status)
        return
    body = reply.body or {}
    account, livemode = body.get("account_id"), body.get("livemode")
    consistent, webhook = body.get("mode_consistent"), body.get("last_webhook_verified_at")
    if body.get("success") is not True or not isinstance(account, str) \
            or not isinstance(livemode, bool) or not isinstance(consistent, bool):
        _functional_failed(result, "bad_response", "The functional check's answer lacks "
                           "\"account_id\", \"livemode\" or \"mode_consistent\".", reply.status)
        return
    result.account_id, result.livemode = account, livemode
    result.last_webhook_verified_at = webhook if isinstance(webhook, str) else None
    if not consistent:
        _functional_failed(result, "mode_mismatch", "The site's publishable and secret keys "
                           "are in different modes (test and live).", reply.status)
    elif expected_account is not None and account != expected_account:
        _functional_failed(result, "account_mismatch", f"The site's secret key belongs to "
                           f"{account}, not to {expected_account}.", reply.status)
    else:
        result.functional = "ok"


def _functional_failed(result: TargetResult, code: str, message: str,
                       status: int | None) -> None:
    result.state, result.error, result.message = TargetState.FAILED, code, message
    result.functional, result.http_status = code, status


def _pair_entries(reply: client.Reply, names: Iterable[str]) -> dict[str, dict[str, Any]] | None:
    entries: dict[str, dict[str, Any]] = {}
    for name in names:
        entry = _entry(reply, name)
        if entry is None:
            return None
        entries[name] = entry
    return entries


def _pair_masked(values: dict[str, str | None]) -> str:
    return ", ".join(mask(v) if v else "(not set)" for v in values.values())


async def _push_pair_one(run: _Run, target: Target, values: dict[str, str]) -> TargetResult:
    """One site of a key-pair push: ``PUT /api/export/settings`` with every value (one
    transaction on the site), the read-back of each, then the functional check."""
    started = time.monotonic()
    wanted = {name: fingerprint(v) for name, v in values.items()}
    if insecure_transport(target.url, SECRET_KEY, run.options):
        return _result(target, KEY_PAIR, started, None, TargetState.SKIPPED,
                       error="insecure_transport",
                       message="A secret is never sent over plain http:// to a non-loopback "
                               "host (use https://, or allow_insecure_http).")
    functional = _functional_wanted(KEY_PAIR, run.options)
    if run.options.dry_run:
        reply = await run.call(target, "GET", SETTINGS_PATH, api_key=target.api_key, close=True)
        if not reply.ok:
            return _result(target, KEY_PAIR, started, reply, _failure(reply))
        entries = _pair_entries(reply, values)
        if entries is None:
            return _result(target, KEY_PAIR, started, reply, TargetState.FAILED,
                           error="bad_response", message="The settings answer is malformed.")
        same = all(entries[n].get("fingerprint") == wanted[n] for n in values)
        return _result(target, KEY_PAIR, started, reply,
                       TargetState.OK if same else TargetState.WOULD_CHANGE,
                       fingerprint_before=entries[SECRET_KEY].get("fingerprint"),
                       fingerprint_after=wanted[SECRET_KEY],
                       masked_before=", ".join(str(entries[n].get("masked") or "(not set)")
                                               for n in values),
                       masked_after=_pair_masked(dict(values)))
    key = f"stripefleet-{uuid.uuid4().hex}"
    put = await run.call(target, "PUT", SETTINGS_PATH, api_key=target.api_key,
                         body={"settings": values}, idempotency_key=key,
                         close=not run.options.verify and not functional)
    if not put.ok:
        return _result(target, KEY_PAIR, started, put, _failure(put))
    answered = put.body.get("settings") if put.body else None
    if not isinstance(answered, dict) or not all(
            isinstance(answered.get(n), dict) and isinstance(answered[n].get("changed"), bool)
            for n in values):
        return _result(target, KEY_PAIR, started, put, TargetState.FAILED, error="bad_response",
                       message="The PUT answer lacks a \"changed\" entry per setting.")
    changed = any(answered[n]["changed"] for n in values)
    previous = answered[SECRET_KEY].get("previous_fingerprint")
    fields: dict[str, Any] = {
        "fingerprint_before": previous if isinstance(previous, str) else None,
        "masked_after": _pair_masked(dict(values))}
    state = TargetState.CHANGED if changed else TargetState.OK
    if not run.options.verify:
        done = _result(target, KEY_PAIR, started, put, state,
                       fingerprint_after=wanted[SECRET_KEY], **fields)
        return await _functional(run, target, done, started) if functional else done
    reply = await run.call(target, "GET", SETTINGS_PATH, api_key=target.api_key,
                           close=not functional)
    entries = _pair_entries(reply, values) if reply.ok else None
    if entries is None:
        if reply.ok:
            failed = _result(target, KEY_PAIR, started, reply, TargetState.FAILED,
                             error="bad_response", message="The settings answer is malformed.",
                             **fields)
        else:
            failed = _result(target, KEY_PAIR, started, reply, _failure(reply), **fields)
        failed.attempts = put.attempts
        failed.message = f"The PUT was accepted; reading it back failed: {failed.message}"
        return failed
    after = entries[SECRET_KEY].get("fingerprint")
    if any(entries[n].get("fingerprint") != wanted[n] for n in values):
        return _result(target, KEY_PAIR, started, put, TargetState.FAILED,
                       error="verification_failed", fingerprint_after=after,
                       message="The site accepted the PUT but does not hold every new value.",
                       **fields)
    done = _result(target, KEY_PAIR, started, put, state, fingerprint_after=after,
                   verified=True, **fields)
    return await _functional(run, target, done, started) if functional else done


async def _verify_one(run: _Run, target: Target, setting: str,
                      expected: str | None) -> TargetResult:
    started = time.monotonic()
    entry, failed, reply = await _read(run, target, setting, started, api_key=target.api_key)
    if failed is not None or entry is None:
        assert failed is not None
        return failed
    actual = entry.get("fingerprint")
    fields: dict[str, Any] = {"fingerprint_before": actual, "masked_before": entry.get("masked")}
    if not entry["configured"]:
        return _result(target, setting, started, reply, TargetState.FAILED,
                       error="not_configured", message=f"{setting} is not set on this site.",
                       **fields)
    if expected is not None and actual != fingerprint(expected):
        return _result(target, setting, started, reply, TargetState.FAILED, error="drift",
                       message=f"{setting} differs from the expected value.",
                       fingerprint_after=fingerprint(expected), **fields)
    return _result(target, setting, started, reply, TargetState.OK, verified=True,
                   fingerprint_after=actual, **fields)


async def _read_one(run: _Run, target: Target) -> SiteSnapshot:
    started = time.monotonic()
    reply = await run.call(target, "GET", SETTINGS_PATH, api_key=target.api_key, close=True)
    snap = SiteSnapshot(url=target.url, name=target.name, http_status=reply.status,
                        attempts=reply.attempts)
    settings = reply.body.get("settings") if reply.body else None
    if not reply.ok:
        snap.error, snap.message = reply.error, reply.message
    elif not isinstance(settings, dict) or not all(
            isinstance(v, dict) for v in settings.values()):
        snap.error, snap.message = "bad_response", "The answer has no \"settings\" object."
    else:
        snap.ok, snap.settings = True, settings
    snap.latency_ms = round((time.monotonic() - started) * 1000)
    return snap


def _guarded(target: Target, setting: str, exc: Exception) -> TargetResult:
    log.exception("unexpected error on %s", target.url)
    return TargetResult(url=target.url, name=target.name, setting=setting,
                        state=TargetState.FAILED, error="internal_error",
                        message=f"Unexpected {type(exc).__name__} in the engine.")


async def propagate_values(items: Iterable[tuple[Target, str]], setting: str, *,
                           options: PushOptions = DEFAULT_OPTIONS,
                           on_result: ResultCallback | None = None) -> Recap:
    """Push a value per target (rollbacks): PUT, then verify by reading back.

    Args:
        items: ``(target, value)`` pairs; may be lazy (consumed as workers free up).
        setting: one of ``common.keys.SETTINGS``.
        options: see :class:`PushOptions` (``dry_run`` only reads).
        on_result: called (or awaited) with each :class:`TargetResult` as it finishes;
            an exception it raises stops the run and propagates to the caller.

    Returns:
        The :class:`Recap`: every item counted exactly once. A value that fails
        validation makes its target ``failed`` with the format's error code, no request.

    Raises:
        ValueError: unknown setting, or options out of range.
    """
    if setting not in SETTINGS:
        raise ValueError(f"unknown setting {setting!r}")
    recap = Recap()

    async def work(run: _Run, item: tuple[Target, str]) -> None:
        target, raw = item
        try:
            value = normalize_value(setting, raw)
            result = await _push_one(run, target, setting, value)
        except InvalidValue as exc:
            result = TargetResult(url=target.url, name=target.name, setting=setting,
                                  state=TargetState.FAILED, error=exc.code, message=str(exc))
        except Exception as exc:  # a target's bug never stops the rollout
            result = _guarded(target, setting, exc)
        recap.add(result.state)
        await _emit(on_result, result)

    await _pool(items, options, work)
    return recap


async def propagate(targets: Iterable[Target], setting: str, value: str, *,
                    options: PushOptions = DEFAULT_OPTIONS,
                    on_result: ResultCallback | None = None) -> Recap:
    """Push one value of ``setting`` to every target, then verify each.

    States: ``changed`` (PUT changed it, read-back matched), ``ok`` (already set),
    ``would_change`` (dry run), ``failed`` (definitive error, ``bad_response``,
    ``verification_failed``), ``unreachable`` (transient errors after every retry),
    ``skipped`` (``insecure_transport``).

    Raises:
        InvalidValue: ``value`` does not match the setting's format (before any request).
        ValueError: unknown setting, or options out of range.
    """
    if setting not in SETTINGS:
        raise ValueError(f"unknown setting {setting!r}")
    clean = normalize_value(setting, value)
    return await propagate_values(((t, clean) for t in targets), setting, options=options,
                                  on_result=on_result)


async def verify(targets: Iterable[Target], setting: str, expected: str | None, *,
                 options: PushOptions = DEFAULT_OPTIONS,
                 on_result: ResultCallback | None = None) -> Recap:
    """Read ``setting`` on every target and compare (``stripefleet verify``).

    ``expected`` None only checks that it is configured. A match is ``ok``; otherwise
    ``failed`` with ``drift`` or ``not_configured``; read errors as in :func:`propagate`.

    Raises:
        InvalidValue: ``expected`` does not match the setting's format.
        ValueError: unknown setting, or options out of range.
    """
    if setting not in SETTINGS:
        raise ValueError(f"unknown setting {setting!r}")
    clean = normalize_value(setting, expected) if expected is not None else None
    recap = Recap()

    async def work(run: _Run, target: Target) -> None:
        try:
            result = await _verify_one(run, target, setting, clean)
        except Exception as exc:
            result = _guarded(target, setting, exc)
        recap.add(result.state)
        await _emit(on_result, result)

    await _pool(targets, options, work)
    return recap


async def read_settings(targets: Iterable[Target], *, options: PushOptions = DEFAULT_OPTIONS,
                        on_snapshot: SnapshotCallback) -> None:
    """Read every target's ``GET /api/export/settings`` (backup, drift checks).

    Each :class:`SiteSnapshot` goes to ``on_snapshot`` as it arrives; a site that cannot
    be read gives ``ok=False`` with its error code, never an exception.
    """

    async def work(run: _Run, target: Target) -> None:
        try:
            snap = await _read_one(run, target)
        except Exception as exc:
            log.exception("unexpected error on %s", target.url)
            snap = SiteSnapshot(url=target.url, name=target.name, error="internal_error",
                                message=f"Unexpected {type(exc).__name__} in the engine.")
        await _emit(on_snapshot, snap)

    await _pool(targets, options, work)


def _pair_values(values: Mapping[str, str]) -> dict[str, str]:
    """The pair's values, trimmed and checked, publishable key first.

    Raises:
        ValueError: a missing publishable or secret key, or a setting that is not one of
            the Stripe settings.
        InvalidValue: a value not in its setting's format.
    """
    unknown = sorted(set(values) - set(STRIPE_SETTINGS))
    if unknown:
        raise ValueError(f"a key pair takes only {', '.join(STRIPE_SETTINGS)}; "
                         f"not {', '.join(unknown)}")
    if PUBLISHABLE_KEY not in values or SECRET_KEY not in values:
        raise ValueError("a key pair needs a publishable key and a secret key")
    return {name: normalize_value(name, values[name]) for name in STRIPE_SETTINGS
            if name in values}


async def propagate_pair_values(items: Iterable[tuple[Target, Mapping[str, str]]], *,
                                options: PushOptions = DEFAULT_OPTIONS,
                                on_result: ResultCallback | None = None) -> Recap:
    """Push a key pair per target (a pair rollout's rollback): one ``PUT
    /api/export/settings`` per site with every value (the site validates them as a
    whole and writes them in one transaction), the read-back of each, then the
    functional check (``options.functional_verify``).

    Args:
        items: ``(target, values)``: per target, setting -> value with
            ``stripe_publishable_key`` and ``stripe_secret_key`` and optionally
            ``stripe_webhook_secret``; may be lazy.
        options: see :class:`PushOptions`.
        on_result: called (or awaited) with each result as it finishes; its ``setting``
            is ``"key_pair"``, its fingerprints the secret key's, its masked values every
            value's in setting order (``pk_test_...abcd, sk_test_...wxyz``).

    Returns:
        The :class:`Recap`. A malformed pair makes its target ``failed`` with the
        format's code (``invalid_secret_format``, ...) or ``invalid_pair``, no request.
        A site without the bulk endpoint answers 404: ``failed``.

    Raises:
        ValueError: options out of range.
    """
    recap = Recap()

    async def work(run: _Run, item: tuple[Target, Mapping[str, str]]) -> None:
        target, raw = item
        try:
            values = _pair_values(raw)
            result = await _push_pair_one(run, target, values)
        except InvalidValue as exc:
            result = TargetResult(url=target.url, name=target.name, setting=KEY_PAIR,
                                  state=TargetState.FAILED, error=exc.code, message=str(exc))
        except ValueError as exc:
            result = TargetResult(url=target.url, name=target.name, setting=KEY_PAIR,
                                  state=TargetState.FAILED, error="invalid_pair",
                                  message=str(exc))
        except Exception as exc:
            result = _guarded(target, KEY_PAIR, exc)
        recap.add(result.state)
        await _emit(on_result, result)

    await _pool(items, options, work)
    return recap


async def propagate_pair(targets: Iterable[Target], values: Mapping[str, str], *,
                         options: PushOptions = DEFAULT_OPTIONS,
                         on_result: ResultCallback | None = None) -> Recap:
    """Push one key pair (publishable + secret [+ webhook secret]) to every target, as
    :func:`propagate_pair_values` (README, "Pushing keys to the fleet": ``push --pair``).

    Raises:
        InvalidValue: a value not in its setting's format (before any request).
        ValueError: a pair without both keys, an unknown setting, or options out of range.
    """
    clean = _pair_values(values)
    return await propagate_pair_values(((t, clean) for t in targets), options=options,
                                       on_result=on_result)


async def _check_one(run: _Run, target: Target) -> TargetResult:
    started = time.monotonic()
    reply = await run.call(target, "POST", TEST_STRIPE_PATH, api_key=target.api_key,
                           close=True, final_errors=NOT_RETRIED)
    result = _result(target, SECRET_KEY, started, reply, TargetState.OK)
    apply_functional(result, reply, run.options.expected_account)
    return result


async def check_functional(targets: Iterable[Target], *,
                           options: PushOptions = DEFAULT_OPTIONS,
                           on_result: ResultCallback | None = None) -> Recap:
    """Ask every target to call Stripe with its stored keys (``POST /api/test-stripe``,
    one request a site; ``stripefleet verify --functional``).

    Results (``setting`` ``stripe_secret_key``) carry ``account_id``, ``livemode``,
    ``functional`` and ``last_webhook_verified_at``; state ``ok``, or ``failed`` with the
    site's code, ``mode_mismatch`` or ``account_mismatch`` (``options.expected_account``)
    as in :func:`apply_functional`. A site without the endpoint (404) is ``ok`` with
    ``functional="unavailable"``.

    Raises:
        ValueError: options out of range.
    """
    recap = Recap()

    async def work(run: _Run, target: Target) -> None:
        try:
            result = await _check_one(run, target)
        except Exception as exc:
            result = _guarded(target, SECRET_KEY, exc)
        recap.add(result.state)
        await _emit(on_result, result)

    await _pool(targets, options, work)
    return recap


async def _health_one(run: _Run, target: Target) -> StripeHealth:
    reply = await run.call(target, "GET", HEALTH_STRIPE_PATH, api_key=target.api_key,
                           close=True)
    health = StripeHealth(url=target.url, name=target.name, http_status=reply.status)
    if not reply.ok or reply.body is None:
        health.error = reply.error
        return health
    body = reply.body
    account, checked, env = body.get("account_id"), body.get("checked_at"), body.get("environment")
    health.ok = True
    health.account_id = account if isinstance(account, str) and account else None
    health.checked_at = checked if isinstance(checked, str) else None
    health.environment = env if isinstance(env, str) else None
    return health


async def read_stripe_health(targets: Iterable[Target], *,
                             options: PushOptions = DEFAULT_OPTIONS,
                             on_health: HealthCallback) -> None:
    """Read every target's ``GET /api/health/stripe`` (the preflight's account check:
    ``account_id`` is the account of the site's last functional check, never a Stripe
    call). Each :class:`StripeHealth` goes to ``on_health``; a site that cannot be read
    gives ``ok=False`` with its error code, never an exception."""

    async def work(run: _Run, target: Target) -> None:
        try:
            health = await _health_one(run, target)
        except Exception as exc:
            log.exception("unexpected error on %s", target.url)
            health = StripeHealth(url=target.url, name=target.name,
                                  error=f"internal_error: {type(exc).__name__}")
        await _emit(on_health, health)

    await _pool(targets, options, work)
