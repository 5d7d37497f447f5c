"""History: every rollout, filtered by setting and state; exports in CSV and JSON."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, render_template, request

from stripefleet.common.keys import SETTINGS
from stripefleet.dashboard.audit.services import to_csv
from stripefleet.dashboard.auth.security import require_role
from stripefleet.dashboard.errors import DashboardError
from stripefleet.dashboard.history import services
from stripefleet.dashboard.http import ok
from stripefleet.dashboard.rollouts.models import STATES

bp = Blueprint("history", __name__)


def _filters() -> dict[str, str | None]:
    return {"setting": request.args.get("setting") or None,
            "state": request.args.get("state") or None}


@bp.get("/history")
@require_role("viewer")
def page() -> Any:
    """The history page."""
    return render_template("history.html", rows=services.rows(**_filters(), limit=500),
                           settings=list(SETTINGS), states=STATES, filters=_filters())


@bp.get("/api/history")
@require_role("viewer")
def api_list() -> Any:
    """``{"rollouts": [row, ...]}``, query ``setting`` and ``state``."""
    return ok(rollouts=services.rows(**_filters()))


@bp.get("/api/history/export")
@require_role("viewer")
def export() -> Any:
    """``?format=csv`` (default) or ``json``: a download of the filtered history."""
    fmt = request.args.get("format", "csv")
    rows = services.rows(**_filters())
    if fmt == "json":
        import json

        return Response(json.dumps(rows, indent=1), mimetype="application/json",
                        headers={"Content-Disposition": "attachment; filename=history.json"})
    if fmt != "csv":
        raise DashboardError("invalid_format", "format is csv or json.")
    return Response(to_csv(rows, services.EXPORT_FIELDS), mimetype="text/csv",
                    headers={"Content-Disposition": "attachment; filename=history.csv"})
