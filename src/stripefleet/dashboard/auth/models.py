"""Users and API tokens. Passwords are argon2 hashes; tokens are stored as SHA-256."""

from __future__ import annotations

from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from stripefleet.common.db import NaiveUTCDateTime, utcnow
from stripefleet.dashboard.extensions import db, isoformat

#: Roles, weakest first (README, "Users, roles, tokens").
ROLES = ("viewer", "operator", "owner")


def role_rank(role: str | None) -> int:
    """0 for viewer, 1 operator, 2 owner; -1 for no or an unknown role."""
    return ROLES.index(role) if role in ROLES else -1


class User(UserMixin, db.Model):  # type: ignore[name-defined,misc]
    """A person who logs in (email + password) or scripts with tokens."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    active: Mapped[bool] = mapped_column(default=True)
    failed_logins: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[datetime | None] = mapped_column(NaiveUTCDateTime, default=None)
    created_at: Mapped[datetime] = mapped_column(NaiveUTCDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(NaiveUTCDateTime, default=None)

    tokens: Mapped[list[ApiToken]] = relationship(back_populates="user")

    @property
    def is_active(self) -> bool:  # Flask-Login
        return bool(self.active)

    def has_role(self, role: str) -> bool:
        """True when this user's role is ``role`` or stronger."""
        return role_rank(self.role) >= role_rank(role)

    def as_dict(self) -> dict[str, object]:
        """JSON-ready, without the password hash."""
        return {"id": self.id, "email": self.email, "role": self.role,
                "active": self.active}


class ApiToken(db.Model):  # type: ignore[name-defined,misc]
    """An API token (``Authorization: Bearer``); only its SHA-256 is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(NaiveUTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(NaiveUTCDateTime, default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(NaiveUTCDateTime, default=None)

    user: Mapped[User] = relationship(back_populates="tokens")

    def as_dict(self) -> dict[str, object]:
        """JSON-ready, never the token nor its hash: ``{id, prefix, user_id, email,
        created_at, last_used_at, revoked_at}``, times ISO 8601 UTC (``...Z``) or null."""
        return {"id": self.id, "prefix": self.prefix, "user_id": self.user_id,
                "email": self.user.email, "created_at": isoformat(self.created_at),
                "last_used_at": isoformat(self.last_used_at),
                "revoked_at": isoformat(self.revoked_at)}
