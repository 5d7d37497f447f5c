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
- :func:`finish` closes a rollout once no target is pending (``services.close_rollout``:
  exactly one worker writes the recap), and :func:`resume` (at worker start-up and every
  minute) closes those and re-queues the chunks whose pending targets nobody holds.

The engine is called through its public API (``stripefleet.propagation``), and its
results are read as :class:`~stripefleet.propagation.TargetState` members.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import uuid
from datetime import timedelta
from typing import Any

from flask import current_app
from sqlalchemy import func, or_, select, update

from stripefleet.common.db import utcnow
from stripefleet.common.keys import MASTER_API_KEY, PUBLISHABLE_KEY, fingerprint, mask
from stripefleet.dashboard.extensions import db, get_box
from stripefleet.dashboard.queue import task
from stripefleet.dashboard.rollouts import slots
from stripefleet.dashboard.rollouts.models import FINISHED_STATES, Rollout, RolloutTarget
from stripefleet.dashboard.rollouts.services import close_rollout, push_options
from stripefleet.dashboard.sites.models import Site
from stripefleet.dashboard.sites.services import api_key_for, record_push
from stripefleet.propagation import (
    SiteSnapshot,
    Target,
    TargetResult,
    TargetState,
    propagate,
    propagate_values,
    read_settings,
)

log = logging.getLogger(__name__)

PENDING = TargetState.PENDING.value
#: A target recorded in one of these holds the rollout's value afterwards.
HOLDS_VALUE = (TargetState.OK, TargetState.CHANGED, TargetState.ROLLED_BACK)


def _claim(rollout_id: int, chunk: int, token: str, lease: int) -> list[RolloutTarget]:
    """Take the chunk's pending targets nobody holds; commit; the rows now held."""
    now = utcnow()
    db.session.execute(
        update(RolloutTarget)
        .where(RolloutTarget.rollout_id == rollout_id, RolloutTarget.chunk == chunk,
               RolloutTarget.state == PENDING,
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
        self.value = box.decrypt(rollout.value_enc) if rollout.value_enc else None
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
                               backoff_base=current_app.config["ENGINE_BACKOFF"])
        # One bound over every chunk of the rollout, whichever worker runs it.
        self.shared = slots.for_rollout(rollout.id, options.concurrency,
                                        lease=options.timeout + 5.0,
                                        redis_url=current_app.config.get("REDIS_URL"))
        self.options = dataclasses.replace(options, shared_slots=self.shared)

    def value_for(self, url: str) -> str:
        return self.values.get(url) or self.value or ""

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
            value = self.value_for(url)
            site_id = self.site_ids.get(url)
            if site_id is not None and value:
                record_push(site_id, self.setting, value, self.rollout_id)
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
        }
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
        if self.kind == "rollback":
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
    if rollout is None or rollout.state in FINISHED_STATES:
        return 0
    db.session.execute(
        update(Rollout).where(Rollout.id == rollout_id, Rollout.state == "pending")
        .values(state="running", started_at=utcnow())
        .execution_options(synchronize_session=False))
    db.session.commit()
    token = uuid.uuid4().hex
    lease = int(current_app.config["LEASE_SECONDS"])
    rows = _claim(rollout_id, chunk, token, lease)
    if rows:
        log.info("rollout %s chunk %s: %d targets claimed", rollout_id, chunk, len(rows))
        run = _ChunkRun(rollout, rows, token, lease)
        run.skip_deleted()
        asyncio.run(run.run())
    finish(rollout_id)
    return len(rows)


def finish(rollout_id: int) -> bool:
    """Close the rollout when no target is pending (``services.close_rollout``); commit.

    Returns True when this call closed it (exactly one caller does).
    """
    closed = close_rollout(rollout_id)
    db.session.commit()
    return closed


def resume() -> float | None:
    """Re-queue every chunk with pending targets that nobody holds; close finished ones.

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
        rows = db.session.execute(
            select(RolloutTarget.chunk, func.min(RolloutTarget.lease_until),
                   func.max(RolloutTarget.lease_until))
            .where(RolloutTarget.rollout_id == rollout_id, RolloutTarget.state == PENDING)
            .group_by(RolloutTarget.chunk)).all()
        for chunk, _earliest, latest in rows:
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
