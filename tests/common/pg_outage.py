"""A PostgreSQL database of its own that a test can take away and give back.

:func:`outage_database` creates a database for one test; ``cut()`` forbids new
connections to it (``ALTER DATABASE ... ALLOW_CONNECTIONS false``, which binds
superusers too) and ends the open ones (``pg_terminate_backend``), so that every
connection of the app under test really fails, as when the server goes away;
``restore()`` allows connections again. The database is dropped on the way out.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from tests.conftest import POSTGRES_ADMIN_URL, _port_open, need


@dataclass
class OutageDatabase:
    """The test's database (``url``) and the admin engine that cuts and restores it."""

    name: str
    url: str
    admin: sa.Engine

    def cut(self) -> None:
        """Refuse every new connection and end the open ones."""
        with self.admin.connect() as conn:
            conn.execute(sa.text(f'ALTER DATABASE "{self.name}" ALLOW_CONNECTIONS false'))
            conn.execute(sa.text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                 "WHERE datname = :name AND pid <> pg_backend_pid()"),
                         {"name": self.name})

    def restore(self) -> None:
        """Accept connections again."""
        with self.admin.connect() as conn:
            conn.execute(sa.text(f'ALTER DATABASE "{self.name}" ALLOW_CONNECTIONS true'))


@contextlib.contextmanager
def outage_database() -> Iterator[OutageDatabase]:
    """A fresh PostgreSQL database, dropped (connections ended) on the way out."""
    if not _port_open("127.0.0.1", 5432):
        need("PostgreSQL", "nothing listens on 127.0.0.1:5432")
    name = f"sf_outage_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = make_url(POSTGRES_ADMIN_URL).set(database=name)
    try:
        yield OutageDatabase(name, url.render_as_string(hide_password=False), admin)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true'))
            conn.execute(sa.text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                 "WHERE datname = :name"), {"name": name})
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()
