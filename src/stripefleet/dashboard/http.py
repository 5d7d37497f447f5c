"""What the dashboard's views share: JSON bodies and answers (``ok`` is
``common.web.ok``), and the role guard.

Infrastructure: this module imports no domain of the dashboard, so that every domain
(the audit log's pages included) can guard its routes with :func:`require_role`. The
guard reads the acting user through Flask-Login's ``current_user`` only (its
``is_authenticated``, ``role`` and ``has_role``: the ``auth`` domain's ``User``).

A refusal below the role is a :class:`Denied` (a ``common.web.Forbidden``, 403
``forbidden``) that carries its audit row; the 403 handler of ``errors.py`` rolls the
request back, then writes that row and commits (README, "Users, roles, tokens": a
refusal is audited).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from flask import redirect, request, url_for
from flask_login import current_user

from stripefleet.common.web import ApiError, Forbidden, ok

__all__ = ["DENIED_ACTION", "Denied", "check_role", "deny", "json_body", "ok", "require_role",
           "wants_json"]

F = TypeVar("F", bound=Callable[..., Any])

#: The audit action of a refused request.
DENIED_ACTION = "access.denied"


def wants_json() -> bool:
    """True for the JSON API, ``/admin/stripe/...`` and requests that send or ask for JSON."""
    return (request.path.startswith(("/api/", "/admin/stripe/")) or request.is_json
            or request.accept_mimetypes.best == "application/json")


def json_body() -> dict[str, Any]:
    """The request's JSON object.

    Raises:
        ApiError: ``invalid_json`` when the body is not a JSON object.
    """
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise ApiError("invalid_json", "Send a JSON object (Content-Type: application/json).")
    return data


class Denied(Forbidden):
    """403 ``forbidden``: the acting user's role is below what the request needs.

    Carries the audit row the 403 handler writes once the request is rolled back:
    ``action`` (``access.denied``), ``subject`` (``METHOD /path``) and ``details``
    (``{"needed": role or action}``).
    """

    def __init__(self, needed: str, message: str) -> None:
        super().__init__("forbidden", message)
        self.action = DENIED_ACTION
        self.subject = f"{request.method} {request.path}"
        self.details: dict[str, Any] = {"needed": needed}


def deny(needed: str, message: str) -> Denied:
    """The 403 to raise when the acting user may not do ``needed`` (a role or an action).

    Writes nothing: the 403 handler audits the refusal after rolling the request back.
    """
    return Denied(needed, message)


def check_role(role: str) -> None:
    """Raise 401 without a user, 403 (audited) below ``role``."""
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
