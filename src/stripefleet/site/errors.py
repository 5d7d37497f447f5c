"""JSON errors for the site's API: one shape, stable codes, no secret ever inside.

Every error under ``/api/`` answers ``{"success": false, "error": code, "message":
...}`` (``common.web``), whether a view raised :class:`ApiError` or Flask/Werkzeug
raised an HTTP error (404, 405, 413, ...). An unexpected exception is logged with its
traceback and answered 500 ``internal_error`` without its text. A database outage is
answered 503 ``database_unavailable`` with ``Retry-After`` on every path (an HTML page
outside the API), logged once when it starts and once when it ends
(``common.outage``).
"""

from __future__ import annotations

import logging

from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException

from stripefleet.common.crypto import DecryptionError
from stripefleet.common.outage import register_outage_handler
from stripefleet.common.web import HTTP_CODES, ApiError, api_error_response, error_response
from stripefleet.site.extensions import db

log = logging.getLogger(__name__)


def _wants_json() -> bool:
    return request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json"


def register_error_handlers(app: Flask) -> None:
    """Answer API errors as JSON; other paths keep Flask's HTML errors; a database
    outage is a 503 everywhere (``common.outage``)."""

    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError) -> tuple[Response, int]:
        return api_error_response(exc)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> tuple[Response, int] | HTTPException:
        if not _wants_json():
            return exc
        status = exc.code or 500
        code = HTTP_CODES.get(status, "http_error")
        messages = {
            404: "No such endpoint.",
            405: f"{request.method} is not allowed on {request.path}.",
            413: "The request body is too large.",
        }
        return error_response(status, code, messages.get(status, exc.description or code))

    @app.errorhandler(DecryptionError)
    def _undecryptable(exc: DecryptionError) -> tuple[Response, int]:
        log.error("%s", exc)
        return error_response(500, "encryption_key_mismatch",
                              "The site cannot decrypt its stored secrets: its encryption "
                              "key ring lacks the key they were encrypted with.")

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> tuple[Response, int]:
        # The traceback goes to the log; its text never to the client.
        log.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(500, "internal_error",
                              "The site failed to process the request; see its log.")

    register_outage_handler(app, session=db.session, engine=lambda: db.engine,
                            wants_json=_wants_json, otherwise=_unexpected, name="site")
