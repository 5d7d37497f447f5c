"""The audit log: append-only rows (who, what, when, from where, fingerprints only)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, String, event
from sqlalchemy.orm import Mapped, mapped_column

from stripefleet.common.db import NaiveUTCDateTime, utcnow
from stripefleet.dashboard.extensions import db, isoformat


class AuditEvent(db.Model):  # type: ignore[name-defined,misc]
    """One audited action. Never updated nor deleted (enforced by ORM events)."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(NaiveUTCDateTime, default=utcnow, index=True)
    actor: Mapped[str | None] = mapped_column(String(254))
    action: Mapped[str] = mapped_column(String(64), index=True)
    outcome: Mapped[str] = mapped_column(String(16), default="ok")
    subject: Mapped[str | None] = mapped_column(String(255))
    remote_addr: Mapped[str | None] = mapped_column(String(64))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    def as_dict(self) -> dict[str, object]:
        """JSON-ready."""
        return {"id": self.id, "at": isoformat(self.at), "actor": self.actor,
                "action": self.action, "outcome": self.outcome, "subject": self.subject,
                "remote_addr": self.remote_addr, "details": self.details}


class AppendOnlyError(RuntimeError):
    """Something tried to change or delete an audit event."""


@event.listens_for(AuditEvent, "before_update")
def _no_update(mapper, connection, target) -> None:  # type: ignore[no-untyped-def]
    raise AppendOnlyError("audit events are append-only")


@event.listens_for(AuditEvent, "before_delete")
def _no_delete(mapper, connection, target) -> None:  # type: ignore[no-untyped-def]
    raise AppendOnlyError("audit events are append-only")
