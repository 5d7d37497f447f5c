"""The rollout worker: claim a chunk's targets, back up, push, record, close; resume.

This module is where a rollout's work commits, and each commit is part of its contract
with the next worker (README, "The dashboard": a rollout survives its worker, even
``kill -9``, without pushing twice to a site already recorded):

- :func:`run_chunk` marks the rollout ``running``, then claims the chunk's ``pending``
  targets that nobody holds (or whose holder's lease expired) with one conditional
  UPDATE, so two workers never hold the same target (a commit each);
- a target whose site was deleted is recorded ``skipped`` at once; the backup read
  before any PUT is recorded per target; each target's result is recorded as it
  finishes, only while this worker still holds it (a commit each: live progress, and
  what a resumed worker reads); a finished target is never claimed again;
- a heartbeat renews the lease while the engine runs (a commit each beat) and cancels
  the run when the rollout was halted;
- a target claimed a second time (its first worker died with it in flight) is read
  first: when it already holds the value, it is recorded without a second PUT. A
  rotation of ``template_master_api_key`` whose PUT had landed makes the site refuse
  the old key: such a target is read again with the new one;
- a rollout runs batch by batch (canaries first): a chunk claims only targets of the
  rollout's current batch; :func:`finish` closes the current batch once none of its
  targets is pending (``services.end_batch``: one conditional UPDATE, exactly one worker
  goes on), commits, then queues the next batch's chunks, or the automatic rollback of a
  rollout halted by its threshold, and sends the notifications;
- :func:`resume` (at worker start-up and every minute) closes finished batches and
  re-queues the chunks of the current batch whose pending targets nobody holds (never a
  later batch's, nor anything of a rollout awaiting approval).

A key pair rollout pushes both keys in one request per site (``propagate_pair``); its
backup records what each setting held before (``RolloutTarget.before``), so that its
rollback restores both. With ``functional_verify`` the engine checks each pushed key
with the site's ``POST /api/test-stripe`` (expecting the preflight's account); what it
learns is stored on the site (``sites.services.record_functional``).

The engine is called through its public API (``stripefleet.propagation``), and its
results are read as :class:`~stripefleet.propagation.TargetState` members.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import uuid
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from flask import current_app
from sqlalchemy import func, or_, select, true, update

from stripefleet.common.db import utcnow
from stripefleet.common.keys import (
    MASTER_API_KEY,
    PUBLISHABLE_KEY,
    SECRET_KEY,
    fingerprint,
    mask,
)
from stripefleet.dashboard.extensions import db, get_box
from stripefleet.dashboard.queue import task
from stripefleet.dashboard.rollouts import slots
from stripefleet.dashboard.rollouts.models import (
    FINISHED_STATES,
    KEY_PAIR,
    Rollout,
    RolloutTarget,
)
from stripefleet.dashboard.rollouts.services import (
    BatchEnd,
    end_batch,
    push_options,
    rollout_values,
)
from stripefleet.dashboard.sites import notices
from stripefleet.dashboard.sites.models import Site
from stripefleet.dashboard.sites.services import api_key_for, record_functional, record_push
from stripefleet.propagation import (
    SiteSnapshot,
    Target,
    TargetResult,
    TargetState,
    propagate,
    propagate_pair,
    propagate_pair_values,
    propagate_values,
    read_settings,
)

log = logging.getLogger(__name__)

PENDING = TargetState.PENDING.value
#: A target recorded in one of these holds the rollout's value afterwards.
HOLDS_VALUE = (TargetState.OK, TargetState.CHANGED, TargetState.ROLLED_BACK)


def _claim(rollout_id: int, chunk: int, batch: int | None, token: str,
           lease: int) -> list[RolloutTarget]:
    """Take the chunk's pending targets of the current ``batch`` (None: a rollout
    created before batches, any) nobody holds; commit; the rows now held."""
    now = utcnow()
    in_batch = RolloutTarget.batch == batch if batch is not None else true()
    db.session.execute(
        update(RolloutTarget)
        .where(RolloutTarget.rollout_id == rollout_id, RolloutTarget.chunk == chunk,
               in_batch, RolloutTarget.state == PENDING,
               or_(RolloutTarget.lease_until.is_(None), RolloutTarget.lease_until < now))
        .values(claim_token=token, lease_until=now + timedelta(seconds=lease),
                claims=RolloutTarget.claims + 1)
        .execution_options(synchronize_session=False))
    db.session.commit()
    return list(db.session.scalars(
        select(RolloutTarget).where(RolloutTarget.claim_token == token,
                                    RolloutTarget.state == PENDING)
        .order_by(RolloutTarget.id)))


class _ChunkRun:
    """One claimed chunk on its way through the engine (one worker, one thread).

    Building it reads only; :meth:`skip_deleted` and :meth:`run` write.
    """

    def __init__(self, rollout: Rollout, rows: list[RolloutTarget], token: str,
                 lease: int) -> None:
        self.rollout_id = rollout.id
        self.setting = rollout.setting
        self.kind = rollout.kind
        self.token = token
        self.lease = lease
        box = get_box()
        self.pair = rollout.setting == KEY_PAIR
        #: The rollout's values, setting -> value (one entry, or a key pair's).
        self.common = rollout_values(rollout)
        self.value = None if self.pair else self.common.get(rollout.setting)
        self.rows = {row.url: row.id for row in rows}
        self.values: dict[str, str] = {}
        self.targets: dict[str, Target] = {}
        self.site_ids = {row.url: row.site_id for row in rows}
        sites = {site.id: site for site in db.session.scalars(
            select(Site).where(Site.id.in_([r.site_id for r in rows if r.site_id])))}
        self.deleted: list[str] = []
        for row in rows:
            site = sites.get(row.site_id) if row.site_id else None
            if site is None:
                self.deleted.append(row.url)
                continue
            self.targets[row.url] = Target(url=row.url, api_key=api_key_for(site),
                                           name=row.name)
            if row.value_enc:
                self.values[row.url] = box.decrypt(row.value_enc)
        self.backed_up: set[str] = set()
        self.resumed = {row.url for row in rows if row.claims > 1}
        self.refused: set[str] = set()  # read answered 401 invalid_api_key
        self.need_backup = {row.url for row in rows if not row.backup_taken}
        options = push_options(rollout.options or {}, dry_run=self.kind == "dry_run",
                               backoff_base=current_app.config["ENGINE_BACKOFF"],
                               expected_account=(rollout.preflight_account_id
                                                 if self.kind != "rollback" else None))
        # One bound over every chunk of the rollout, whichever worker runs it.
        self.shared = slots.for_rollout(rollout.id, options.concurrency,
                                        lease=options.timeout + 5.0,
                                        redis_url=current_app.config.get("REDIS_URL"))
        self.options = dataclasses.replace(options, shared_slots=self.shared)

    def value_for(self, url: str) -> str:
        return self.values.get(url) or self.value or ""

    def pair_for(self, url: str) -> dict[str, str]:
        """A key pair target's values, setting -> value (its own for a rollback)."""
        own = self.values.get(url)
        return dict(json.loads(own)) if own else dict(self.common)

    def settings_for(self, url: str) -> Mapping[str, str]:
        """What this target is given, setting -> value in clear."""
        if self.pair:
            return self.pair_for(url)
        value = self.value_for(url)
        return {self.setting: value} if value else {}

    def skip_deleted(self) -> None:
        """Record the targets whose site was deleted since the rollout was created."""
        for url in self.deleted:
            self._write(url, TargetState.SKIPPED, error="site_deleted")

    def _write(self, url: str, state: TargetState, **fields: Any) -> bool:
        """Record a finished target if this worker still holds it; commit."""
        fields.setdefault("finished_at", utcnow())
        result = db.session.execute(
            update(RolloutTarget)
            .where(RolloutTarget.id == self.rows[url], RolloutTarget.claim_token == self.token,
                   RolloutTarget.state == PENDING)
            .values(state=state.value, **fields).execution_options(synchronize_session=False))
        written = bool(result.rowcount)  # type: ignore[attr-defined]
        if written and self.kind != "dry_run" and state in HOLDS_VALUE:
            site_id = self.site_ids.get(url)
            if site_id is not None:
                for setting, value in self.settings_for(url).items():
                    record_push(site_id, setting, value, self.rollout_id)
        db.session.commit()
        self.targets.pop(url, None)
        return written

    def on_result(self, result: TargetResult) -> None:
        if result.url not in self.rows:
            return
        state = result.state
        if self.kind == "rollback" and state is TargetState.CHANGED:
            state = TargetState.ROLLED_BACK
        fields: dict[str, Any] = {
            "http_status": result.http_status, "attempts": result.attempts,
            "latency_ms": result.latency_ms, "error": result.error,
            "message": (result.message or "")[:500] or None,
            "fingerprint_after": result.fingerprint_after,
            "masked_after": result.masked_after, "verified": result.verified,
            "functional": result.functional, "account_id": result.account_id,
        }
        site_id = self.site_ids.get(result.url)
        if result.functional is not None and site_id is not None and self.kind != "dry_run":
            record_functional(site_id, result.functional, account_id=result.account_id,
                              livemode=result.livemode)
        if result.url in self.need_backup and result.url not in self.backed_up:
            fields["fingerprint_before"] = result.fingerprint_before
            fields["masked_before"] = result.masked_before
        self._write(result.url, state, **fields)

    def on_snapshot(self, snap: SiteSnapshot) -> None:
        """Backup (before any PUT) and the resumed targets' read."""
        url = snap.url
        if url not in self.rows:
            return
        if not snap.ok:
            if snap.http_status == 401:
                self.refused.add(url)
            return
        if self.pair:
            self._pair_snapshot(snap)
            return
        entry = snap.settings.get(self.setting) or {}
        current = entry.get("fingerprint") if entry.get("configured") else None
        value = self.value_for(url)
        done = url in self.resumed and bool(value) and current == fingerprint(value)
        if url in self.need_backup and not done:
            fields: dict[str, Any] = {"backup_taken": True, "fingerprint_before": current,
                                      "masked_before": entry.get("masked")}
            if self.setting == PUBLISHABLE_KEY and entry.get("value"):
                fields["backup_value_enc"] = get_box().encrypt(str(entry["value"]))
            db.session.execute(
                update(RolloutTarget).where(RolloutTarget.id == self.rows[url],
                                            RolloutTarget.claim_token == self.token)
                .values(**fields).execution_options(synchronize_session=False))
            db.session.commit()
            self.backed_up.add(url)
        if done:
            taken, before = db.session.execute(
                select(RolloutTarget.backup_taken, RolloutTarget.fingerprint_before)
                .where(RolloutTarget.id == self.rows[url])).one()
            state = (TargetState.OK if taken and before == current
                     else TargetState.ROLLED_BACK if self.kind == "rollback"
                     else TargetState.CHANGED)
            self._write(url, state, http_status=snap.http_status, verified=True,
                        fingerprint_after=current, masked_after=mask(value),
                        message="Resumed after a worker stopped: the value was already "
                                "in place, so it was not pushed again.")

    def _pair_snapshot(self, snap: SiteSnapshot) -> None:
        """A key pair's backup (each setting's fingerprint, mask, and the publishable
        key's value encrypted) and a resumed target's read: done when the site already
        holds every value of the pair."""
        url = snap.url
        wanted = self.pair_for(url)
        held: dict[str, str | None] = {}
        for setting in wanted:
            entry = snap.settings.get(setting) or {}
            held[setting] = entry.get("fingerprint") if entry.get("configured") else None
        done = url in self.resumed and all(held[s] == fingerprint(v)
                                           for s, v in wanted.items())
        if url in self.need_backup and not done:
            before: dict[str, Any] = {}
            box = get_box()
            for setting in wanted:
                entry = snap.settings.get(setting) or {}
                kept: dict[str, Any] = {"fingerprint": held[setting],
                                        "masked": entry.get("masked")}
                if setting == PUBLISHABLE_KEY and entry.get("value"):
                    kept["value_enc"] = box.encrypt(str(entry["value"]))
                before[setting] = kept
            db.session.execute(
                update(RolloutTarget).where(RolloutTarget.id == self.rows[url],
                                            RolloutTarget.claim_token == self.token)
                .values(backup_taken=True, before=before,
                        fingerprint_before=held.get(SECRET_KEY),
                        masked_before=before.get(SECRET_KEY, {}).get("masked"))
                .execution_options(synchronize_session=False))
            db.session.commit()
            self.backed_up.add(url)
        if done:
            taken, before_fp = db.session.execute(
                select(RolloutTarget.backup_taken, RolloutTarget.fingerprint_before)
                .where(RolloutTarget.id == self.rows[url])).one()
            state = (TargetState.OK if taken and before_fp == held.get(SECRET_KEY)
                     else TargetState.ROLLED_BACK if self.kind == "rollback"
                     else TargetState.CHANGED)
            self._write(url, state, http_status=snap.http_status, verified=True,
                        fingerprint_after=held.get(SECRET_KEY),
                        masked_after=mask(wanted.get(SECRET_KEY, "")),
                        message="Resumed after a worker stopped: the values were already "
                                "in place, so they were not pushed again.")

    async def heartbeat(self, work: asyncio.Task[None]) -> None:
        """Renew this worker's lease; cancel ``work`` when the rollout was halted."""
        interval = max(min(self.lease / 3.0, 2.0), 0.2)
        while True:
            await asyncio.sleep(interval)
            db.session.execute(
                update(RolloutTarget)
                .where(RolloutTarget.claim_token == self.token, RolloutTarget.state == PENDING)
                .values(lease_until=utcnow() + timedelta(seconds=self.lease))
                .execution_options(synchronize_session=False))
            state = db.session.scalar(select(Rollout.state).where(Rollout.id == self.rollout_id))
            db.session.commit()
            if state in FINISHED_STATES:
                log.info("rollout %s is %s: stopping its chunk", self.rollout_id, state)
                work.cancel()
                return

    async def run(self) -> None:
        """Back up, then push, with the heartbeat beside; a halt cancels the push."""
        work = asyncio.create_task(self._work())
        beat = asyncio.create_task(self.heartbeat(work))
        try:
            await work
        except asyncio.CancelledError:
            if not work.cancelled():
                raise
        finally:
            beat.cancel()
            await self.shared.close()

    async def _read_rotated(self, reads: list[Target]) -> None:
        """Resumed rotations of ``template_master_api_key`` that the site refused: the
        dead worker's PUT may have landed, and the site then accepts only the new key.
        Read those with it; where it holds the new key, ``on_snapshot`` records the
        target done (and ``record_push`` makes the new key the site's own)."""
        if self.setting != MASTER_API_KEY:
            return
        again = [Target(url=t.url, api_key=self.value_for(t.url), name=t.name)
                 for t in reads if t.url in self.refused and t.url in self.resumed]
        if again:
            await read_settings(again, options=self.options, on_snapshot=self.on_snapshot)

    async def _work(self) -> None:
        """The backup read, the resumed targets' read, then the push."""
        if self.kind != "dry_run":
            reads = [t for url, t in self.targets.items()
                     if url in self.resumed
                     or (url in self.need_backup and self.kind in ("push", "retry"))]
            if reads:
                await read_settings(reads, options=self.options, on_snapshot=self.on_snapshot)
                await self._read_rotated(reads)
        remaining = list(self.targets.values())
        if not remaining:
            return
        if self.pair and self.kind == "rollback":
            await propagate_pair_values(((t, self.pair_for(t.url)) for t in remaining),
                                        options=self.options, on_result=self.on_result)
        elif self.pair:
            await propagate_pair(remaining, self.common, options=self.options,
                                 on_result=self.on_result)
        elif self.kind == "rollback":
            await propagate_values(((t, self.value_for(t.url)) for t in remaining),
                                   self.setting, options=self.options,
                                   on_result=self.on_result)
        else:
            await propagate(remaining, self.setting, self.value or "",
                            options=self.options, on_result=self.on_result)


