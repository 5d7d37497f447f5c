"""Who is asking: sessions, bearer tokens and CSRF (README, "Users, roles, tokens").

- Pages log in with a session cookie (Flask-Login); every state-changing request made
  with the session is CSRF-checked (Flask-WTF; forms send ``csrf_token``, the pages'
  JavaScript sends ``X-CSRFToken``).
- Scripts send ``Authorization: Bearer <token>``; such requests carry no cookie, so they
  are not CSRF-checked. An unknown or revoked token is 401 ``invalid_token``.
- May they: ``require_role``, ``check_role`` and ``deny`` are defined in
  ``dashboard/http.py`` (below the audit log, whose pages use them too) and re-exported
  here; a refusal is 403 ``forbidden`` and is audited by the 403 handler
  (``dashboard/errors.py``).
"""

from __future__ import annotations

from typing import Any, cast

from flask import Flask, g, jsonify, request
from flask_login import current_user

from stripefleet.dashboard.auth.models import User
from stripefleet.dashboard.auth.services import user_for_token
from stripefleet.dashboard.extensions import csrf, db, login_manager
from stripefleet.dashboard.http import check_role, deny, require_role, wants_json

__all__ = ["acting_user", "check_role", "deny", "init_security", "require_role"]

UNSAFE_METHODS = ("POST", "PUT", "PATCH", "DELETE")


def _bearer() -> str | None:
    header = request.headers.get("Authorization", "")
    if header[:7].lower() == "bearer ":
        return header[7:].strip()
    return None


def acting_user() -> User:
    """The logged-in (or token's) user; routes are guarded, so there is one."""
    return cast(User, current_user._get_current_object())


def init_security(app: Flask) -> None:
    """Wire Flask-Login, bearer tokens and the CSRF check (the error answers are
    ``errors.register_error_handlers``)."""
    login_manager.login_view = "auth.login"
    login_manager.session_protection = "strong"

    @login_manager.user_loader  # type: ignore[untyped-decorator]
    def _load(user_id: str) -> User | None:
        user = db.session.get(User, int(user_id))
        return user if user is not None and user.active else None

    @login_manager.request_loader  # type: ignore[untyped-decorator]
    def _from_token(req: Any) -> User | None:
        return cast(User | None, g.get("token_user"))

    @app.before_request
    def _authenticate_and_check_csrf() -> Any:
        token = _bearer()
        if token is not None:
            user = user_for_token(token)
            if user is None:
                return jsonify(success=False, error="invalid_token",
                               message="The API token is unknown or revoked."), 401
            g.token_user = user
            g._login_user = user  # the token's user acts, even beside a session cookie
            return None
        if request.method in UNSAFE_METHODS and not (
                wants_json() and not current_user.is_authenticated):
            # Anonymous API calls skip it: they are refused with 401 anyway.
            csrf.protect()
        return None
