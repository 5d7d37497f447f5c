"""JSON errors for the site's API: one shape, stable codes, no secret ever inside.

Every error under ``/api/`` answers ``{"success": false, "error": code, "message":
...}`` (DESIGN.md section 3), whether a view raised :class:`ApiError` or Flask/Werkzeug
raised an HTTP error (404, 405, 413, ...). An unexpected exception is logged with its
traceback and answered 500 ``internal_error`` without its text.
"""

from __future__ import annotations

import logging

from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import HTTPException

from stripefleet.common.crypto import DecryptionError

log = logging.getLogger(__name__)

#: Werkzeug's HTTP errors -> our codes.
HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
    500: "internal_error",
    503: "unavailable",
}


class ApiError(Exception):
    """An error answered as JSON.

    Args:
        status: the HTTP status.
        code: the stable error code (``invalid_api_key``, ...).
        message: a sentence a person can act on; never a secret.
        headers: extra response headers (``Retry-After``, ...).
    """

    def __init__(self, status: int, code: str, message: str,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


def error_response(status: int, code: str, message: str,
                   headers: dict[str, str] | None = None) -> tuple[Response, int]:
    """The JSON error body and status, as a view's return value."""
    response = jsonify(success=False, error=code, message=message)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response, status


def _wants_json() -> bool:
    return request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json"


def register_error_handlers(app: Flask) -> None:
    """Answer API errors as JSON; other paths keep Flask's HTML errors."""

    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError) -> tuple[Response, int]:
        return error_response(exc.status, exc.code, exc.message, exc.headers)

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
