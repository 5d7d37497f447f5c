"""Writing and reading the audit log (append-only; fingerprints only, never a secret)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from typing import Any

from flask import has_request_context, request
from flask_login import current_user
from sqlalchemy import select

from stripefleet.dashboard.audit.models import AuditEvent
from stripefleet.dashboard.extensions import db

EXPORT_FIELDS = ("id", "at", "actor", "action", "outcome", "subject", "remote_addr",
                 "details")


def record(action: str, *, subject: str | None = None, outcome: str = "ok",
           actor: str | None = None, details: dict[str, Any] | None = None) -> AuditEvent:
    """Append one audit event (flushes; the caller commits).

    Args:
        action: a dotted verb (``rollout.start``, ``site.create``, ``auth.login``, ...).
        subject: what it acted on (``rollout:12``, ``site:https://...``, an email).
        outcome: ``ok``, ``denied`` or ``failed``.
        actor: the acting user's email; the logged-in user's by default, ``system``
            outside a request.
        details: fingerprints, counts, codes. Callers never put a secret here.
    """
    remote = None
    if has_request_context():
        remote = request.remote_addr
        if actor is None and current_user and current_user.is_authenticated:
            actor = current_user.email
    event = AuditEvent(action=action, subject=subject, outcome=outcome,
                       actor=actor or ("anonymous" if has_request_context() else "system"),
                       remote_addr=remote, details=details or {})
    db.session.add(event)
    db.session.flush()
    return event


def list_events(*, action: str | None = None, actor: str | None = None,
                limit: int = 500) -> list[AuditEvent]:
    """The newest events first, optionally filtered by action prefix and actor."""
    query = select(AuditEvent).order_by(AuditEvent.id.desc()).limit(limit)
    if action:
        query = query.where(AuditEvent.action.startswith(action))
    if actor:
        query = query.where(AuditEvent.actor == actor)
    return list(db.session.scalars(query))


def to_csv(rows: Iterable[dict[str, object]], fields: Iterable[str]) -> str:
    """Rows as CSV text with a header line (nested values as their ``repr``-free str)."""
    buffer = io.StringIO()
    names = list(fields)
    writer = csv.DictWriter(buffer, fieldnames=names, extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: row.get(k) for k in names})
    return buffer.getvalue()
