"""SQLAlchemy helpers shared by both apps: aware UTC timestamps and engine tuning.

- Time: :func:`utcnow` is aware UTC; :class:`UTCDateTime` columns always read back
  aware UTC (SQLite keeps no zone); :func:`iso_utc` formats for JSON.
- Engines: :func:`engine_options` sizes the pool for the app's serving threads;
  :func:`tune_sqlite` sets WAL, a busy timeout, foreign keys and ``BEGIN IMMEDIATE`` on
  one SQLite engine (never a global listener: each app's engine gets its own);
  :func:`ping_when_idle` replaces ``pool_pre_ping`` for PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect


def utcnow() -> dt.datetime:
    """The current time, timezone-aware, in UTC."""
    return dt.datetime.now(dt.UTC)


class UTCDateTime(sa.types.TypeDecorator[dt.datetime]):
    """A timestamp stored in UTC and always read back timezone-aware (UTC).

    The column is ``TIMESTAMP WITH TIME ZONE`` where the database has one; SQLite keeps
    no zone, so a naive value read back is taken as UTC. A naive value written is
    refused (a bug: every timestamp comes from :func:`utcnow`).
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


class NaiveUTCDateTime(UTCDateTime):
    """As :class:`UTCDateTime`, on a ``TIMESTAMP WITHOUT TIME ZONE`` column holding UTC.

    For tables created before the zone was stored: the value is written as naive UTC
    and read back aware, so that the code only ever sees aware UTC.
    """

    impl = sa.DateTime(timezone=False)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> Any:
        stamp = super().process_bind_param(value, dialect)
        return None if stamp is None else stamp.replace(tzinfo=None)


def iso_utc(value: dt.datetime | None) -> str | None:
    """``2025-01-31T12:00:00.123456Z`` (ISO 8601, UTC), or None."""
    if value is None:
        return None
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


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


def engine_options(url: str) -> dict[str, Any]:
    """``SQLALCHEMY_ENGINE_OPTIONS`` for a database URL (no parameters in logs).

    PostgreSQL: a 5 s connect timeout and a pool of 10 + 20 overflow, at least one
    pooled connection per serving thread (waitress and gunicorn's gthread default to 8;
    the default pool of 5 opened and closed the extra connections on every request
    under load); no ``pool_pre_ping`` (see :func:`ping_when_idle`). SQLite: pysqlite's
    own transaction handling off (see :func:`tune_sqlite`), a 30 s timeout.
    """
    options: dict[str, Any] = {"hide_parameters": True}
    if url.startswith("postgresql"):
        options["connect_args"] = {"connect_timeout": 5}
        options["pool_size"] = 10
        options["max_overflow"] = 20
    else:
        options["connect_args"] = {"check_same_thread": False, "timeout": 30}
    return options


def tune_engine(engine: sa.Engine, *, immediate: bool = True) -> None:
    """:func:`tune_sqlite` on a SQLite engine, :func:`ping_when_idle` on any other."""
    if engine.dialect.name == "sqlite":
        tune_sqlite(engine, immediate=immediate)
    else:
        ping_when_idle(engine)


def tune_sqlite(engine: sa.Engine, *, immediate: bool = True) -> None:
    """WAL, a busy timeout, foreign keys and (``immediate``) ``BEGIN IMMEDIATE`` for SQLite.

    WAL lets a web app and its worker share the file. With ``immediate``, pysqlite's
    own transaction handling is off and every transaction takes the write lock when it
    begins, so a read-then-write never fails halfway with "database is locked"
    (SQLAlchemy's pysqlite recipe, "Serializable isolation / Savepoints / Transactional
    DDL": https://docs.sqlalchemy.org/en/20/dialects/sqlite.html); the site needs it
    for its conditional stock updates. Without it, readers never wait for a writer
    (the dashboard, whose worker writes while pages read). The listeners are on this
    engine only.
    """

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        if immediate:
            dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    if immediate:

        @sa.event.listens_for(engine, "begin")
        def _on_begin(connection: sa.Connection) -> None:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
