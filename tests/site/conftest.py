"""Fixtures of the site's tests: real ``stripefleet site serve`` processes on 127.0.0.1.

``start_site(...)`` starts one on the test's database (``database_url``: each test runs
on SQLite and on PostgreSQL) and returns a :class:`RunningSite`; ``site`` is one such
site with the fleet's API key ``API_KEY``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from stripefleet.common.processes import ManagedProcess, free_port, stripefleet_argv
from tests.conftest import postgres_schema

#: The fleet's API key of the test sites (the original propagation script's example key).
API_KEY = "template-master-key-2025"


@dataclass
class RunningSite:
    """A site process and how to talk to it."""

    url: str
    api_key: str | None
    instance_dir: Path
    database_url: str
    process: ManagedProcess

    def put(self, setting: str, value: Any, *, api_key: str | None = "default",
            **kwargs: Any) -> requests.Response:
        """``PUT /api/export/settings/<setting>`` with ``{"value": value}``."""
        key = self.api_key if api_key == "default" else api_key
        headers = {"X-API-Key": key} if key is not None else {}
        return requests.put(f"{self.url}/api/export/settings/{setting}", json={"value": value},
                            headers=headers, timeout=10, **kwargs)

    def set(self, setting: str, value: str) -> dict[str, Any]:
        """A PUT that must succeed (a test's precondition): its JSON body."""
        resp = self.put(setting, value)
        assert resp.status_code == 200, f"{resp.status_code} {resp.text}\n{self.log_text()[-3000:]}"
        body: dict[str, Any] = resp.json()
        return body

    def get(self, path: str, *, api_key: str | None = None) -> requests.Response:
        """``GET path``, with ``X-API-Key`` when given."""
        headers = {"X-API-Key": api_key} if api_key else {}
        return requests.get(f"{self.url}{path}", headers=headers, timeout=10)

    def log_text(self) -> str:
        """Everything the site process wrote to stdout and stderr so far."""
        return self.process.log_path.read_text(encoding="utf-8", errors="replace")


StartSite = Callable[..., RunningSite]


@pytest.fixture
def launch_site(start_stripefleet: Callable[..., ManagedProcess],
                tmp_path: Path) -> Callable[..., RunningSite]:
    """Factory: start a site on the database ``db_url`` (required); stopped at teardown.

    Keyword arguments: ``db_url``, ``api_key`` (TEMPLATE_MASTER_API_KEY, None for
    none), ``env`` (more environment variables), ``instance_dir``, ``args`` (more
    ``site serve`` options).
    """

    def start(*, db_url: str, api_key: str | None = API_KEY,
              env: dict[str, str] | None = None, instance_dir: Path | None = None,
              args: tuple[str, ...] = ()) -> RunningSite:
        port = free_port()
        instance = instance_dir or tmp_path / f"site-{port}"
        url = f"http://127.0.0.1:{port}"
        full_env = {
            "TEMPLATE_MASTER_API_KEY": api_key or "",
            "DATABASE_URL": db_url,
            "STRIPEFLEET_ENCRYPTION_KEY": "",
            **(env or {}),
        }
        proc = start_stripefleet("site", "serve", "--port", str(port), "--instance-dir",
                                 str(instance), *args, env=full_env,
                                 ready_url=f"{url}/api/health")
        return RunningSite(url, api_key, instance, db_url, proc)

    return start


@pytest.fixture
def start_site(launch_site: Callable[..., RunningSite], database_url: str) -> StartSite:
    """Factory: like ``launch_site``, on this test's database (SQLite, then PostgreSQL)."""

    def start(**kwargs: Any) -> RunningSite:
        kwargs.setdefault("db_url", database_url)
        return launch_site(**kwargs)

    return start


@pytest.fixture
def site(start_site: StartSite) -> RunningSite:
    """A running site with the API key ``API_KEY`` and no Stripe setting yet."""
    return start_site()


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def shared_site(request: pytest.FixtureRequest,
                tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSite]:
    """One site per test module and database, for tests that store nothing.

    Only for tests whose requests all fail before writing; a module may send fewer
    than 10 wrong API keys to it in all (the lock-out counts them per client).
    """
    tmp = tmp_path_factory.mktemp("shared-site")
    with contextlib.ExitStack() as stack:
        if request.param == "sqlite":
            db_url = f"sqlite:///{tmp / 'site.db'}"
        else:
            db_url = stack.enter_context(postgres_schema())
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        proc = stack.enter_context(ManagedProcess(
            stripefleet_argv("site", "serve", "--port", str(port), "--instance-dir",
                             str(tmp / "instance")),
            env={"TEMPLATE_MASTER_API_KEY": API_KEY, "DATABASE_URL": db_url,
                 "STRIPEFLEET_ENCRYPTION_KEY": ""},
            log_path=tmp / "site.log",
        ))
        proc.wait_http(f"{url}/api/health")
        yield RunningSite(url, API_KEY, tmp / "instance", db_url, proc)