def run_chunk(rollout_id: int, chunk: int) -> int:
    """Run one chunk of a rollout in this worker; returns the targets it claimed.

    Commits after each target's result (live progress). Safe to call twice for the same
    chunk, from any number of workers: only unclaimed (or expired) pending targets run.
    A chunk with nothing left to claim closes the rollout when no target is pending.
    """
    rollout = db.session.get(Rollout, rollout_id)
    if rollout is None or rollout.state not in ("pending", "running"):
        return 0
    db.session.execute(
        update(Rollout).where(Rollout.id == rollout_id, Rollout.state == "pending")
        .values(state="running", started_at=utcnow())
        .execution_options(synchronize_session=False))
    db.session.commit()
    token = uuid.uuid4().hex
    lease = int(current_app.config["LEASE_SECONDS"])
    db.session.refresh(rollout)
    if rollout.batch_sizes and rollout.current_batch is None:
        rows: list[RolloutTarget] = []
    else:
        batch = rollout.current_batch if rollout.batch_sizes else None
        rows = _claim(rollout_id, chunk, batch, token, lease)
    if rows:
        log.info("rollout %s chunk %s: %d targets claimed", rollout_id, chunk, len(rows))
        run = _ChunkRun(rollout, rows, token, lease)
        run.skip_deleted()
        asyncio.run(run.run())
    finish(rollout_id)
    return len(rows)


