"""Rollouts and their targets.

A rollout is one change of one setting to a set of sites (README, "The dashboard"). Its
targets are rows, one per site, written as each finishes; they are the source of truth
a resumed worker reads (a rollout survives its worker, even ``kill -9``).
``lock_setting`` holds the setting while a push runs and is unique, so that the
database itself refuses a second running rollout of the same setting. The values the
dashboard pushed to each site are the sites' record (``sites.models.PushedValue``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from stripefleet.common.db import NaiveUTCDateTime, utcnow
from stripefleet.dashboard.extensions import db, isoformat
from stripefleet.propagation import KEY_PAIR, TargetState

__all__ = ["FAILED_TARGET_STATES", "FINISHED_STATES", "KEY_PAIR", "KINDS", "OPEN_STATES",
           "STATES", "Rollout", "RolloutTarget"]

KINDS = ("push", "dry_run", "retry", "rollback")
#: ``KEY_PAIR`` (the engine's ``key_pair``): the ``setting`` of a rollout that pushes a
#: publishable key and a secret key (and optionally a webhook signing secret) together,
#: one request per site.
#: Rollout states (README, "The dashboard": JSON API). ``awaiting_approval``: the first
#: batch passed its threshold and the rollout waits for ``approve`` (or ``halt``).
STATES = ("pending", "running", "awaiting_approval", "succeeded", "partially_failed",
          "failed", "halted", "rolled_back")
#: A rollout in one of these still holds its setting's lock.
OPEN_STATES = ("pending", "running", "awaiting_approval")
FINISHED_STATES = ("succeeded", "partially_failed", "failed", "halted", "rolled_back")
#: Target states (the engine's) that count as failures ("retry failed" takes these).
FAILED_TARGET_STATES = tuple(state.value for state in (
    TargetState.FAILED, TargetState.UNREACHABLE, TargetState.SKIPPED))


class Rollout(db.Model):  # type: ignore[name-defined,misc]
    """One rollout: a setting, a value (encrypted), options, targets, a recap."""

    __tablename__ = "rollouts"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), default="push")
    setting: Mapped[str] = mapped_column(String(64), index=True)
    value_enc: Mapped[str | None] = mapped_column(Text, default=None)
    value_fingerprint: Mapped[str | None] = mapped_column(String(16), default=None)
    value_masked: Mapped[str | None] = mapped_column(String(64), default=None)
    state: Mapped[str] = mapped_column(String(20), default="pending", index=True)
    lock_setting: Mapped[str | None] = mapped_column(String(64), unique=True, default=None)
    options: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    selection: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("rollouts.id"), default=None)
    created_by: Mapped[str | None] = mapped_column(String(254))
    created_at: Mapped[datetime] = mapped_column(NaiveUTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(NaiveUTCDateTime, default=None)
    finished_at: Mapped[datetime | None] = mapped_column(NaiveUTCDateTime, default=None)
    chunk_count: Mapped[int] = mapped_column(default=0)
    total: Mapped[int] = mapped_column(default=0)
    recap: Mapped[dict[str, int] | None] = mapped_column(JSON, default=None)
    message: Mapped[str | None] = mapped_column(String(500), default=None)
    #: Planned batch sizes (``propagation.batches.plan_batches``); they sum to ``total``.
    batch_sizes: Mapped[list[int]] = mapped_column(JSON, default=list)
    #: The batch running or awaiting approval; None once the rollout is finished.
    current_batch: Mapped[int | None] = mapped_column(default=None)
    halt_reason: Mapped[str | None] = mapped_column(String(300), default=None)
    #: The Stripe account (and mode) the preflight found for the secret key pushed.
    preflight_account_id: Mapped[str | None] = mapped_column(String(64), default=None)
    preflight_livemode: Mapped[bool | None] = mapped_column(default=None)
    #: The rollback created when this rollout halted with ``rollback_on_halt``.
    rollback_rollout_id: Mapped[int | None] = mapped_column(default=None)

    targets: Mapped[list[RolloutTarget]] = relationship(
        back_populates="rollout", order_by="RolloutTarget.id")

    def as_dict(self) -> dict[str, object]:
        """JSON-ready, the value only masked and as its fingerprint."""
        return {
            "id": self.id, "kind": self.kind, "setting": self.setting,
            "value_fingerprint": self.value_fingerprint, "value_masked": self.value_masked,
            "state": self.state, "options": self.options or {},
            "selection": self.selection or {}, "parent_id": self.parent_id,
            "created_by": self.created_by, "created_at": isoformat(self.created_at),
            "started_at": isoformat(self.started_at),
            "finished_at": isoformat(self.finished_at), "total": self.total,
            "chunks": self.chunk_count, "recap": self.recap, "message": self.message,
            "current_batch": self.current_batch,
            "max_fail_percentage": (self.options or {}).get("max_fail_percentage"),
            "halt_reason": self.halt_reason,
            "preflight": ({"account_id": self.preflight_account_id,
                           "livemode": self.preflight_livemode}
                          if self.preflight_account_id else None),
            "rollback_rollout_id": self.rollback_rollout_id,
        }


class RolloutTarget(db.Model):  # type: ignore[name-defined,misc]
    """One site within a rollout, and what happened to it.

    ``claim_token``/``lease_until``: the worker that holds this target and until when
    (renewed by its heartbeat); ``claims`` counts how many times a worker took it, so a
    resumed target (claims > 1) is read before any new PUT. ``value_enc``: a per-target
    value (rollbacks; for a key pair, the JSON of its values). ``backup_value_enc``: the
    publishable key the site had before the push (read by the backup step; publishable
    keys are public, but kept encrypted like every pushed value). ``batch``: the target's
    batch (only the current batch's chunks run). ``before``: for a key pair, what the
    site held before the push, per setting: ``{setting: {"fingerprint", "masked",
    "value_enc"?}}`` (the publishable key's value encrypted). ``functional``: the
    functional check's outcome (``ok``, ``unavailable`` or the failing code) and
    ``account_id`` the account the site's secret key belongs to.
    """

    __tablename__ = "rollout_targets"
    __table_args__ = (Index("ix_rollout_targets_claim", "rollout_id", "chunk", "state"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    rollout_id: Mapped[int] = mapped_column(ForeignKey("rollouts.id"), index=True)
    site_id: Mapped[int | None] = mapped_column(ForeignKey("sites.id"), default=None)
    url: Mapped[str] = mapped_column(String(500))
    name: Mapped[str | None] = mapped_column(String(200))
    chunk: Mapped[int] = mapped_column(default=0)
    state: Mapped[str] = mapped_column(String(20), default="pending")
    claim_token: Mapped[str | None] = mapped_column(String(64), default=None)
    lease_until: Mapped[datetime | None] = mapped_column(NaiveUTCDateTime, default=None)
    claims: Mapped[int] = mapped_column(default=0)
    http_status: Mapped[int | None] = mapped_column(default=None)
    attempts: Mapped[int] = mapped_column(default=0)
    latency_ms: Mapped[int] = mapped_column(default=0)
    error: Mapped[str | None] = mapped_column(String(64), default=None)
    message: Mapped[str | None] = mapped_column(String(500), default=None)
    fingerprint_before: Mapped[str | None] = mapped_column(String(16), default=None)
    fingerprint_after: Mapped[str | None] = mapped_column(String(16), default=None)
    masked_before: Mapped[str | None] = mapped_column(String(64), default=None)
    masked_after: Mapped[str | None] = mapped_column(String(64), default=None)
    verified: Mapped[bool] = mapped_column(default=False)
    value_enc: Mapped[str | None] = mapped_column(Text, default=None)
    backup_value_enc: Mapped[str | None] = mapped_column(Text, default=None)
    backup_taken: Mapped[bool] = mapped_column(default=False)
    finished_at: Mapped[datetime | None] = mapped_column(NaiveUTCDateTime, default=None)
    batch: Mapped[int] = mapped_column(default=0)
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    functional: Mapped[str | None] = mapped_column(String(64), default=None)
    account_id: Mapped[str | None] = mapped_column(String(64), default=None)

    rollout: Mapped[Rollout] = relationship(back_populates="targets")

    def as_dict(self) -> dict[str, object]:
        """JSON-ready row of the rollout page."""
        return {
            "id": self.id, "site_id": self.site_id, "url": self.url, "name": self.name,
            "chunk": self.chunk, "state": self.state, "http_status": self.http_status,
            "attempts": self.attempts, "latency_ms": self.latency_ms, "error": self.error,
            "message": self.message, "fingerprint_before": self.fingerprint_before,
            "fingerprint_after": self.fingerprint_after,
            "masked_before": self.masked_before, "masked_after": self.masked_after,
            "verified": self.verified, "finished_at": isoformat(self.finished_at),
            "batch": self.batch, "functional": self.functional,
            "account_id": self.account_id,
        }
