"""Database helpers shared by the site's domains: UTC timestamps and migrations.

Migrations live in ``stripefleet/site/migrations`` (Alembic through Flask-Migrate); a
domain adds a revision there. ``stripefleet site serve`` and ``stripefleet site db
upgrade`` bring the database to every head before anything else runs. To write a new
revision, from the repository root::

    .venv/bin/flask --app 'stripefleet.site.app:create_app' db revision --autogenerate -m "..."
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from flask import current_app
from sqlalchemy.engine import Dialect

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def utcnow() -> dt.datetime:
    """The current time, timezone-aware, in UTC."""
    return dt.datetime.now(dt.UTC)


class UTCDateTime(sa.types.TypeDecorator[dt.datetime]):
    """A timestamp stored in UTC and always read back timezone-aware (UTC).

    SQLite keeps no zone, so a naive value read back is taken as UTC; a naive value
    written is refused (a bug: every timestamp here comes from :func:`utcnow`).
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime written to a UTCDateTime column")
        return value.astimezone(dt.UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        stamp: dt.datetime = value
        if stamp.tzinfo is None:
            return stamp.replace(tzinfo=dt.UTC)
        return stamp.astimezone(dt.UTC)


def iso_utc(value: dt.datetime | None) -> str | None:
    """``2025-01-31T12:00:00.123456Z`` (ISO 8601, UTC), or None."""
    if value is None:
        return None
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def upgrade_database() -> None:
    """Bring the current app's database to every Alembic head (idempotent).

    Runs inside an app context. Upgrading to ``heads`` rather than ``head`` lets two
    domains add revisions side by side without a merge revision.
    """
    migrate_ext = current_app.extensions["migrate"]
    config = migrate_ext.migrate.get_config(str(MIGRATIONS_DIR))
    command.upgrade(config, "heads")
