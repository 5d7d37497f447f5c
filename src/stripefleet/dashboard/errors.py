"""The dashboard's error handlers: every refusal as ``{"success": false, "error": code,
"message": ...}`` for the JSON API, or the ``error.html`` page for a browser.

Infrastructure: imports no domain. The errors are ``common.web.ApiError`` and its
subclasses, werkzeug's 404/405, Flask-WTF's ``CSRFError`` and anything unexpected (500).

Each handler rolls the request's session back (what a failed request wrote is never
committed). The 403 handler of :class:`~stripefleet.dashboard.http.Denied` is a commit
point of its own: after the rollback it writes the refusal's audit row through the
``audit`` writer given to :func:`register_error_handlers` and commits it, so that a
refusal is audited whatever the view had written before.

A database outage (``common.outage``) is answered 503 ``database_unavailable`` with
``Retry-After`` (JSON, or a small HTML page that needs no database), logged once when it
starts and once when it ends, instead of a 500 and a traceback per request.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

from flask import Flask, jsonify, render_template
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from stripefleet.common.outage import register_outage_handler
from stripefleet.common.web import HTTP_CODES, ApiError
from stripefleet.dashboard.extensions import db
from stripefleet.dashboard.http import Denied, wants_json

CSRF_MESSAGE = "The form or request is missing its CSRF token, or it is stale: reload."
INTERNAL_MESSAGE = "Something went wrong on the dashboard's side; it is logged."

log = logging.getLogger(__name__)


class AuditWriter(Protocol):
    """Appends one audit row and flushes (``audit.services.record``)."""

    def __call__(self, action: str, *, subject: str | None = ..., outcome: str = ...,
                 actor: str | None = ..., details: dict[str, Any] | None = ...) -> object: ...


def _answer(status: int, code: str, message: str) -> Any:
    """The JSON error body, or the error page, with ``status``."""
    if wants_json():
        return jsonify(success=False, error=code, message=message), status
    return render_template("error.html", code=code, message=message), status


def register_error_handlers(app: Flask, *, audit: AuditWriter) -> None:
    """Answer every error of ``app`` in the dashboard's shape.

    Args:
        app: the dashboard app.
        audit: writes the audit row of a refusal (403), after the rollback.
    """

    @app.errorhandler(Denied)
    def _denied(exc: Denied) -> Any:
        db.session.rollback()
        audit(exc.action, subject=exc.subject, outcome="denied", details=exc.details)
        db.session.commit()
        return _answer(exc.status, exc.code, exc.message)

    @app.errorhandler(ApiError)
    def _refused(exc: ApiError) -> Any:
        db.session.rollback()
        return _answer(exc.status, exc.code, exc.message)

    @app.errorhandler(CSRFError)
    def _csrf_refused(exc: CSRFError) -> Any:
        db.session.rollback()
        return _answer(400, "csrf_failed", CSRF_MESSAGE)

    @app.errorhandler(404)
    @app.errorhandler(405)
    def _http_error(exc: HTTPException) -> Any:
        db.session.rollback()
        status = exc.code or 500
        return _answer(status, HTTP_CODES[status], exc.description or "")

    @app.errorhandler(500)
    def _internal(exc: Exception) -> Any:
        db.session.rollback()
        if wants_json():
            return jsonify(success=False, error="internal_error", message=INTERNAL_MESSAGE), 500
        return INTERNAL_MESSAGE, 500

    def _database_bug(exc: Exception) -> Any:
        # A database error that is not an outage: a 500, with its traceback in the log.
        log.error("unhandled database error", exc_info=exc)
        return _internal(exc)

    register_outage_handler(app, session=db.session, engine=lambda: db.engine,
                            wants_json=wants_json, otherwise=_database_bug, name="dashboard")
