"""Flask extensions shared by the dashboard's domains, bound in ``create_app``."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Flask, current_app
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy import event
from sqlalchemy.engine import Engine

from stripefleet.common.crypto import SecretBox

db = SQLAlchemy()
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()


def utcnow() -> datetime:
    """Now, UTC, naive (the database stores naive UTC timestamps)."""
    return datetime.now(UTC).replace(tzinfo=None)


def isoformat(moment: datetime | None) -> str | None:
    """``2026-11-21T09:30:00Z`` for a naive UTC timestamp, None for None."""
    if moment is None:
        return None
    return moment.replace(microsecond=0).isoformat() + "Z"


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, connection_record) -> None:  # type: ignore[no-untyped-def]
    """SQLite: WAL and a busy timeout, so that the web app and the worker share the file."""
    module = type(dbapi_connection).__module__
    if not module.startswith("sqlite3"):
        return
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def get_box(app: Flask | None = None) -> SecretBox:
    """The app's SecretBox (values at rest: API keys, pushed values)."""
    return (app or current_app).extensions["stripefleet_box"]  # type: ignore[no-any-return]
