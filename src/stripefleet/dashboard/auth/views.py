"""Log in, log out, the owners' users page and the API tokens page.

A view that writes commits once, through ``@transactional`` (the services only flush).
A form the service refuses (``ApiError``) is answered with a flash message and a
redirect: the view rolls back what the service may have flushed before answering, so
that ``transactional`` then commits nothing.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_user, logout_user

from stripefleet.common.web import ApiError, NotFound
from stripefleet.dashboard.audit import services as audit
from stripefleet.dashboard.auth import services
from stripefleet.dashboard.auth.models import ROLES, User
from stripefleet.dashboard.auth.security import acting_user, require_role
from stripefleet.dashboard.extensions import db, transactional

bp = Blueprint("auth", __name__)


def _safe_next(target: str | None) -> str:
    if target and urlparse(target).netloc == "" and target.startswith("/") \
            and not target.startswith("//"):
        return target
    return url_for("sites.fleet")


@bp.route("/login", methods=["GET", "POST"])
@transactional
def login() -> Any:
    """The login form; failures count towards the throttle (audited; ``auth.throttle``)."""
    if request.method == "GET":
        if current_user.is_authenticated:
            return redirect(_safe_next(request.args.get("next")))
        return render_template("login.html")
    email = request.form.get("email", "")
    try:
        user = services.authenticate(email, request.form.get("password", ""),
                                     address=request.remote_addr or "unknown")
    except services.LoginFailed as exc:
        audit.record("auth.login", subject=email.strip().lower()[:254], outcome="denied",
                     actor="anonymous", details={"error": exc.code})
        return (render_template("login.html", error=exc.message, email=email), exc.status,
                exc.headers)
    login_user(user)
    audit.record("auth.login", subject=user.email, actor=user.email)
    return redirect(_safe_next(request.args.get("next")))


@bp.post("/logout")
@require_role("viewer")
@transactional
def logout() -> Any:
    """End the session."""
    audit.record("auth.logout", subject=current_user.email)
    logout_user()
    return redirect(url_for("auth.login"))


@bp.get("/users")
@require_role("owner")
def users() -> Any:
    """Every user and the form to add one."""
    rows = db.session.scalars(db.select(User).order_by(User.email)).all()
    return render_template("users.html", users=rows, roles=ROLES)


@bp.post("/users")
@require_role("owner")
def add_user() -> Any:
    """Create a user from the form; a refusal is flashed, nothing written."""
    try:
        user = _create_user(request.form.get("email", ""), request.form.get("role", ""),
                            request.form.get("password", ""))
    except ApiError as exc:
        flash(exc.message, "error")
        return redirect(url_for("auth.users"))
    flash(f"{user.email} can now log in as {user.role}.", "ok")
    return redirect(url_for("auth.users"))


@transactional
def _create_user(email: str, role: str, password: str) -> User:
    """The user and its audit row, committed together (rolled back when refused)."""
    user = services.create_user(email, role, password)
    audit.record("user.create", subject=user.email, details={"role": user.role})
    return user


@bp.post("/users/<int:user_id>")
@require_role("owner")
def change_user(user_id: int) -> Any:
    """Change a user's role or active flag from the users page; a refusal is flashed."""
    user = db.session.get(User, user_id)
    if user is None:
        flash(f"There is no user #{user_id}.", "error")
        return redirect(url_for("auth.users"))
    changes = {"role": request.form.get("role", user.role),
               "active": bool(request.form.get("active"))}
    try:
        _update_user(user, changes)
    except ApiError as exc:
        flash(exc.message, "error")
        return redirect(url_for("auth.users"))
    flash(f"{user.email} is now {user.role}{'' if user.active else ' (disabled)'}.", "ok")
    return redirect(url_for("auth.users"))


@transactional
def _update_user(user: User, changes: dict[str, Any]) -> None:
    """The change and its audit row, committed together (rolled back when refused)."""
    services.update_user(acting_user(), user, changes)
    audit.record("user.update", subject=user.email, details=changes)


@bp.get("/tokens")
@require_role("viewer")
def tokens() -> Any:
    """The caller's API tokens (an owner sees everyone's), a Revoke button on each active one."""
    actor = acting_user()
    rows = services.list_tokens(user_id=None if actor.has_role("owner") else actor.id)
    return render_template("tokens.html", tokens=rows)


@bp.post("/tokens/<int:token_id>/revoke")
@require_role("viewer")
@transactional
def revoke_token(token_id: int) -> Any:
    """Revoke a token from the tokens page (the caller's own; an owner's, anyone's)."""
    try:
        row, revoked = services.revoke_token(acting_user(), token_id)
    except NotFound as exc:
        flash(exc.message, "error")
        return redirect(url_for("auth.tokens"))
    if revoked:
        audit.record("token.revoke", subject=row.user.email,
                     details={"prefix": row.prefix, "token_id": row.id})
        flash(f"Token {row.prefix}… of {row.user.email} revoked: it is refused from now on.",
              "ok")
    else:
        flash(f"Token {row.prefix}… was already revoked.", "ok")
    return redirect(url_for("auth.tokens"))
