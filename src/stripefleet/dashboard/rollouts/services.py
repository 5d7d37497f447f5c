"""Rollouts: create (or dry run) after the preflight, start from a dry run, retry
failed, roll back, approve the next batch, halt, end a batch (threshold, pause, rollback
on halt), close, list; the engine options a rollout runs with.

Rules (README, "Users, roles, tokens"): an ``operator`` runs publishable-key rollouts,
dry runs and retries, and approves them; only an ``owner`` pushes (and approves)
secret keys, key pairs, webhook secrets and the fleet's API key, overrides the
preflight (``allow_*``), and rolls back. Safe rollouts: README, "The dashboard". One
push per setting runs at a time (``Rollout.lock_setting`` is unique): a second one is
refused with 409 ``rollout_in_progress``. Services only flush: the caller commits (a view's
``transactional``, the worker), then queues the new rollout (``tasks.launch``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flask import current_app
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from stripefleet.common.db import utcnow
from stripefleet.common.keys import (
    PUBLISHABLE_KEY,
    SECRET_KEY,
    WEBHOOK_SECRET,
    InvalidValue,
    fingerprint,
    is_secret,
    key_mode,
    mask,
    normalize_value,
)
from stripefleet.common.web import ApiError, Conflict, NotFound
from stripefleet.dashboard.audit import services as audit
from stripefleet.dashboard.auth.models import User
from stripefleet.dashboard.auth.security import deny
from stripefleet.dashboard.extensions import db, get_box
from stripefleet.dashboard.rollouts.models import (
    FAILED_TARGET_STATES,
    FINISHED_STATES,
    KEY_PAIR,
    OPEN_STATES,
    Rollout,
    RolloutTarget,
)
from stripefleet.dashboard.sites.models import Site
from stripefleet.dashboard.sites.services import (
    api_key_for,
    known_setting,
    pushed_value,
    select_sites,
)
from stripefleet.propagation import PushOptions, TargetState, batches, preflight
from stripefleet.propagation.types import ENGINE_DEFAULTS, RECAP_STATES

#: Engine options a rollout form may set: name -> (type, minimum, maximum, default);
#: the defaults are the engine's.
OPTION_LIMITS: dict[str, tuple[type, float, float, float]] = {
    "concurrency": (int, 1, 500, ENGINE_DEFAULTS.concurrency),
    "rate": (float, 0.1, 100, ENGINE_DEFAULTS.rate),
    "timeout": (float, 0.5, 120, ENGINE_DEFAULTS.timeout),
    "retries": (int, 0, 10, ENGINE_DEFAULTS.retries),
}
#: Switches of a rollout (README, "The dashboard": safe rollouts); None: the default
#: depends on the setting (:func:`parse_options`).
SWITCHES = ("pause_for_approval", "rollback_on_halt", "functional_verify",
            "allow_mode_mismatch", "allow_account_change")
#: Switches only an owner may turn on (they bypass the preflight; audited).
OWNER_SWITCHES = ("allow_mode_mismatch", "allow_account_change")
#: The settings of a key pair rollout: required, then optional.
PAIR_REQUIRED = (PUBLISHABLE_KEY, SECRET_KEY)
PAIR_OPTIONAL = (WEBHOOK_SECRET,)
#: Seconds a client waits before trying again after Stripe could not be reached.
PREFLIGHT_RETRY_AFTER = 30


class PreflightRefusedError(ApiError):
    """400: the preflight refused the rollout; nothing was created.

    ``code`` is the first refusal's code (``mode_mismatch``, ``account_mismatch``,
    ``pair_mode_mismatch``) and ``refusals`` lists each as
    ``{"site", "url", "code", "message"}``: the API answers them beside the error.
    """

    def __init__(self, refusals: list[preflight.Refusal]) -> None:
        first = refusals[0]
        super().__init__(first.code, f"The preflight refused {len(refusals)} site(s): "
                                     f"{first.message}")
        self.refusals = [{"site": r.name, "url": r.url, "code": r.code, "message": r.message}
                         for r in refusals]

    def as_dict(self) -> dict[str, object]:
        """The JSON error body with ``refusals``."""
        return {**super().as_dict(), "refusals": self.refusals}


def is_secret_setting(setting: str) -> bool:
    """True for a secret setting, and for a key pair (it holds a secret key)."""
    return setting == KEY_PAIR or is_secret(setting)


def required_role(setting: str) -> str:
    """``owner`` for secret settings, key pairs (and the fleet API key), ``operator``
    otherwise (README, "Users, roles, tokens")."""
    return "owner" if is_secret_setting(setting) else "operator"


def check_may_push(user: User, setting: str) -> None:
    """Raise Forbidden ``forbidden`` when ``user`` may not push ``setting``."""
    needed = required_role(setting)
    if not user.has_role(needed):
        raise deny(needed, f"Pushing {setting} needs the {needed} role; you are {user.role}.")


def _flag(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false", "1", "0", "on", "off"):
        return value.lower() in ("true", "1", "on")
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    raise ApiError("invalid_option", f"{name} is true or false.")


def _batches(raw: Any, setting: str, total: int) -> list[int | str]:
    if raw in (None, "", []):
        return batches.default_batches(setting, total)
    try:
        if isinstance(raw, str):
            spec = batches.parse_batches(raw)
        elif isinstance(raw, list):
            spec = batches.parse_batches(",".join(str(item) for item in raw))
        else:
            raise ValueError('batches is a list such as [1, "10%", "100%"]')
        batches.plan_batches(max(total, 1), spec)
    except ValueError as exc:
        raise ApiError("invalid_option", f"batches: {exc}") from None
    return spec


def parse_options(raw: dict[str, Any] | None, *, setting: str | None = None,
                  total: int = 1) -> dict[str, Any]:
    """Validated options with defaults (seconds, requests per second, percentages).

    Engine options (:data:`OPTION_LIMITS`), and when ``setting`` is given the safe
    rollout's (README, "The dashboard"): ``batches`` (list of counts or percentages of
    the ``total`` targets, Ansible's ``serial``; default
    ``propagation.batches.default_batches``), ``max_fail_percentage`` (0-100; default
    ``batches.default_max_fail_percentage``), ``pause_for_approval`` and
    ``rollback_on_halt`` (default true for secret keys and key pairs),
    ``functional_verify`` (default true), ``allow_mode_mismatch`` and
    ``allow_account_change`` (default false).

    Raises:
        ApiError: ``invalid_option`` naming the option and its range.
    """
    raw = dict(raw or {})
    options: dict[str, Any] = {}
    for name, (kind, low, high, default) in OPTION_LIMITS.items():
        value = raw.pop(name, None)
        if value in (None, ""):
            options[name] = kind(default)
            continue
        try:
            number = kind(value)
        except (TypeError, ValueError):
            raise ApiError("invalid_option", f"{name} must be a number.") from None
        if not low <= number <= high:
            raise ApiError("invalid_option", f"{name} must be between {low} and {high}.")
        options[name] = number
    if setting is not None:
        strict = setting in (SECRET_KEY, KEY_PAIR)
        options["batches"] = _batches(raw.pop("batches", None), setting, total)
        pct = raw.pop("max_fail_percentage", None)
        if pct in (None, ""):
            options["max_fail_percentage"] = float(batches.default_max_fail_percentage(setting))
        else:
            try:
                number = float(pct)
            except (TypeError, ValueError):
                raise ApiError("invalid_option", "max_fail_percentage must be a number.") \
                    from None
            if not 0 <= number <= 100:
                raise ApiError("invalid_option", "max_fail_percentage is between 0 and 100.")
            options["max_fail_percentage"] = number
        defaults = {"pause_for_approval": strict, "rollback_on_halt": strict,
                    "functional_verify": True, "allow_mode_mismatch": False,
                    "allow_account_change": False}
        for name in SWITCHES:
            value = raw.pop(name, None)
            options[name] = defaults[name] if value is None else _flag(name, value)
    if raw:
        raise ApiError("invalid_option", f"Unknown option(s): {', '.join(sorted(raw))}.")
    return options


def push_options(stored: dict[str, Any], *, dry_run: bool = False,
                 backoff_base: float = ENGINE_DEFAULTS.backoff_base,
                 expected_account: str | None = None) -> PushOptions:
    """The engine's options for a rollout's stored options (:func:`parse_options`'
    output; a missing one is the engine's default). ``functional_verify`` (default
    true) and ``expected_account`` (the preflight's account) turn on the engine's
    functional check after each push of a key."""
    defaults = ENGINE_DEFAULTS
    return PushOptions(
        dry_run=dry_run,
        timeout=float(stored.get("timeout", defaults.timeout)),
        concurrency=int(stored.get("concurrency", defaults.concurrency)),
        rate=float(stored.get("rate", defaults.rate)),
        retries=int(stored.get("retries", defaults.retries)),
        backoff_base=backoff_base,
        functional_verify=bool(stored.get("functional_verify", True)),
        expected_account=expected_account,
    )


def _value(setting: str, raw: Any) -> str:
    if not isinstance(raw, str) or not raw.strip():
        raise ApiError("missing_value", "Give the value to push.")
    try:
        return normalize_value(setting, raw)
    except InvalidValue as exc:
        raise ApiError(exc.code, str(exc)) from None


def pair_values(raw: Any) -> dict[str, str]:
    """The validated values of a key pair rollout: ``{"stripe_publishable_key",
    "stripe_secret_key", "stripe_webhook_secret"?}`` (each in its own format, README
    "Pushing keys to the fleet"), both keys of one mode (test or live).

    Raises:
        ApiError: ``missing_value`` (not an object, or a key missing), ``unknown_setting``
            (another name), a format code, ``pair_mode_mismatch``.
    """
    if not isinstance(raw, dict):
        raise ApiError("missing_value", 'A key pair is {"stripe_publishable_key": ..., '
                                        '"stripe_secret_key": ..., '
                                        '"stripe_webhook_secret"?: ...}.')
    unknown = set(raw) - set(PAIR_REQUIRED) - set(PAIR_OPTIONAL)
    if unknown:
        raise ApiError("unknown_setting", "A key pair holds stripe_publishable_key, "
                                          "stripe_secret_key and optionally "
                                          "stripe_webhook_secret.")
    values = {name: _value(name, raw.get(name)) for name in PAIR_REQUIRED}
    for name in PAIR_OPTIONAL:
        if raw.get(name) not in (None, ""):
            values[name] = _value(name, raw[name])
    if key_mode(values[PUBLISHABLE_KEY]) != key_mode(values[SECRET_KEY]):
        raise ApiError("pair_mode_mismatch", "The publishable key and the secret key are "
                                             "not of the same mode (test or live).")
    return values


def _values(setting: str, raw: Any) -> dict[str, str]:
    """Setting -> value in clear: one entry, or a key pair's."""
    if setting == KEY_PAIR:
        return pair_values(raw)
    return {setting: _value(setting, raw)}


def rollout_values(rollout: Rollout) -> dict[str, str]:
    """The values a rollout pushes, in clear, setting -> value (empty without any)."""
    if not rollout.value_enc:
        return {}
    clear = get_box().decrypt(rollout.value_enc)
    if rollout.setting == KEY_PAIR:
        return dict(json.loads(clear))
    return {rollout.setting: clear}


def _store_values(rollout: Rollout, values: Mapping[str, str]) -> None:
    box = get_box()
    if rollout.setting == KEY_PAIR:
        rollout.value_enc = box.encrypt(json.dumps(dict(values)))
        rollout.value_fingerprint = fingerprint(values[SECRET_KEY])
        rollout.value_masked = " + ".join(mask(values[name]) for name in
                                          (*PAIR_REQUIRED, *PAIR_OPTIONAL) if name in values)[:64]
    else:
        value = values[rollout.setting]
        rollout.value_enc = box.encrypt(value)
        rollout.value_fingerprint = fingerprint(value)
        rollout.value_masked = mask(value)


def _new_rollout(user: User | None, *, kind: str, setting: str,
                 values: Mapping[str, str] | None, options: dict[str, Any],
                 selection: dict[str, Any], parent: Rollout | None = None) -> Rollout:
    if kind != "dry_run":
        running = db.session.scalar(select(Rollout).where(Rollout.lock_setting == setting))
        if running is not None:
            raise Conflict("rollout_in_progress",
                           f"Rollout #{running.id} of {setting} is still running; wait for "
                           "it to finish (one rollout per setting at a time).")
    rollout = Rollout(
        kind=kind, setting=setting, options=options, selection=selection,
        parent_id=parent.id if parent else None,
        created_by=user.email if user else "system", state="pending",
    )
    if values:
        _store_values(rollout, values)
    db.session.add(rollout)
    db.session.flush()
    if kind != "dry_run":
        _take_lock(rollout)
    return rollout


def _take_lock(rollout: Rollout) -> None:
    """Hold ``rollout.setting`` (the unique ``lock_setting``) for this push.

    In a SAVEPOINT: losing the race to another request undoes this one UPDATE, not the
    caller's transaction. It follows the rollout's INSERT, so that on SQLite the
    SAVEPOINT is nested in the transaction the INSERT opened (pysqlite opens one only
    before a write; a SAVEPOINT opened outside one would commit on its RELEASE).

    Raises:
        Conflict: ``rollout_in_progress``.
    """
    try:
        with db.session.begin_nested():
            rollout.lock_setting = rollout.setting
            db.session.flush()
    except IntegrityError:
        raise Conflict("rollout_in_progress",
                       f"A rollout of {rollout.setting} is already running.") from None


def _add_targets(rollout: Rollout, rows: list[RolloutTarget], chunk_size: int,
                 sizes: list[int] | None = None) -> None:
    """Number the targets' batches (``sizes``: one batch of all by default) and chunks
    (a chunk never spans two batches: only the current batch's chunks are queued)."""
    sizes = [size for size in (sizes or [len(rows)]) if size > 0] or [0]
    chunk = 0
    index = 0
    for number, size in enumerate(sizes):
        for offset in range(size):
            row = rows[index]
            row.rollout_id = rollout.id
            row.batch = number
            row.chunk = chunk + offset // chunk_size
            db.session.add(row)
            index += 1
        chunk += (size + chunk_size - 1) // chunk_size
    rollout.total = len(rows)
    rollout.chunk_count = chunk
    rollout.batch_sizes = sizes if rows else []
    rollout.current_batch = 0
    db.session.flush()


def _target_for(site: Site) -> RolloutTarget:
    api_key_for(site)  # refuses at creation when no key can reach the site
    return RolloutTarget(site_id=site.id, url=site.url, name=site.name)


def site_key_mode(site: Site) -> str | None:
    """``test``/``live``: the mode of the secret key ``site`` holds, from its last
    functional check, else from what the last verification read (its mask's prefix)."""
    if site.stripe_livemode is not None:
        return "live" if site.stripe_livemode else "test"
    observed = (site.observed or {}).get(SECRET_KEY) or {}
    return key_mode(observed.get("masked"))


def site_facts(site: Site) -> preflight.SiteFacts:
    """What the preflight knows of ``site``: environment, current account and mode."""
    return preflight.SiteFacts(url=site.url, name=site.name, environment=site.environment,
                               account_id=site.stripe_account_id,
                               secret_key_mode=site_key_mode(site))


def check_key(secret_key: str) -> preflight.StripeAccount:
    """Stripe's answer for ``secret_key`` (``GET /v1/account`` at ``STRIPE_API_BASE``):
    the troubleshooting guide's "not only saved but also functional", before any site.

    Raises:
        ApiError: 400 with Stripe's code (``stripe_auth_failed``, ``api_key_expired``,
            ``invalid_secret_format``); 503 ``stripe_unreachable`` with ``Retry-After``.
    """
    try:
        return preflight.check_secret_key(secret_key,
                                          api_base=current_app.config.get("STRIPE_API_BASE"))
    except preflight.PreflightRefused as exc:
        if exc.code == "stripe_unreachable":
            raise ApiError(exc.code, exc.message, 503,
                           headers={"Retry-After": str(PREFLIGHT_RETRY_AFTER)}) from None
        raise ApiError(exc.code, exc.message) from None


def create_rollout(user: User, *, setting: str, value: Any, targets: dict[str, Any] | None,
                   options: dict[str, Any] | None = None, dry_run: bool = False,
                   chunk_size: int = 200) -> Rollout:
    """Create a rollout (or a dry run) of ``setting`` = ``value`` to the chosen sites.

    The preflight runs first (README, "The dashboard": safe rollouts): a secret key
    (alone or in a pair) is tried on Stripe (:func:`check_key`), its account and mode
    recorded on the rollout; then each site is checked
    (``propagation.preflight.check_sites``: a live key to a test site, a key of another
    account than the site's current one...). A refusal creates nothing, unless the owner
    set ``allow_mode_mismatch``/``allow_account_change`` (audited as
    ``rollout.preflight_override``); a dry run records each refusal on its target
    (``failed`` with the refusal's code) instead, and pushes nothing.

    The targets are split into batches (``options["batches"]``); only the first batch
    runs until it passed its threshold (and, with ``pause_for_approval``, was approved).

    Args:
        user: who starts it (role checked: see the module docstring; key pairs and the
            ``allow_*`` options need an owner).
        setting: one of ``common.keys.SETTINGS``, or ``key_pair``.
        value: the value in clear (validated with ``normalize_value``: the key formats
            of README, "Pushing keys to the fleet"); for ``key_pair`` an object
            (:func:`pair_values`). Stored encrypted, shown masked.
        targets: ``{"all": true}``, ``{"tag": T}`` or ``{"site_ids": [...]}``.
        options: :func:`parse_options`.
        dry_run: only read each site (``ok`` / ``would_change``); takes no lock.
        chunk_size: targets per Huey task.

    Raises:
        ApiError: ``unknown_setting``, ``missing_value``, a format code
            (``invalid_publishable_key_format``...), ``pair_mode_mismatch``,
            ``invalid_option``, ``invalid_targets``, ``no_targets``,
            ``missing_api_key``; Stripe's refusal of the key (``stripe_auth_failed``,
            ``api_key_expired``; 503 ``stripe_unreachable``).
        PreflightRefusedError: 400, a site refused (``refusals``).
        Forbidden: the role does not allow this setting, or an ``allow_*`` option.
        Conflict: ``rollout_in_progress``.
    """
    if setting != KEY_PAIR:
        known_setting(setting)
    check_may_push(user, setting)
    values = _values(setting, value)
    selection = dict(targets or {"all": True})
    sites = select_sites(selection)
    opts = parse_options(options, setting=setting, total=len(sites))
    overrides = [name for name in OWNER_SWITCHES if opts[name]]
    if overrides and not user.has_role("owner"):
        raise deny("owner", f"{', '.join(overrides)} needs the owner role.")
    rows = [_target_for(site) for site in sites]
    account = check_key(values[SECRET_KEY]) if SECRET_KEY in values else None
    refusals = preflight.check_sites(
        values, [site_facts(site) for site in sites], account=account,
        allow_mode_mismatch=opts["allow_mode_mismatch"],
        allow_account_change=opts["allow_account_change"])
    if refusals and not dry_run:
        raise PreflightRefusedError(refusals)
    rollout = _new_rollout(user, kind="dry_run" if dry_run else "push", setting=setting,
                           values=values, options=opts, selection=selection)
    if account is not None:
        rollout.preflight_account_id = account.id
        rollout.preflight_livemode = account.livemode
    refused = {r.url: r for r in refusals}
    for row in rows:
        refusal = refused.get(row.url)
        if refusal is not None:
            row.state = TargetState.FAILED.value
            row.error = refusal.code
            row.message = refusal.message[:500]
            row.finished_at = utcnow()
    sizes = (batches.plan_batches(len(rows), opts["batches"]) if not dry_run
             else [len(rows)])
    _add_targets(rollout, rows, chunk_size, sizes)
    audit.record("rollout.dry_run" if dry_run else "rollout.create",
                 subject=f"rollout:{rollout.id}",
                 details={"setting": setting, "value_fingerprint": rollout.value_fingerprint,
                          "targets": len(rows), "selection": selection,
                          "batches": sizes, "account_id": rollout.preflight_account_id,
                          "refusals": len(refusals)})
    if overrides:
        audit.record("rollout.preflight_override", subject=f"rollout:{rollout.id}",
                     details={"options": overrides, "setting": setting})
    return rollout


def get_rollout(rollout_id: int) -> Rollout:
    """The rollout, or NotFound ``rollout_not_found``."""
    rollout = db.session.get(Rollout, rollout_id)
    if rollout is None:
        raise NotFound("rollout_not_found", f"There is no rollout #{rollout_id}.")
    return rollout


def _user_options(stored: dict[str, Any]) -> dict[str, Any]:
    """A stored rollout's options as a new rollout's input (engine and safe options)."""
    known = set(OPTION_LIMITS) | set(SWITCHES) | {"batches", "max_fail_percentage"}
    return {name: value for name, value in (stored or {}).items() if name in known}


def start_from_dry_run(user: User, dry_run_id: int, *, chunk_size: int = 200) -> Rollout:
    """Start the push a dry run previewed: same setting, value, sites and options (the
    preflight runs again).

    Raises:
        Conflict: ``not_a_dry_run``, ``dry_run_not_finished``, ``rollout_in_progress``.
        ApiError, PreflightRefusedError: as :func:`create_rollout`.
    """
    dry = get_rollout(dry_run_id)
    if dry.kind != "dry_run":
        raise Conflict("not_a_dry_run", f"Rollout #{dry.id} is not a dry run.")
    if dry.state not in FINISHED_STATES:
        raise Conflict("dry_run_not_finished", "Wait for the dry run to finish.")
    check_may_push(user, dry.setting)
    values = rollout_values(dry)
    value: Any = values if dry.setting == KEY_PAIR else values.get(dry.setting, "")
    site_ids = [t.site_id for t in dry.targets if t.site_id is not None]
    return create_rollout(user, setting=dry.setting, value=value,
                          targets={"site_ids": site_ids}, options=_user_options(dry.options),
                          chunk_size=chunk_size)


def retry_failed(user: User, rollout_id: int, *, chunk_size: int = 200) -> Rollout:
    """A new rollout of the same value to the targets that failed, were unreachable or
    skipped in ``rollout_id`` (same options; batches planned over the retried sites;
    the functional check expects the preflight's account).

    Raises:
        Conflict: ``rollout_not_finished``, ``nothing_to_retry``, ``rollout_in_progress``.
    """
    parent = get_rollout(rollout_id)
    check_may_push(user, parent.setting)
    if parent.state not in FINISHED_STATES:
        raise Conflict("rollout_not_finished", "Wait for the rollout to finish.")
    if parent.kind not in ("push", "retry") or not parent.value_enc:
        raise Conflict("nothing_to_retry", "Only a push or a retry can be retried.")
    failed = [t for t in parent.targets if t.state in FAILED_TARGET_STATES]
    if not failed:
        raise Conflict("nothing_to_retry", f"Rollout #{parent.id} has no failed target.")
    rows = []
    for old in failed:
        site = db.session.get(Site, old.site_id) if old.site_id else None
        if site is None:
            continue
        rows.append(_target_for(site))
    if not rows:
        raise Conflict("nothing_to_retry", "The failed targets' sites no longer exist.")
    options = dict(parent.options or {})
    rollout = _new_rollout(user, kind="retry", setting=parent.setting, values=None,
                           options=options, selection={"retry_of": parent.id},
                           parent=parent)
    rollout.value_enc = parent.value_enc
    rollout.value_fingerprint = parent.value_fingerprint
    rollout.value_masked = parent.value_masked
    rollout.preflight_account_id = parent.preflight_account_id
    rollout.preflight_livemode = parent.preflight_livemode
    spec = options.get("batches") or batches.default_batches(parent.setting, len(rows))
    _add_targets(rollout, rows, chunk_size, batches.plan_batches(len(rows), spec))
    audit.record("rollout.retry", subject=f"rollout:{rollout.id}",
                 details={"parent": parent.id, "targets": len(rows),
                          "value_fingerprint": rollout.value_fingerprint})
    return rollout


def previous_value(target: RolloutTarget, setting: str) -> str | None:
    """The value ``target``'s site had before the push, in clear, or None if unknown.

    Sources, in order: the backup read before the push (publishable key only: sites
    show it, secrets never leave a site), then any value the dashboard itself pushed
    to that site earlier whose fingerprint is the one the site reported before the push.
    """
    if target.fingerprint_before is None:
        return None
    box = get_box()
    if target.backup_value_enc:
        value = box.decrypt(target.backup_value_enc)
        if fingerprint(value) == target.fingerprint_before:
            return value
    if target.site_id is None:
        return None
    return pushed_value(target.site_id, setting, target.fingerprint_before)


def previous_pair(target: RolloutTarget) -> dict[str, str] | None:
    """A key pair target's values before the push, setting -> value in clear, or None
    when one of them is unknown (each found as :func:`previous_value` finds one, from
    ``target.before``)."""
    before = target.before or {}
    box = get_box()
    values: dict[str, str] = {}
    for setting, entry in before.items():
        fp = (entry or {}).get("fingerprint")
        if fp is None:
            if setting in PAIR_REQUIRED:
                return None
            continue
        value = None
        if entry.get("value_enc"):
            candidate = box.decrypt(entry["value_enc"])
            value = candidate if fingerprint(candidate) == fp else None
        if value is None and target.site_id is not None:
            value = pushed_value(target.site_id, setting, fp)
        if value is None:
            return None
        values[setting] = value
    if not all(name in values for name in PAIR_REQUIRED):
        return None
    return values


def roll_back(user: User, rollout_id: int, *, chunk_size: int = 200) -> Rollout:
    """Push back, site by site, the values ``rollout_id`` replaced (owner only).

    Targets the rollout ``changed`` are rolled back (and those where the value landed
    but failed its functional check); those whose previous value is
    unknown (it was unset, or a secret the dashboard never pushed) are recorded at once
    as ``skipped`` with error ``no_previous_value``. A key pair restores both keys (and
    the webhook secret it replaced).

    Raises:
        Forbidden: not an owner.
        Conflict: ``rollout_not_finished``, ``nothing_to_roll_back``,
            ``already_rolled_back``, ``rollout_in_progress``.
    """
    if not user.has_role("owner"):
        raise deny("owner", "Rolling back needs the owner role.")
    parent = get_rollout(rollout_id)
    if parent.state == "rolled_back":
        raise Conflict("already_rolled_back", f"Rollout #{parent.id} was already rolled back.")
    if parent.state not in FINISHED_STATES:
        raise Conflict("rollout_not_finished", "Wait for the rollout to finish.")
    if parent.rollback_rollout_id is not None:
        raise Conflict("already_rolled_back",
                       f"Rollout #{parent.id} is rolled back by #{parent.rollback_rollout_id}.")
    rollout = _roll_back(parent, user, chunk_size=chunk_size)
    if rollout is None:
        raise Conflict("nothing_to_roll_back", f"Rollout #{parent.id} changed no site.")
    return rollout


def landed(target: RolloutTarget) -> bool:
    """True when the rollout's value is on ``target``'s site because of it: ``changed``,
    or ``failed`` after its read-back matched (the functional check refused the key the
    site saved: the site holds a key that does not work)."""
    return target.state == TargetState.CHANGED.value or (
        target.state == TargetState.FAILED.value and target.verified)


def _reachable(site: Site) -> bool:
    """True when an API key can reach ``site`` (a rollback records the others skipped
    instead of failing: an automatic rollback never stops the halt that started it)."""
    try:
        api_key_for(site)
    except ApiError:
        return False
    return True


def _roll_back(parent: Rollout, user: User | None, *, chunk_size: int) -> Rollout | None:
    """The rollback rollout of the targets where ``parent``'s value landed
    (:func:`landed`; flushed), or None when there is none. ``user`` None: the system
    (a halt's automatic rollback)."""
    changed = [t for t in parent.targets if landed(t)]
    if parent.kind not in ("push", "retry") or not changed:
        return None
    options = dict(parent.options or {})
    options["pause_for_approval"] = False
    rollout = _new_rollout(user, kind="rollback", setting=parent.setting, values=None,
                           options=options, selection={"rollback_of": parent.id},
                           parent=parent)
    box = get_box()
    rows = []
    for old in changed:
        site = db.session.get(Site, old.site_id) if old.site_id else None
        clear: str | None
        if parent.setting == KEY_PAIR:
            pair = previous_pair(old)
            clear = json.dumps(pair) if pair else None
            shown = " + ".join(mask(pair[n]) for n in PAIR_REQUIRED) if pair else None
        else:
            clear = previous_value(old, parent.setting)
            shown = mask(clear) if clear else None
        row = RolloutTarget(site_id=old.site_id, url=old.url, name=old.name)
        reachable = _reachable(site) if site is not None else False
        if site is None or clear is None:
            row.state = TargetState.SKIPPED.value
            row.error = "no_previous_value"
            row.message = ("The value before the push is unknown (it was unset, or a secret "
                           "the dashboard never pushed).")
            row.finished_at = utcnow()
        elif not reachable:
            row.state = TargetState.SKIPPED.value
            row.error = "missing_api_key"
            row.message = "The site has no API key and TEMPLATE_MASTER_API_KEY is not set."
            row.finished_at = utcnow()
        else:
            row.value_enc = box.encrypt(clear)
            row.masked_after = shown
        rows.append(row)
    _add_targets(rollout, rows, chunk_size)
    parent.rollback_rollout_id = rollout.id
    audit.record("rollout.roll_back", subject=f"rollout:{rollout.id}",
                 actor=None if user else "system",
                 details={"parent": parent.id, "targets": len(rows),
                          "unknown_previous": sum(1 for r in rows if r.error)})
    return rollout


def halt(user: User, rollout_id: int, *, chunk_size: int = 200) -> Rollout:
    """Stop a rollout (running, or awaiting approval): its pending targets become
    ``skipped``, it is closed ``halted`` and its lock is released (a worker running it
    sees that at its next heartbeat). With ``rollback_on_halt``, a rollback of the
    targets it changed is created (``rollback_rollout_id``; queue it after the commit:
    ``tasks.enqueue_rollout`` of the halted rollout does).

    Raises:
        Forbidden: the role does not allow this setting.
        Conflict: ``rollout_finished``.
    """
    rollout = get_rollout(rollout_id)
    check_may_push(user, rollout.setting)
    if rollout.state in FINISHED_STATES:
        raise Conflict("rollout_finished", f"Rollout #{rollout.id} is already finished.")
    for target in rollout.targets:
        if target.state == TargetState.PENDING.value:
            target.state = TargetState.SKIPPED.value
            target.error = "halted"
    rollout.halt_reason = f"halted by {user.email}"
    db.session.flush()
    if not close_rollout(rollout.id, halted=True):
        raise Conflict("rollout_finished", f"Rollout #{rollout.id} is already finished.")
    audit.record("rollout.halt", subject=f"rollout:{rollout.id}")
    if (rollout.options or {}).get("rollback_on_halt"):
        db.session.refresh(rollout)
        _roll_back(rollout, None, chunk_size=chunk_size)
    return rollout


def approve(user: User, rollout_id: int) -> Rollout:
    """Continue a rollout ``awaiting_approval``: it goes back to ``running`` and its
    next batch may be queued (``tasks.enqueue_rollout`` after the commit). Operator;
    the owner for secret keys and key pairs (README, "Users, roles, tokens"). Audited
    ``rollout.approve``.

    Raises:
        Forbidden: the role does not allow this setting.
        Conflict: ``not_awaiting_approval``.
    """
    rollout = get_rollout(rollout_id)
    check_may_push(user, rollout.setting)
    result = db.session.execute(
        update(Rollout).where(Rollout.id == rollout_id, Rollout.state == "awaiting_approval")
        .values(state="running").execution_options(synchronize_session=False))
    if not result.rowcount:  # type: ignore[attr-defined]
        raise Conflict("not_awaiting_approval",
                       f"Rollout #{rollout_id} is not waiting for an approval.")
    db.session.refresh(rollout)
    audit.record("rollout.approve", subject=f"rollout:{rollout.id}",
                 details={"batch": rollout.current_batch})
    return rollout


@dataclass
class BatchEnd:
    """What :func:`end_batch` did (the caller commits, then acts on it).

    ``state``: the rollout's state afterwards (``running`` with ``next_batch`` to queue,
    ``awaiting_approval``, or a finished state); ``rollback``: the rollback to queue.
    """

    rollout_id: int
    state: str
    next_batch: int | None = None
    rollback: Rollout | None = None


def _batch_counts(rollout_id: int, batch: int) -> dict[str, int]:
    return {state: count for state, count in db.session.execute(
        select(RolloutTarget.state, func.count())
        .where(RolloutTarget.rollout_id == rollout_id, RolloutTarget.batch == batch)
        .group_by(RolloutTarget.state))}


def _advance(rollout_id: int, batch: int, **values: Any) -> bool:
    """Move the rollout past ``batch``: one conditional UPDATE, so that of the workers
    that see the batch finish, exactly one goes on."""
    result = db.session.execute(
        update(Rollout).where(Rollout.id == rollout_id, Rollout.current_batch == batch,
                              Rollout.state.in_(("pending", "running")))
        .values(**values).execution_options(synchronize_session=False))
    return bool(result.rowcount)  # type: ignore[attr-defined]


def end_batch(rollout_id: int, *, chunk_size: int = 200) -> BatchEnd | None:
    """Close the current batch once none of its targets is pending (flushes).

    The batch's threshold (``propagation.batches.threshold_exceeded``: failed and
    unreachable over the batch's size, above ``max_fail_percentage``) decides:

    - exceeded: the rollout halts (``halt_reason``), its remaining targets become
      ``skipped`` with ``halted_by_threshold``, and with ``rollback_on_halt`` a rollback
      of the targets it changed is created;
    - the last batch: the rollout is closed (:func:`close_rollout`);
    - after the first batch with ``pause_for_approval``: ``awaiting_approval``;
    - else the next batch is current (the caller queues its chunks).

    Dry runs and rollbacks have one batch and no threshold. Returns None when the batch
    is not finished or another worker closed it.
    """
    rollout = db.session.get(Rollout, rollout_id)
    if rollout is None:
        return None
    db.session.refresh(rollout)
    if rollout.state not in ("pending", "running"):
        return None
    batch = rollout.current_batch
    sizes = list(rollout.batch_sizes or [])
    if batch is None or not sizes:
        return BatchEnd(rollout_id, _closed_state(rollout_id)) \
            if close_rollout(rollout_id) else None
    counts = _batch_counts(rollout_id, batch)
    if counts.get(TargetState.PENDING.value):
        return None
    options = rollout.options or {}
    size = sum(counts.values())
    failed = counts.get(TargetState.FAILED.value, 0) + counts.get(
        TargetState.UNREACHABLE.value, 0)
    pct = float(options.get("max_fail_percentage", 0.0))
    gated = rollout.kind in ("push", "retry")
    if gated and size and batches.threshold_exceeded(failed, size, pct):
        if not _advance(rollout_id, batch, current_batch=None):
            return None
        db.session.execute(
            update(RolloutTarget)
            .where(RolloutTarget.rollout_id == rollout_id,
                   RolloutTarget.state == TargetState.PENDING.value)
            .values(state=TargetState.SKIPPED.value, error=batches.HALTED_BY_THRESHOLD,
                    message="Not pushed: an earlier batch failed beyond the threshold.",
                    finished_at=utcnow())
            .execution_options(synchronize_session=False))
        reason = (f"threshold exceeded in batch {batch + 1}: {failed} of {size} failed "
                  f"(max {pct:g}%)")
        db.session.execute(update(Rollout).where(Rollout.id == rollout_id)
                           .values(halt_reason=reason)
                           .execution_options(synchronize_session=False))
        close_rollout(rollout_id, halted=True)
        audit.record("rollout.threshold", subject=f"rollout:{rollout_id}", actor="system",
                     details={"batch": batch, "failed": failed, "size": size,
                              "max_fail_percentage": pct})
        db.session.refresh(rollout)
        rollback = None
        if options.get("rollback_on_halt"):
            rollback = _roll_back(rollout, None, chunk_size=chunk_size)
        return BatchEnd(rollout_id, "halted", rollback=rollback)
    if batch >= len(sizes) - 1:
        if not _advance(rollout_id, batch, current_batch=None):
            return None
        close_rollout(rollout_id)
        return BatchEnd(rollout_id, _closed_state(rollout_id))
    if batch == 0 and gated and options.get("pause_for_approval"):
        if not _advance(rollout_id, batch, current_batch=batch + 1,
                        state="awaiting_approval"):
            return None
        audit.record("rollout.awaiting_approval", subject=f"rollout:{rollout_id}",
                     actor="system", details={"batch": batch, "counts": counts})
        return BatchEnd(rollout_id, "awaiting_approval")
    if not _advance(rollout_id, batch, current_batch=batch + 1):
        return None
    return BatchEnd(rollout_id, "running", next_batch=batch + 1)


def _closed_state(rollout_id: int) -> str:
    return str(db.session.scalar(select(Rollout.state).where(Rollout.id == rollout_id)))


def _recap(rollout_id: int) -> dict[str, int]:
    """Counts of the rollout's targets per recap state (each target once)."""
    counts = dict.fromkeys(RECAP_STATES, 0)
    for state, count in db.session.execute(
            select(RolloutTarget.state, func.count())
            .where(RolloutTarget.rollout_id == rollout_id).group_by(RolloutTarget.state)):
        counts[state] = count
    return counts


def close_rollout(rollout_id: int, *, halted: bool = False) -> bool:
    """Close the rollout when no target is pending: recap, state, lock released, the
    parent of a rollback marked ``rolled_back`` (and its targets that this rollback
    restored), audited. Flushes.

    One conditional UPDATE (an open state -> finished), so that of the workers that see
    the last target finish, exactly one closes it.

    Returns:
        True when this call closed it; False when a target is still pending, or the
        rollout was already closed (nothing written then).
    """
    pending = db.session.scalar(
        select(func.count()).select_from(RolloutTarget)
        .where(RolloutTarget.rollout_id == rollout_id,
               RolloutTarget.state == TargetState.PENDING.value))
    if pending:
        return False
    counts = _recap(rollout_id)
    bad = sum(counts.get(s, 0) for s in FAILED_TARGET_STATES)
    good = sum(counts.values()) - bad
    state = ("halted" if halted else "succeeded" if bad == 0
             else "failed" if good == 0 else "partially_failed")
    result = db.session.execute(
        update(Rollout).where(Rollout.id == rollout_id, Rollout.state.in_(OPEN_STATES))
        .values(state=state, recap=counts, finished_at=utcnow(), lock_setting=None,
                current_batch=None)
        .execution_options(synchronize_session=False))
    if not result.rowcount:  # type: ignore[attr-defined]
        return False
    rollout = get_rollout(rollout_id)
    db.session.refresh(rollout)
    if rollout.kind == "rollback" and counts.get(TargetState.ROLLED_BACK.value):
        parent = db.session.get(Rollout, rollout.parent_id)
        if parent is not None:
            parent.state = "rolled_back"
            restored = [t.site_id for t in rollout.targets
                        if t.state == TargetState.ROLLED_BACK.value and t.site_id]
            db.session.execute(
                update(RolloutTarget)
                .where(RolloutTarget.rollout_id == parent.id,
                       RolloutTarget.state.in_((TargetState.CHANGED.value,
                                                TargetState.FAILED.value)),
                       RolloutTarget.site_id.in_(restored))
                .values(state=TargetState.ROLLED_BACK.value)
                .execution_options(synchronize_session=False))
            parent.recap = _recap(parent.id)  # every target once, in its final state
            db.session.flush()
    audit.record("rollout.finish", subject=f"rollout:{rollout_id}", actor="system",
                 details={"state": state, "recap": counts})
    return True


def list_rollouts(*, setting: str | None = None, state: str | None = None,
                  kind: str | None = None, limit: int = 200) -> list[Rollout]:
    """History: rollouts newest first, optionally filtered."""
    query = select(Rollout).order_by(Rollout.id.desc()).limit(limit)
    if setting:
        query = query.where(Rollout.setting == setting)
    if state:
        query = query.where(Rollout.state == state)
    if kind:
        query = query.where(Rollout.kind == kind)
    return list(db.session.scalars(query))


def progress(rollout: Rollout) -> dict[str, int]:
    """Counts of the rollout's targets per state (live, from the target rows)."""
    rows = db.session.execute(
        select(RolloutTarget.state, func.count()).where(RolloutTarget.rollout_id == rollout.id)
        .group_by(RolloutTarget.state)).all()
    return {state: count for state, count in rows}