def current_chunks(rollout: Rollout) -> list[int]:
    """The chunks of ``rollout``'s current batch (all chunks of a rollout created before
    batches); at least one (a chunk that claims nothing closes the batch)."""
    query = select(RolloutTarget.chunk).where(RolloutTarget.rollout_id == rollout.id) \
        .distinct().order_by(RolloutTarget.chunk)
    if rollout.batch_sizes:
        if rollout.current_batch is None:
            return []
        query = query.where(RolloutTarget.batch == rollout.current_batch)
    chunks = list(db.session.scalars(query))
    return chunks or [0]


def queue_chunks(rollout: Rollout, app: Any = None) -> None:
    """Queue one ``run_chunk`` per chunk of the rollout's current batch (committed)."""
    run_chunk_task = task("run_chunk", app)
    for chunk in current_chunks(rollout):
        run_chunk_task(rollout.id, chunk)


def _rollout_path(rollout_id: int) -> str:
    return f"/rollouts/{rollout_id}"


def _describe(rollout: Rollout) -> str:
    """A notification's body: setting, masked value, fingerprint, counts, the reason,
    the sites that failed (names only). Never a secret."""
    lines = [f"{rollout.setting} = {rollout.value_masked or '(per site)'} "
             f"(fingerprint {rollout.value_fingerprint or '-'}), {rollout.total} site(s)"]
    if rollout.recap:
        counts = ", ".join(f"{k} {v}" for k, v in rollout.recap.items() if v)
        lines.append(f"recap: {counts}")
    if rollout.halt_reason:
        lines.append(f"reason: {rollout.halt_reason}")
    bad = db.session.execute(
        select(RolloutTarget.name, RolloutTarget.url, RolloutTarget.error)
        .where(RolloutTarget.rollout_id == rollout.id,
               RolloutTarget.state.in_((TargetState.FAILED.value,
                                        TargetState.UNREACHABLE.value)))
        .order_by(RolloutTarget.id).limit(10)).all()
    for name, url, error in bad:
        lines.append(f"- {name or url}: {error or 'failed'}")
    if rollout.rollback_rollout_id:
        lines.append(f"rollback: rollout #{rollout.rollback_rollout_id}")
    return "\n".join(lines)


