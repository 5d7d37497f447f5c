"""``GET /api/health``: the site answers and its database works (README, "A site")."""

from __future__ import annotations

import logging

import sqlalchemy as sa
from flask import Blueprint, Response, current_app, jsonify
from sqlalchemy.exc import SQLAlchemyError

from stripefleet.common.outage import RETRY_AFTER_SECONDS, is_outage
from stripefleet.common.web import error_response
from stripefleet.site.extensions import db

log = logging.getLogger(__name__)
bp = Blueprint("health", __name__)


@bp.get("/api/health")
def health() -> Response | tuple[Response, int]:
    """200 ``{"success": true, "status": "ok", "database": "ok"}``.

    The database check reads the ``admin_settings`` table, so a database that is
    down, unreachable or not migrated answers 503 ``database_unavailable``. It writes
    nothing: the failed read's transaction ends with the request (Flask-SQLAlchemy
    removes the session when the app context ends).
    """
    try:
        db.session.execute(sa.text("SELECT 1 FROM admin_settings LIMIT 1")).all()
    except SQLAlchemyError as exc:
        outage = current_app.extensions.get("stripefleet_outage")
        if outage is not None and is_outage(exc):
            outage.down(exc, db.engine)  # one line when the outage starts, not per probe
        else:
            log.error("health check: database unavailable (%s)", type(exc).__name__)
        return error_response(503, "database_unavailable",
                              "The site's database does not answer; see the site's log.",
                              {"Retry-After": str(RETRY_AFTER_SECONDS)})
    return jsonify(success=True, status="ok", database="ok")
