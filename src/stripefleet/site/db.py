"""Database helpers shared by the site's domains: UTC timestamps and migrations.

Migrations live in ``stripefleet/site/migrations`` (Alembic through Flask-Migrate); a
domain adds a revision there. ``stripefleet site serve`` and ``stripefleet site db
upgrade`` bring the database to every head before anything else runs. To write a new
revision, from the repository root::

    .venv/bin/flask --app 'stripefleet.site.app:create_app' db revision --autogenerate -m "..."
"""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from flask import current_app
from sqlalchemy.engine import Dialect

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"

#: A pooled connection idle for longer than this, in seconds, is pinged before use.
PING_AFTER_IDLE = 10.0


def ping_when_idle(engine: sa.Engine, *, after: float = PING_AFTER_IDLE) -> None:
    """Check a pooled connection before use only when it sat idle for ``after`` seconds.

    SQLAlchemy's ``pool_pre_ping`` pings on every checkout: a round trip per request,
    8 % of a webhook's CPU in the benchmark's profile. A connection in steady use is
    known alive (it just answered); one back from an idle spell, when a restart or an
    idle timeout may have closed it, is pinged with the dialect's own ``do_ping``, and
    a failure makes the pool replace it ("Disconnect Handling - Pessimistic", SQLAlchemy
    docs: a ``DisconnectionError`` raised by a checkout listener).
    """

    @sa.event.listens_for(engine, "checkin")
    def _checked_in(_dbapi_connection: Any, record: Any) -> None:
        record.info["checked_in_at"] = time.monotonic()

    @sa.event.listens_for(engine, "checkout")
    def _checked_out(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get("checked_in_at")
        if since is None or time.monotonic() - since < after:
            return  # just opened, or used moments ago
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as exc:
            raise sa.exc.DisconnectionError("pooled connection failed its ping") from exc


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
