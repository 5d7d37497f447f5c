"""``common.db.ping_when_idle``: a pooled PostgreSQL connection that died while idle is
replaced before use; one in steady use is handed out without a round trip."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from stripefleet.common.db import ping_when_idle


@pytest.fixture
def engine(postgres_url: str) -> Iterator[sa.Engine]:
    engine = sa.create_engine(postgres_url, pool_size=1, max_overflow=0)
    yield engine
    engine.dispose()


def _backend_pid(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return int(conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one())


def _kill(postgres_url: str, pid: int) -> None:
    """Terminate a backend, as a server restart or an idle timeout would."""
    admin = sa.create_engine(postgres_url, poolclass=sa.pool.NullPool)
    with admin.connect() as conn:
        conn.exec_driver_sql(f"SELECT pg_terminate_backend({pid})")
    admin.dispose()
    time.sleep(0.2)


def test_a_connection_killed_while_idle_is_replaced(engine: sa.Engine,
                                                   postgres_url: str) -> None:
    ping_when_idle(engine, after=0.05)
    first = _backend_pid(engine)
    _kill(postgres_url, first)  # idle longer than `after` by the time it returns
    assert _backend_pid(engine) != first


def test_a_connection_in_steady_use_is_not_pinged(engine: sa.Engine,
                                                 postgres_url: str) -> None:
    """Within ``after`` of its last use the connection is handed out as it is: killed
    meanwhile, the statement fails (and SQLAlchemy then discards it)."""
    ping_when_idle(engine, after=3600)
    first = _backend_pid(engine)
    _kill(postgres_url, first)
    with pytest.raises(sa.exc.OperationalError):
        _backend_pid(engine)
    assert _backend_pid(engine) != first
