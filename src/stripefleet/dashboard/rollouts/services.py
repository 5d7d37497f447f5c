"""Rollouts: create (or dry run), start from a dry run, retry failed, roll back, halt,
close, list; the engine options a rollout runs with.

Rules (README, "Users, roles, tokens"): an ``operator`` runs publishable-key rollouts,
dry runs and retries; only an ``owner`` pushes secret keys, webhook secrets and the
fleet's API key, and rolls back. One push per setting runs at a time
(``Rollout.lock_setting`` is unique): a second one is refused with 409
``rollout_in_progress``. Services only flush: the caller commits (a view's
``transactional``, the worker), then queues the new rollout (``tasks.launch``).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from stripefleet.common.db import utcnow
from stripefleet.common.keys import (
    InvalidValue,
    fingerprint,
    is_secret,
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
from stripefleet.propagation import PushOptions, TargetState
from stripefleet.propagation.types import ENGINE_DEFAULTS, RECAP_STATES

#: Engine options a rollout form may set: name -> (type, minimum, maximum, default);
#: the defaults are the engine's.
OPTION_LIMITS: dict[str, tuple[type, float, float, float]] = {
    "concurrency": (int, 1, 500, ENGINE_DEFAULTS.concurrency),
    "rate": (float, 0.1, 100, ENGINE_DEFAULTS.rate),
    "timeout": (float, 0.5, 120, ENGINE_DEFAULTS.timeout),
    "retries": (int, 0, 10, ENGINE_DEFAULTS.retries),
}


def required_role(setting: str) -> str:
    """``owner`` for secret settings (and the fleet API key), ``operator`` otherwise."""
    return "owner" if is_secret(setting) else "operator"


def check_may_push(user: User, setting: str) -> None:
    """Raise Forbidden ``forbidden`` when ``user`` may not push ``setting``."""
    needed = required_role(setting)
    if not user.has_role(needed):
        raise deny(needed, f"Pushing {setting} needs the {needed} role; you are {user.role}.")


def parse_options(raw: dict[str, Any] | None) -> dict[str, Any]:
    """Validated engine options with defaults (seconds, requests per second).

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
    if raw:
        raise ApiError("invalid_option", f"Unknown option(s): {', '.join(sorted(raw))}.")
    return options


def push_options(stored: dict[str, Any], *, dry_run: bool = False,
                 backoff_base: float = ENGINE_DEFAULTS.backoff_base) -> PushOptions:
    """The engine's options for a rollout's stored options (:func:`parse_options`'
    output; a missing one is the engine's default)."""
    defaults = ENGINE_DEFAULTS
    return PushOptions(
        dry_run=dry_run,
        timeout=float(stored.get("timeout", defaults.timeout)),
        concurrency=int(stored.get("concurrency", defaults.concurrency)),
        rate=float(stored.get("rate", defaults.rate)),
        retries=int(stored.get("retries", defaults.retries)),
        backoff_base=backoff_base,
    )


def _value(setting: str, raw: Any) -> str:
    if not isinstance(raw, str) or not raw.strip():
        raise ApiError("missing_value", "Give the value to push.")
    try:
        return normalize_value(setting, raw)
    except InvalidValue as exc:
        raise ApiError(exc.code, str(exc)) from None


def _new_rollout(user: User | None, *, kind: str, setting: str, value: str | None,
                 options: dict[str, Any], selection: dict[str, Any],
                 parent: Rollout | None = None) -> Rollout:
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
    if value is not None:
        rollout.value_enc = get_box().encrypt(value)
        rollout.value_fingerprint = fingerprint(value)
        rollout.value_masked = mask(value)
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


def _add_targets(rollout: Rollout, rows: list[RolloutTarget], chunk_size: int) -> None:
    for index, row in enumerate(rows):
        row.rollout_id = rollout.id
        row.chunk = index // chunk_size
        db.session.add(row)
    rollout.total = len(rows)
    rollout.chunk_count = (len(rows) + chunk_size - 1) // chunk_size if rows else 0
    db.session.flush()


def _target_for(site: Site) -> RolloutTarget:
    api_key_for(site)  # refuses at creation when no key can reach the site
    return RolloutTarget(site_id=site.id, url=site.url, name=site.name)


def create_rollout(user: User, *, setting: str, value: Any, targets: dict[str, Any] | None,
                   options: dict[str, Any] | None = None, dry_run: bool = False,
                   chunk_size: int = 200) -> Rollout:
    """Create a rollout (or a dry run) of ``setting`` = ``value`` to the chosen sites.

    Args:
        user: who starts it (role checked: see the module docstring).
        setting: one of ``common.keys.SETTINGS``.
        value: the value in clear (validated with ``normalize_value``: the key formats
            of README, "Pushing keys to the fleet"); stored encrypted, shown masked.
        targets: ``{"all": true}``, ``{"tag": T}`` or ``{"site_ids": [...]}``.
        options: engine options (``OPTION_LIMITS``).
        dry_run: only read each site (``ok`` / ``would_change``); takes no lock.
        chunk_size: targets per Huey task.

    Raises:
        ApiError: ``unknown_setting``, ``missing_value``, a format code
            (``invalid_publishable_key_format``...), ``invalid_option``,
            ``invalid_targets``, ``no_targets``, ``missing_api_key``.
        Forbidden: the role does not allow this setting.
        Conflict: ``rollout_in_progress``.
    """
    known_setting(setting)
    check_may_push(user, setting)
    clean = _value(setting, value)
    opts = parse_options(options)
    selection = dict(targets or {"all": True})
    sites = select_sites(selection)
    rows = [_target_for(site) for site in sites]
    rollout = _new_rollout(user, kind="dry_run" if dry_run else "push", setting=setting,
                           value=clean, options=opts, selection=selection)
    _add_targets(rollout, rows, chunk_size)
    audit.record("rollout.dry_run" if dry_run else "rollout.create",
                 subject=f"rollout:{rollout.id}",
                 details={"setting": setting, "value_fingerprint": rollout.value_fingerprint,
                          "targets": len(rows), "selection": selection})
    return rollout