def announce(rollout_id: int) -> None:
    """Notify ``DASHBOARD_NOTIFY_URLS`` of where ``rollout_id`` stands, when it matters:
    awaiting approval, halted, rolled back, or finished other than ``succeeded`` (a
    rollback: when it ended; its parent's rollback is announced by it). Commits (a
    failed delivery's audit row). Never raises for a notification."""
    rollout = db.session.get(Rollout, rollout_id)
    if rollout is None:
        return
    db.session.refresh(rollout)
    kind = "rollback" if rollout.kind == "rollback" else "rollout"
    if rollout.kind == "rollback" and rollout.state in FINISHED_STATES:
        title = (f"Rollback #{rollout.id} of rollout #{rollout.parent_id}: {rollout.state}"
                 if rollout.state != "succeeded"
                 else f"Rollout #{rollout.parent_id} rolled back by #{rollout.id}")
    elif rollout.state == "awaiting_approval":
        title = f"Rollout #{rollout.id} of {rollout.setting} awaits approval"
    elif rollout.state in FINISHED_STATES and rollout.state != "succeeded":
        title = f"{kind.capitalize()} #{rollout.id} of {rollout.setting}: {rollout.state}"
    else:
        return
    if rollout.kind == "dry_run":
        return
    notices.send(title, _describe(rollout), path=_rollout_path(rollout.id),
                 subject=f"rollout:{rollout.id}")
    db.session.commit()


