"""Tables of the accounts domain: ``customers`` and ``api_tokens`` (README, "Selling").

A customer logs in with an e-mail address and a password (argon2id hash, argon2-cffi).
The JSON API authenticates with a bearer token: only its SHA-256 is stored, so a leaked
database holds no usable token. An owner is a customer with ``is_owner`` (the admin
area); owners are created with ``stripefleet site create-owner``.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from stripefleet.common.db import UTCDateTime, utcnow
from stripefleet.site.extensions import db


class Customer(db.Model):  # type: ignore[name-defined,misc]
    """A customer account (or the site's owner).

    Columns:
        email: lower-cased, unique.
        password_hash: argon2id encoded hash.
        is_owner: may use the admin area.
    """

    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    email: Mapped[str] = mapped_column(sa.String(254), nullable=False, unique=True)
    password_hash: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    is_owner: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)

    # Flask-Login's user protocol.
    is_active = True
    is_authenticated = True
    is_anonymous = False

    def get_id(self) -> str:
        """Flask-Login's identifier: the primary key as text."""
        return str(self.id)


class ApiToken(db.Model):  # type: ignore[name-defined,misc]
    """A bearer token of a customer: only its SHA-256 (hex) is kept.

    Columns:
        token_hash: SHA-256 hex of the token, unique.
        expires_at: UTC; the token is refused afterwards.
    """

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), nullable=False, unique=True)
    customer_id: Mapped[int] = mapped_column(
        sa.ForeignKey("customers.id", ondelete="CASCADE"), nullable=False, index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, nullable=False)
