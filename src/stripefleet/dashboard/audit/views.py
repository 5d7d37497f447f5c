"""The audit log's page, JSON list and exports (CSV, JSON); read-only, so no commit.

The role guard is ``http.require_role``: the audit log sits below ``auth`` (which
writes audit rows) and imports nothing of it."""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Response, render_template, request

from stripefleet.common.web import ApiError
from stripefleet.dashboard.audit import services
from stripefleet.dashboard.http import ok, require_role

bp = Blueprint("audit", __name__)


def _events(limit: int) -> list[dict[str, object]]:
    return [e.as_dict() for e in services.list_events(
        action=request.args.get("action") or None, actor=request.args.get("actor") or None,
        limit=limit)]


@bp.get("/audit")
@require_role("viewer")
def page() -> Any:
    """The audit page (newest first)."""
    return render_template("audit.html", events=_events(500))


@bp.get("/api/audit")
@require_role("viewer")
def api_list() -> Any:
    """``{"events": [...]}``; query ``action`` (prefix) and ``actor``."""
    return ok(events=_events(1000))


@bp.get("/api/audit/export")
@require_role("viewer")
def export() -> Any:
    """``?format=csv`` (default) or ``json``."""
    fmt = request.args.get("format", "csv")
    events = _events(100000)
    if fmt == "json":
        return Response(json.dumps(events, indent=1), mimetype="application/json",
                        headers={"Content-Disposition": "attachment; filename=audit.json"})
    if fmt != "csv":
        raise ApiError("invalid_format", "format is csv or json.")
    for event in events:
        event["details"] = json.dumps(event["details"], sort_keys=True)
    return Response(services.to_csv(events, services.EXPORT_FIELDS), mimetype="text/csv",
                    headers={"Content-Disposition": "attachment; filename=audit.csv"})
