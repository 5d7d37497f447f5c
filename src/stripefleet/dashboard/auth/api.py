"""JSON API: who am I, users (owners), API tokens.

A call that writes commits once, through ``@transactional`` (the services only flush);
a refusal rolls everything back (README, "JSON API")."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, request

from stripefleet.common.web import ApiError, NotFound
from stripefleet.dashboard.audit import services as audit
from stripefleet.dashboard.auth import services
from stripefleet.dashboard.auth.models import User
from stripefleet.dashboard.auth.security import acting_user, check_role, require_role
from stripefleet.dashboard.extensions import db, transactional
from stripefleet.dashboard.http import json_body, ok

bp = Blueprint("auth_api", __name__, url_prefix="/api")


@bp.get("/me")
@require_role("viewer")
def me() -> Any:
    """``{"success": true, "user": {id, email, role, active}}``."""
    return ok(user=acting_user().as_dict())


@bp.get("/users")
@require_role("owner")
def list_users() -> Any:
    """``{"users": [...]}`` (owners)."""
    rows = db.session.scalars(db.select(User).order_by(User.email)).all()
    return ok(users=[u.as_dict() for u in rows])


@bp.post("/users")
@require_role("owner")
@transactional
def create_user() -> Any:
    """Body ``{"email", "role", "password"}`` -> 201 ``{"user": ...}`` (owners)."""
    data = json_body()
    user = services.create_user(str(data.get("email", "")), str(data.get("role", "")),
                                str(data.get("password", "")))
    audit.record("user.create", subject=user.email, details={"role": user.role})
    return ok(201, user=user.as_dict())


@bp.patch("/users/<int:user_id>")
@require_role("owner")
@transactional
def update_user(user_id: int) -> Any:
    """Body ``{"role"?, "active"?}`` -> ``{"user"}`` (owners; not themselves)."""
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound("user_not_found", f"There is no user #{user_id}.")
    changes = json_body()
    services.update_user(acting_user(), user, changes)
    audit.record("user.update", subject=user.email,
                 details={k: changes[k] for k in ("role", "active") if k in changes})
    return ok(user=user.as_dict())


@bp.post("/tokens")
@require_role("viewer")
@transactional
def create_token() -> Any:
    """A new API token for the caller -> 201 ``{"token": "sfd_..."}``, shown once."""
    user = acting_user()
    row, token = services.create_token(user)
    audit.record("token.create", subject=user.email, details={"prefix": row.prefix})
    return ok(201, token=token, prefix=row.prefix)


@bp.get("/tokens")
@require_role("viewer")
def list_tokens() -> Any:
    """The caller's API tokens -> ``{"tokens": [{id, prefix, user_id, email, created_at,
    last_used_at, revoked_at}]}``, newest first, times ISO 8601 UTC; never a token or its
    hash. Owners may ask ``?user_id=N`` (that user's) or ``?all=1`` (everyone's).

    :raise 400: ``invalid_query`` when ``user_id`` is not a whole number.
    :raise 403: ``forbidden`` (audited) for someone else's tokens below the owner role.
    :raise 404: ``user_not_found``.
    """
    actor = acting_user()
    every = request.args.get("all", "").lower() in ("1", "true")
    try:
        user_id = int(request.args.get("user_id") or actor.id)
    except ValueError:
        raise ApiError("invalid_query", "user_id is a whole number.") from None
    if every or user_id != actor.id:
        check_role("owner")
    rows = services.list_tokens(user_id=None if every else user_id)
    return ok(tokens=[row.as_dict() for row in rows])


@bp.delete("/tokens/<int:token_id>")
@require_role("viewer")
@transactional
def revoke_token(token_id: int) -> Any:
    """Revoke an API token (the caller's own; an owner's, anyone's) -> ``{"token": {...}}``
    as ``GET /api/tokens`` shows it. Again on a revoked token: 200, the same row.

    :raise 404: ``token_not_found`` (also for another user's token below the owner role).
    """
    row, revoked = services.revoke_token(acting_user(), token_id)
    if revoked:
        audit.record("token.revoke", subject=row.user.email,
                     details={"prefix": row.prefix, "token_id": row.id})
    return ok(token=row.as_dict())
