"""``stripefleet/dashboard/app.py``: the factory and the Alembic schema, on SQLite and
PostgreSQL."""

from __future__ import annotations

import stat
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa

from stripefleet.common.processes import ManagedProcess, free_port
from stripefleet.dashboard.app import create_app, ensure_schema, utc_time
from stripefleet.dashboard.audit import services as audit
from stripefleet.dashboard.audit.models import AppendOnlyError, AuditEvent
from stripefleet.dashboard.extensions import db
from tests.dashboard.conftest import add_user

TABLES = {"users", "api_tokens", "sites", "rollouts", "rollout_targets", "pushed_values",
          "audit_events", "alembic_version"}


def test_migrations_create_every_table(tmp_path: Path, database_url: str) -> None:
    """``ensure_schema`` (Alembic) builds the whole schema, twice without harm."""
    app = create_app({"INSTANCE_DIR": str(tmp_path), "SQLALCHEMY_DATABASE_URI": database_url,
                      "HUEY_IMMEDIATE": True})
    ensure_schema(app)
    ensure_schema(app)
    with app.app_context():
        names = set(sa.inspect(db.engine).get_table_names())
        db.engine.dispose()
    assert names >= TABLES


def test_factory_has_no_side_effect_on_import() -> None:
    """Importing the package creates no app and touches no file."""
    import stripefleet.dashboard.app as module

    assert not hasattr(module, "app")


def test_audit_log_is_append_only(app: object) -> None:
    """An audit event can be neither changed nor deleted through the ORM."""
    add_user(app, "owner")  # type: ignore[arg-type]
    with app.app_context():  # type: ignore[attr-defined]
        event = audit.record("test.event", actor="system")
        db.session.commit()
        event.action = "tampered"
        try:
            db.session.commit()
            raise AssertionError("the update went through")
        except AppendOnlyError:
            db.session.rollback()
        db.session.delete(db.session.get(AuditEvent, event.id))
        try:
            db.session.commit()
            raise AssertionError("the delete went through")
        except AppendOnlyError:
            db.session.rollback()
        assert db.session.get(AuditEvent, event.id).action == "test.event"


def test_audit_records_the_client_behind_a_trusted_proxy(make_app: object) -> None:
    """With DASHBOARD_TRUSTED_PROXIES=1 the audit log records X-Forwarded-For's client,
    without it the proxy's address."""
    from tests.dashboard.conftest import login

    for hops, expected in ((1, "203.0.113.7"), (0, "127.0.0.1")):
        app = make_app(TRUSTED_PROXIES=hops)  # type: ignore[operator]
        account = add_user(app, "viewer", f"p{hops}@example.org")
        client = app.test_client()
        client.environ_base.update(REMOTE_ADDR="127.0.0.1",
                                   HTTP_X_FORWARDED_FOR="203.0.113.7")
        login(client, account.email)
        with app.app_context():
            event = db.session.scalars(db.select(AuditEvent).where(
                AuditEvent.action == "auth.login")).one()
            assert event.remote_addr == expected


@pytest.mark.parametrize(("value", "shown"), [
    (datetime(2026, 11, 21, 10, 36, 34, 355799), "2026-11-21 10:36:34 UTC"),
    (datetime(2026, 11, 21, 11, 36, 34, tzinfo=timezone(timedelta(hours=1))),
     "2026-11-21 10:36:34 UTC"),
    ("2026-11-21T10:36:34.355799Z", "2026-11-21 10:36:34 UTC"),
    (None, ""),
])
def test_utc_filter_shows_whole_seconds_in_utc(value: object, shown: str) -> None:
    """Pages show stored times to the second, in UTC, and say so (naive = UTC)."""
    assert utc_time(value) == shown  # type: ignore[arg-type]


def test_utc_filter_default_for_missing_time() -> None:
    """A missing time shows the given default (the fleet page's 'never')."""
    assert utc_time(None, "never") == "never"


def test_a_started_dashboard_keeps_its_instance_private(
        tmp_path: Path, start_stripefleet: Callable[..., ManagedProcess]) -> None:
    """After a real ``dashboard serve`` start, the instance folder is 0700 and
    ``dashboard.db``, ``huey.db`` and their ``-wal``/``-shm`` are 0600 (password hashes,
    the audit log, encrypted values)."""
    folder = tmp_path / "dashboard"
    port = free_port()
    start_stripefleet("dashboard", "serve", "--instance-dir", str(folder), "--port", str(port),
                      env={"TEMPLATE_MASTER_API_KEY": "fleet-test-api-key-0123456789"},
                      ready_url=f"http://127.0.0.1:{port}/api/health")
    databases = sorted(p.name for p in folder.iterdir() if ".db" in p.name)
    assert {"dashboard.db", "huey.db"} <= set(databases)
    assert _mode(folder) == 0o700
    assert {name: _mode(folder / name) for name in databases} == \
        dict.fromkeys(databases, 0o600)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)
