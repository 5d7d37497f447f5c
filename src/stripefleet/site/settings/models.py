"""Tables of the settings domain: ``admin_settings`` and ``setting_changes``.

``admin_settings`` keeps the columns the troubleshooting guide's queries read (its
"Database Inspection": ``key``, ``value``, ``updated_at``) plus ``version`` and the
value's fingerprint (so that reading fingerprints never decrypts), and the previous
value (so that a webhook signing secret stays accepted for 24 hours after a rotation). Secret values
(``common.keys.is_secret``) are stored as MultiFernet tokens, never in clear.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from stripefleet.common.db import UTCDateTime
from stripefleet.site.extensions import db


class AdminSetting(db.Model):  # type: ignore[name-defined,misc]
    """One setting's current value.

    Columns:
        key: the setting's name (``stripe_secret_key``, ...).
        value: the value, a Fernet token for a secret.
        fingerprint: ``common.keys.fingerprint`` of the clear value.
        previous_value, previous_fingerprint: the value before the last change (token
            for a secret), None before the first change.
        updated_at: when the value last changed (UTC).
        version: 1 at the first write, +1 at each change.
        change_key: the ``Idempotency-Key`` of the request that made the current
            value, None when it sent none (a retry with this key is answered as that
            request was: ``services.put_value``).
    """

    __tablename__ = "admin_settings"

    key: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    value: Mapped[str] = mapped_column(sa.Text, nullable=False)
    fingerprint: Mapped[str] = mapped_column(sa.String(16), nullable=False)
    previous_value: Mapped[str | None] = mapped_column(sa.Text, nullable=True)
    previous_fingerprint: Mapped[str | None] = mapped_column(sa.String(16), nullable=True)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, nullable=False)
    version: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=1)
    change_key: Mapped[str | None] = mapped_column(sa.String(255), nullable=True)


class SettingChange(db.Model):  # type: ignore[name-defined,misc]
    """One recorded change of a setting (append-only).

    Columns:
        changed_at: when (UTC).
        key: which setting.
        version: the setting's version after the change.
        actor: who: ``api:<fingerprint of the caller's API key>`` or ``cli:<user>``.
        client: the caller's address for an API change, else None.
        old_fingerprint: None for a first write.
        new_fingerprint: the new value's fingerprint.
    """

    __tablename__ = "setting_changes"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    changed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, nullable=False)
    key: Mapped[str] = mapped_column(sa.String(64), nullable=False, index=True)
    version: Mapped[int] = mapped_column(sa.Integer, nullable=False)
    actor: Mapped[str] = mapped_column(sa.String(80), nullable=False)
    client: Mapped[str | None] = mapped_column(sa.String(64), nullable=True)
    old_fingerprint: Mapped[str | None] = mapped_column(sa.String(16), nullable=True)
    new_fingerprint: Mapped[str] = mapped_column(sa.String(16), nullable=False)


class StripeCheck(db.Model):  # type: ignore[name-defined,misc]
    """The site's last functional check of its Stripe secret key (one row, ``id`` 1).

    Written by ``services.record_stripe_check`` (``POST /api/test-stripe``), read by
    ``GET /api/health/stripe`` so that the health answer never calls Stripe (README,
    "A site"). Holds fingerprints only, never a key.

    Columns:
        checked_at: when the last check ran (UTC).
        outcome: its result: ``ok`` or the error code it answered
            (``stripe_auth_failed``, ``api_key_expired``, ``stripe_unreachable``, ...).
        checked_fingerprint: the fingerprint of the secret key it checked.
        account_id: the Stripe account (``acct_...``) the last successful check found.
        livemode: that key's mode (True for ``sk_live_``).
        account_fingerprint: the fingerprint of the key that successful check used
            (the account belongs to that key; health shows it only while that key is
            still the site's secret key).
        account_checked_at: when that successful check ran (UTC).
    """

    __tablename__ = "stripe_checks"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=False)
    checked_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, nullable=False)
    outcome: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    checked_fingerprint: Mapped[str] = mapped_column(sa.String(16), nullable=False)
    account_id: Mapped[str | None] = mapped_column(sa.String(255), nullable=True)
    livemode: Mapped[bool | None] = mapped_column(sa.Boolean, nullable=True)
    account_fingerprint: Mapped[str | None] = mapped_column(sa.String(16), nullable=True)
    account_checked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
