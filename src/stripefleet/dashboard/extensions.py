"""Flask extensions shared by the dashboard's domains, bound in ``create_app``."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Flask, current_app
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect

from stripefleet.common.crypto import SecretBox
from stripefleet.common.web import transactional as _transactional

db = SQLAlchemy()
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()

#: A view's one commit point (``common.web.transactional`` on this app's session).
transactional = _transactional(db)


def isoformat(moment: datetime | None) -> str | None:
    """``2026-11-21T09:30:00Z`` (UTC, whole seconds) for a timestamp, None for None.

    Timestamps are aware UTC (``common.db.utcnow``, ``NaiveUTCDateTime`` columns); a
    naive one is taken as UTC.
    """
    if moment is None:
        return None
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.replace(microsecond=0).isoformat() + "Z"


def get_box(app: Flask | None = None) -> SecretBox:
    """The app's SecretBox (values at rest: API keys, pushed values)."""
    return (app or current_app).extensions["stripefleet_box"]  # type: ignore[no-any-return]
