"""SaaS launch requests (the troubleshooting guide's ``POST /saas_launch_site``):
``launch_requests``."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from stripefleet.common.db import UTCDateTime, utcnow
from stripefleet.site.extensions import db


class LaunchRequest(db.Model):  # type: ignore[name-defined,misc]
    """A request to launch a new site, paid through a Checkout Session.

    Columns:
        reference: 32 hex, the session's ``client_reference_id``.
        domain, email, plan: as posted; ``amount`` (cents) and ``currency`` from the plan.
        status: ``pending``, then ``paid`` (the webhook) or ``expired``.
    """

    __tablename__ = "launch_requests"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    reference: Mapped[str] = mapped_column(sa.String(32), nullable=False, unique=True)
    domain: Mapped[str] = mapped_column(sa.String(253), nullable=False)
    email: Mapped[str] = mapped_column(sa.String(254), nullable=False)
    plan: Mapped[str] = mapped_column(sa.String(32), nullable=False)
    amount: Mapped[int] = mapped_column(sa.Integer, nullable=False)
    currency: Mapped[str] = mapped_column(sa.String(3), nullable=False)
    status: Mapped[str] = mapped_column(sa.String(16), nullable=False, default="pending")
    stripe_session_id: Mapped[str | None] = mapped_column(sa.String(255), nullable=True,
                                                          unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    paid_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
