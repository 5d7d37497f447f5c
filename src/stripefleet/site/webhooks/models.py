"""The webhook inbox: ``webhook_events`` (README, "Selling": Webhooks).

Every verified event is stored by its Stripe id (unique) before it is processed, in the
same transaction as its effects; a second delivery of the same id finds the row and
changes nothing. A processing error is kept on the row (``failed``) and answered 500 so
that Stripe delivers it again, and that delivery processes it again.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from stripefleet.common.db import UTCDateTime, utcnow
from stripefleet.site.extensions import db

PROCESSED, IGNORED, FAILED, MALFORMED = "processed", "ignored", "failed", "malformed"


class WebhookEvent(db.Model):  # type: ignore[name-defined,misc]
    """One Stripe event received by the site.

    Columns:
        event_id: Stripe's ``evt_...``, unique.
        type: the event type (``checkout.session.completed``, ...).
        status: ``processed``, ``ignored`` (foreign or unhandled), ``failed`` or
            ``malformed`` (signed, but not of the shape its handler reads: refused 400).
        note: what processing did or why it was ignored.
        error: the processing error of a ``failed`` event.
        order_id: the order it concerned, when any.
        attempts: deliveries processed (a failed event is processed again).
        payload: the event's JSON as received.
    """

    __tablename__ = "webhook_events"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(sa.String(255), nullable=False, unique=True)
    type: Mapped[str] = mapped_column(sa.String(100), nullable=False)
    status: Mapped[str] = mapped_column(sa.String(16), nullable=False)
    note: Mapped[str | None] = mapped_column(sa.String(500), nullable=True)
    error: Mapped[str | None] = mapped_column(sa.Text, nullable=True)
    order_id: Mapped[int | None] = mapped_column(sa.Integer, nullable=True, index=True)
    attempts: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=1)
    livemode: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=False)
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, nullable=False,
                                                     default=utcnow)
    processed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    payload: Mapped[str] = mapped_column(sa.Text, nullable=False)