def get_rollout(rollout_id: int) -> Rollout:
    """The rollout, or NotFound ``rollout_not_found``."""
    rollout = db.session.get(Rollout, rollout_id)
    if rollout is None:
        raise NotFound("rollout_not_found", f"There is no rollout #{rollout_id}.")
    return rollout


def start_from_dry_run(user: User, dry_run_id: int, *, chunk_size: int = 200) -> Rollout:
    """Start the push a dry run previewed: same setting, value, sites and options.

    Raises:
        Conflict: ``not_a_dry_run``, ``dry_run_not_finished``, ``rollout_in_progress``.
    """
    dry = get_rollout(dry_run_id)
    if dry.kind != "dry_run":
        raise Conflict("not_a_dry_run", f"Rollout #{dry.id} is not a dry run.")
    if dry.state not in FINISHED_STATES:
        raise Conflict("dry_run_not_finished", "Wait for the dry run to finish.")
    check_may_push(user, dry.setting)
    value = get_box().decrypt(dry.value_enc or "")
    site_ids = [t.site_id for t in dry.targets if t.site_id is not None]
    return create_rollout(user, setting=dry.setting, value=value,
                          targets={"site_ids": site_ids}, options=dry.options,
                          chunk_size=chunk_size)


def retry_failed(user: User, rollout_id: int, *, chunk_size: int = 200) -> Rollout:
    """A new rollout of the same value to the targets that failed, were unreachable or
    skipped in ``rollout_id``.

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
    rollout = _new_rollout(user, kind="retry", setting=parent.setting, value=None,
                           options=parent.options, selection={"retry_of": parent.id},
                           parent=parent)
    rollout.value_enc = parent.value_enc
    rollout.value_fingerprint = parent.value_fingerprint
    rollout.value_masked = parent.value_masked
    _add_targets(rollout, rows, chunk_size)
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


def roll_back(user: User, rollout_id: int, *, chunk_size: int = 200) -> Rollout:
    """Push back, site by site, the values ``rollout_id`` replaced (owner only).

    Targets the rollout ``changed`` are rolled back; those whose previous value is
    unknown (it was unset, or a secret the dashboard never pushed) are recorded at once
    as ``skipped`` with error ``no_previous_value``.

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
    changed = [t for t in parent.targets if t.state == TargetState.CHANGED.value]
    if parent.kind not in ("push", "retry") or not changed:
        raise Conflict("nothing_to_roll_back", f"Rollout #{parent.id} changed no site.")
    rollout = _new_rollout(user, kind="rollback", setting=parent.setting, value=None,
                           options=parent.options, selection={"rollback_of": parent.id},
                           parent=parent)
    box = get_box()
    rows = []
    for old in changed:
        site = db.session.get(Site, old.site_id) if old.site_id else None
        value = previous_value(old, parent.setting)
        row = RolloutTarget(site_id=old.site_id, url=old.url, name=old.name)
        if site is None or value is None:
            row.state = TargetState.SKIPPED.value
            row.error = "no_previous_value"
            row.message = ("The value before the push is unknown (it was unset, or a secret "
                           "the dashboard never pushed).")
        else:
            api_key_for(site)
            row.value_enc = box.encrypt(value)
            row.masked_after = mask(value)
        rows.append(row)
    _add_targets(rollout, rows, chunk_size)
    audit.record("rollout.roll_back", subject=f"rollout:{rollout.id}",
                 details={"parent": parent.id, "targets": len(rows)})
    return rollout


def halt(user: User, rollout_id: int) -> Rollout:
    """Stop a rollout: its pending targets become ``skipped``, it is closed ``halted``
    and its lock is released (a worker running it sees that at its next heartbeat).

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
    db.session.flush()
    if not close_rollout(rollout.id, halted=True):
        raise Conflict("rollout_finished", f"Rollout #{rollout.id} is already finished.")
    audit.record("rollout.halt", subject=f"rollout:{rollout.id}")
    return rollout


def close_rollout(rollout_id: int, *, halted: bool = False) -> bool:
    """Close the rollout when no target is pending: recap, state, lock released, the
    parent of a rollback marked ``rolled_back``, audited. Flushes.

    One conditional UPDATE (``pending`` or ``running`` -> finished), so that of the
    workers that see the last target finish, exactly one closes it.

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
    counts = dict.fromkeys(RECAP_STATES, 0)
    for state, count in db.session.execute(
            select(RolloutTarget.state, func.count())
            .where(RolloutTarget.rollout_id == rollout_id).group_by(RolloutTarget.state)):
        counts[state] = count
    bad = sum(counts.get(s, 0) for s in FAILED_TARGET_STATES)
    good = sum(counts.values()) - bad
    state = ("halted" if halted else "succeeded" if bad == 0
             else "failed" if good == 0 else "partially_failed")
    result = db.session.execute(
        update(Rollout).where(Rollout.id == rollout_id,
                              Rollout.state.in_(("pending", "running")))
        .values(state=state, recap=counts, finished_at=utcnow(), lock_setting=None)
        .execution_options(synchronize_session=False))
    if not result.rowcount:  # type: ignore[attr-defined]
        return False
    rollout = get_rollout(rollout_id)
    db.session.refresh(rollout)
    if rollout.kind == "rollback" and counts.get(TargetState.ROLLED_BACK.value):
        parent = db.session.get(Rollout, rollout.parent_id)
        if parent is not None:
            parent.state = "rolled_back"
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
