"""Fixtures shared by every test package.

Real things only: PostgreSQL at 127.0.0.1:5432 and Redis at 127.0.0.1:6379 when the
machine has them (they skip with a reason on a machine without them, and fail under
``CI=true``), real child processes on 127.0.0.1, Debian's Chromium.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from stripefleet.common.processes import ManagedProcess, free_port, stripefleet_argv

IN_CI = os.environ.get("CI", "").lower() == "true"
REPO_ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS_DIR = REPO_ROOT / "test-artifacts"
POSTGRES_ADMIN_URL = os.environ.get(
    "STRIPEFLEET_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REDIS_TEST_URL = os.environ.get("STRIPEFLEET_TEST_REDIS", "redis://127.0.0.1:6379/15")
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
]


def need(service: str, reason: str) -> None:
    """Skip, or fail under ``CI=true``, because ``service`` is missing."""
    message = f"{service} is not available: {reason}"
    if IN_CI:
        pytest.fail(f"{message} (CI=true: a missing service fails the run)")
    pytest.skip(message)


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


@contextlib.contextmanager
def postgres_schema() -> Iterator[str]:
    """A SQLAlchemy URL to a fresh PostgreSQL schema of its own, dropped on the way out.

    The schema is selected with ``search_path`` in the URL, so that several site
    processes can share the ``test`` database without seeing each other's tables. A
    context manager, so that fixtures of any scope can use it (``postgres_url`` is the
    per-test one). Skips, or fails under ``CI=true``, without PostgreSQL.
    """
    if not _port_open("127.0.0.1", 5432):
        need("PostgreSQL", "nothing listens on 127.0.0.1:5432")
    import sqlalchemy as sa

    schema = f"t_{uuid.uuid4().hex[:12]}"
    engine = sa.create_engine(POSTGRES_ADMIN_URL)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    except sa.exc.OperationalError as exc:
        engine.dispose()
        need("PostgreSQL", str(exc).splitlines()[0])
    try:
        yield f"{POSTGRES_ADMIN_URL}?options=-csearch_path%3D{schema}"
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        engine.dispose()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL schema for one test (see ``postgres_schema``)."""
    with postgres_schema() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each test that takes it runs twice: on a SQLite file and on a PostgreSQL schema."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'test.db'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def redis_url() -> Iterator[str]:
    """A Redis URL (database 15), flushed before and after the test."""
    if not _port_open("127.0.0.1", 6379):
        need("Redis", "nothing listens on 127.0.0.1:6379")
    import redis

    client = redis.Redis.from_url(REDIS_TEST_URL)
    client.flushdb()
    try:
        yield REDIS_TEST_URL
    finally:
        client.flushdb()
        client.close()


@pytest.fixture
def chromium_path() -> str:
    """Debian's Chromium, for Playwright (``executable_path``)."""
    if not (os.path.exists(CHROMIUM) or shutil.which("chromium")):
        need("Chromium", f"{CHROMIUM} is missing (apt-get install -y chromium; make test does it)")
    return CHROMIUM


@pytest.fixture
def artifacts_dir(request: pytest.FixtureRequest) -> Path:
    """``test-artifacts/<test name>/``: screenshots and logs kept after the run."""
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in request.node.name)
    path = ARTIFACTS_DIR / safe
    path.mkdir(parents=True, exist_ok=True)
    return path


StartProcess = Callable[..., ManagedProcess]


@pytest.fixture
def start_stripefleet(tmp_path: Path) -> Iterator[StartProcess]:
    """Factory: start ``stripefleet ARGS...`` as a child process; all stopped at teardown.

    Call as ``start_stripefleet("site", "serve", "--port", "8001", env={...},
    ready_url="http://127.0.0.1:8001/api/health")``; returns the ManagedProcess once
    ``ready_url`` answers 200 (or at once without it).
    """
    started: list[ManagedProcess] = []

    def start(*args: str, env: dict[str, str] | None = None, ready_url: str | None = None,
              timeout: float = 30.0) -> ManagedProcess:
        log = tmp_path / f"proc-{len(started)}-{args[0] if args else 'x'}.log"
        proc = ManagedProcess(stripefleet_argv(*args), env=env, log_path=log)
        started.append(proc)
        proc.start()
        if ready_url:
            proc.wait_http(ready_url, timeout=timeout)
        return proc

    yield start
    for proc in reversed(started):
        proc.stop()


@pytest.fixture
def port() -> int:
    """A free TCP port on 127.0.0.1."""
    return free_port()