def after_batch(outcome: BatchEnd, app: Any = None) -> None:
    """What follows a committed batch end: announce it, then queue the next batch, or
    the rollback of a halted rollout."""
    if outcome.state != "running":
        announce(outcome.rollout_id)
    if outcome.next_batch is not None:
        rollout = db.session.get(Rollout, outcome.rollout_id)
        if rollout is not None:
            queue_chunks(rollout, app)
    if outcome.rollback is not None:
        rollback = db.session.get(Rollout, outcome.rollback.id)
        if rollback is not None:
            queue_chunks(rollback, app)


def finish(rollout_id: int) -> bool:
    """Close the current batch (and the rollout after its last batch) when none of its
    targets is pending (``services.end_batch``); commit; then queue what follows and
    announce it (:func:`after_batch`).

    Returns True when this call closed the batch (exactly one caller does).
    """
    outcome = end_batch(rollout_id, chunk_size=int(current_app.config["CHUNK_SIZE"]))
    db.session.commit()
    if outcome is None:
        return False
    after_batch(outcome)
    return True


def resume() -> float | None:
    """Re-queue every chunk of a current batch with pending targets that nobody holds;
    close finished batches (and queue what follows). A rollout awaiting approval is left
    alone.

    Returns:
        Seconds until the earliest live lease expires (call again then), or None.
    """
    now = utcnow()
    open_ids = list(db.session.scalars(
        select(Rollout.id).where(Rollout.state.in_(("pending", "running")))))
    wait: float | None = None
    for rollout_id in open_ids:
        if finish(rollout_id):
            continue
        rollout = db.session.get(Rollout, rollout_id)
        if rollout is None:
            continue
        db.session.refresh(rollout)
        if rollout.state not in ("pending", "running"):
            continue
        query = (select(RolloutTarget.chunk, func.min(RolloutTarget.lease_until),
                        func.max(RolloutTarget.lease_until))
                 .where(RolloutTarget.rollout_id == rollout_id, RolloutTarget.state == PENDING)
                 .group_by(RolloutTarget.chunk))
        if rollout.batch_sizes:
            query = query.where(RolloutTarget.batch == rollout.current_batch)
        for chunk, _earliest, latest in db.session.execute(query).all():
            unheld = db.session.scalar(
                select(func.count()).select_from(RolloutTarget)
                .where(RolloutTarget.rollout_id == rollout_id, RolloutTarget.chunk == chunk,
                       RolloutTarget.state == PENDING,
                       or_(RolloutTarget.lease_until.is_(None),
                           RolloutTarget.lease_until < now)))
            if unheld:
                task("run_chunk")(rollout_id, chunk)
            if latest is not None and latest >= now:
                seconds = (latest - now).total_seconds() + 0.5
                wait = seconds if wait is None else min(wait, seconds)
    db.session.commit()
    return wait
