"""Who is asking and may they: sessions, bearer tokens, CSRF and roles.

- Pages log in with a session cookie (Flask-Login); every state-changing request made
  with the session is CSRF-checked (Flask-WTF; forms send ``csrf_token``, the pages'
  JavaScript sends ``X-CSRFToken``).
- Scripts send ``Authorization: Bearer <token>``; such requests carry no cookie, so they
  are not CSRF-checked. An unknown or revoked token is 401 ``invalid_token``.
- :func:`require_role` guards every route; a refusal is 403 ``forbidden`` and is audited
  (issue 5, "Who may do what").
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from flask import Flask, g, jsonify, redirect, request, url_for
from flask_login import current_user
from flask_wtf.csrf import CSRFError

from stripefleet.common.web import ApiError, Forbidden
from stripefleet.dashboard.audit import services as audit
from stripefleet.dashboard.auth.models import User
from stripefleet.dashboard.auth.services import user_for_token
from stripefleet.dashboard.extensions import csrf, db, login_manager

F = TypeVar("F", bound=Callable[..., Any])
UNSAFE_METHODS = ("POST", "PUT", "PATCH", "DELETE")


def wants_json() -> bool:
    """True for the JSON API, the seed's blueprint and requests that send JSON."""
    return (request.path.startswith(("/api/", "/admin/stripe/")) or request.is_json
            or request.accept_mimetypes.best == "application/json")


def _bearer() -> str | None:
    header = request.headers.get("Authorization", "")
    if header[:7].lower() == "bearer ":
        return header[7:].strip()
    return None


def init_security(app: Flask) -> None:
    """Wire Flask-Login, bearer tokens, the CSRF check and the error answers."""
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

    @app.errorhandler(CSRFError)
    def _csrf_refused(exc: CSRFError) -> Any:
        message = "The form or request is missing its CSRF token, or it is stale: reload."
        if wants_json():
            return jsonify(success=False, error="csrf_failed", message=message), 400
        from flask import render_template
        return render_template("error.html", code="csrf_failed", message=message), 400

    @app.errorhandler(404)
    @app.errorhandler(405)
    def _http_error(exc: Any) -> Any:
        code = {404: "not_found", 405: "method_not_allowed"}[exc.code]
        if wants_json():
            return jsonify(success=False, error=code, message=exc.description), exc.code
        from flask import render_template
        return render_template("error.html", code=code, message=exc.description), exc.code

    @app.errorhandler(500)
    def _internal(exc: Any) -> Any:
        db.session.rollback()
        message = "Something went wrong on the dashboard's side; it is logged."
        if wants_json():
            return jsonify(success=False, error="internal_error", message=message), 500
        return message, 500

    @app.errorhandler(ApiError)
    def _refused(exc: ApiError) -> Any:
        db.session.rollback()
        if wants_json():
            return jsonify(exc.as_dict()), exc.status
        from flask import render_template
        return render_template("error.html", code=exc.code, message=exc.message), exc.status


def deny(action: str, message: str) -> Forbidden:
    """Audit a refusal (committed at once) and return the 403 error to raise."""
    db.session.rollback()
    audit.record("access.denied", subject=f"{request.method} {request.path}",
                 outcome="denied", details={"needed": action})
    db.session.commit()
    return Forbidden("forbidden", message)


def check_role(role: str) -> None:
    """Raise 401 (or redirect) without a user, 403 (audited) below ``role``."""
    if not current_user.is_authenticated:
        raise ApiError("not_authenticated", "Log in or send an API token.", status=401)
    if not current_user.has_role(role):
        raise deny(role, f"This needs the {role} role; you are {current_user.role}.")


def require_role(role: str) -> Callable[[F], F]:
    """Route decorator: the logged-in user (or token's user) needs ``role`` or more.

    Pages redirect an anonymous visitor to the login page; the JSON API answers 401
    ``not_authenticated``. Below the role: 403 ``forbidden``, audited.
    """
    def decorator(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if not current_user.is_authenticated and not wants_json():
                return redirect(url_for("auth.login", next=request.full_path))
            check_role(role)
            return view(*args, **kwargs)
        return cast(F, wrapper)
    return decorator
