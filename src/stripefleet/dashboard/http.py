"""Small helpers the views share: JSON bodies, JSON answers, the acting user."""

from __future__ import annotations

from typing import Any, cast

from flask import Response, jsonify, request
from flask_login import current_user

from stripefleet.common.web import ApiError
from stripefleet.dashboard.auth.models import User


def json_body() -> dict[str, Any]:
    """The request's JSON object.

    Raises:
        ApiError: ``invalid_json`` when the body is not a JSON object.
    """
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise ApiError("invalid_json", "Send a JSON object (Content-Type: application/json).")
    return data


def ok(status: int = 200, **data: Any) -> tuple[Response, int]:
    """``{"success": true, **data}`` with ``status``."""
    return jsonify(success=True, **data), status


def acting_user() -> User:
    """The logged-in (or token's) user; routes are guarded, so there is one."""
    return cast(User, current_user._get_current_object())
