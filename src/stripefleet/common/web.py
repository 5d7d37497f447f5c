"""Web plumbing shared by the site and the dashboard: one error class, one error shape,
one JSON body reader.

Every JSON error of either app is ``{"success": false, "error": code, "message": ...}``
with a stable ``code`` and a message a person can act on, never a secret. A view (or a
service it calls) raises :class:`ApiError` or one of its subclasses; each app's
``errors.py`` registers the handler that answers it.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from flask import Response, jsonify, request

_View = TypeVar("_View", bound=Callable[..., Any])


class _HasSession(Protocol):
    session: Any


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

#: Largest JSON body :func:`json_body` reads by default, in bytes.
MAX_JSON_BYTES = 64 * 1024


class ApiError(Exception):
    """A refusal a person can act on, answered as the JSON error shape.

    Args:
        code: the stable error code (``invalid_api_key``, ``rollout_in_progress``...).
        message: a sentence a person can act on; never a secret.
        status: the HTTP status; the class's ``status`` (400) when None.
        headers: extra response headers (``Retry-After``, ...).
    """

    status = 400

    def __init__(self, code: str, message: str, status: int | None = None, *,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        if status is not None:
            self.status = status
        self.headers = dict(headers or {})

    def as_dict(self) -> dict[str, object]:
        """The JSON error body."""
        return {"success": False, "error": self.code, "message": self.message}


class NotFound(ApiError):
    """404: the thing asked for does not exist."""

    status = 404


class Forbidden(ApiError):
    """403: the caller's role does not allow this."""

    status = 403


class Conflict(ApiError):
    """409: the state does not allow this now."""

    status = 409


def error_response(status: int, code: str, message: str,
                   headers: dict[str, str] | None = None) -> tuple[Response, int]:
    """The JSON error body and status, as a view's return value."""
    response = jsonify(success=False, error=code, message=message)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response, status


def api_error_response(exc: ApiError) -> tuple[Response, int]:
    """:func:`error_response` for a raised :class:`ApiError`."""
    return error_response(exc.status, exc.code, exc.message, exc.headers)


def json_body(max_bytes: int = MAX_JSON_BYTES, *, example: str = "") -> dict[str, Any]:
    """The request's JSON object.

    Args:
        max_bytes: the largest body read, in bytes.
        example: a body to show in the messages (``{"value": "..."}``), or nothing.

    Raises:
        ApiError: 413 ``payload_too_large``; 415 ``unsupported_media_type`` (not sent
            as ``application/json``); 400 ``invalid_json`` (not JSON, not UTF-8, or
            not an object).
    """
    hint = f"; send {example}" if example else ""
    if request.content_length is not None and request.content_length > max_bytes:
        raise ApiError("payload_too_large", f"The body is over {max_bytes} bytes{hint}.",
                       status=413)
    if not request.is_json:
        raise ApiError("unsupported_media_type",
                       "Send the body as JSON with Content-Type: application/json.", status=415)
    try:
        body = json.loads(request.get_data(cache=True)[: max_bytes + 1].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ApiError("invalid_json", f"The body is not valid JSON{hint}.") from None
    if not isinstance(body, dict):
        raise ApiError("invalid_json",
                       f"The body must be a JSON object{': ' + example if example else ''}.")
    return body


def ok(status: int = 200, **data: Any) -> tuple[Response, int]:
    """``{"success": true, **data}`` with ``status``."""
    return jsonify(success=True, **data), status


def transactional(db: _HasSession) -> Callable[[_View], _View]:
    """A view decorator: the request's one commit point.

    The view (and the services it calls, which only flush) runs; when it returns, the
    session is committed; when it raises (an :class:`ApiError` included), everything it
    wrote is rolled back and the exception goes on to the app's error handlers. Each app
    makes its own: ``transactional = common.web.transactional(db)``.
    """

    def decorator(view: _View) -> _View:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                result = view(*args, **kwargs)
            except BaseException:
                db.session.rollback()
                raise
            db.session.commit()
            return result

        return wrapper  # type: ignore[return-value]

    return decorator
