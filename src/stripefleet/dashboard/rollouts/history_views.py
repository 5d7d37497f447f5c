"""Pages and API of the history: every rollout, filtered by setting and state; exports
in CSV and JSON (``/history``, ``/api/history``, ``/api/history/export``)."""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Response, render_template, request

from stripefleet.common.keys import SETTINGS
from stripefleet.common.web import ApiError
from stripefleet.dashboard.audit.services import to_csv
from stripefleet.dashboard.auth.security import require_role
from stripefleet.dashboard.http import ok
from stripefleet.dashboard.rollouts import history
from stripefleet.dashboard.rollouts.models import STATES

bp = Blueprint("history", __name__)


def _filters() -> dict[str, str | None]:
    return {"setting": request.args.get("setting") or None,
            "state": request.args.get("state") or None}


def _rows(limit: int = 10000) -> list[dict[str, object]]:
    filters = _filters()
    return history.rows(setting=filters["setting"], state=filters["state"], limit=limit)


@bp.get("/history")
@require_role("viewer")
def page() -> Any:
    """The history page."""
    return render_template("history.html", rows=_rows(500),
                           settings=list(SETTINGS), states=STATES, filters=_filters())


@bp.get("/api/history")
@require_role("viewer")
def api_list() -> Any:
    """``{"rollouts": [row, ...]}``, query ``setting`` and ``state``."""
    return ok(rollouts=_rows())


@bp.get("/api/history/export")
@require_role("viewer")
def export() -> Any:
    """``?format=csv`` (default) or ``json``: a download of the filtered history."""
    fmt = request.args.get("format", "csv")
    rows = _rows()
    if fmt == "json":
        return Response(json.dumps(rows, indent=1), mimetype="application/json",
                        headers={"Content-Disposition": "attachment; filename=history.json"})
    if fmt != "csv":
        raise ApiError("invalid_format", "format is csv or json.")
    return Response(to_csv(rows, history.EXPORT_FIELDS), mimetype="text/csv",
                    headers={"Content-Disposition": "attachment; filename=history.csv"})
