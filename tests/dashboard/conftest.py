"""Fixtures of the dashboard's tests: apps, users of every role, fleets, workers.

- ``make_app(**config)``: a dashboard app on a SQLite file in a fresh instance folder,
  migrated with Alembic, Huey in ``immediate`` mode (tasks run in the request: the
  queue's testing switch) unless ``HUEY_IMMEDIATE=False``; engine backoff off.
- ``users``: a viewer, an operator and an owner, each with an API token.
- ``fleet``: a FaultFleet of healthy sites (module-scoped), ``TEMPLATE_MASTER_API_KEY``
  its key; tests that need faults build their own.
- ``start_worker(app)``: a real ``stripefleet dashboard worker`` child process on the
  app's instance folder and environment.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from stripefleet.common.processes import ManagedProcess, stripefleet_argv
from stripefleet.dashboard.app import create_app, ensure_schema
from stripefleet.dashboard.auth import services as auth
from stripefleet.dashboard.extensions import db
from stripefleet.propagation import retry
from stripefleet.testing.fleet import FaultFleet

PASSWORD = "correct horse battery staple"
ROLES = ("viewer", "operator", "owner")
PK = "stripe_publishable_key"


@pytest.fixture(autouse=True)
def _no_backoff() -> Iterator[None]:
    """The engine's testing switch: retries never sleep."""
    with retry.testing():
        yield


@pytest.fixture(scope="module")
def fleet() -> Iterator[FaultFleet]:
    """Four healthy fake sites, shared by a test module (tests only add values)."""
    with FaultFleet(sites=4) as running:
        yield running


@pytest.fixture
def make_app(tmp_path: Path) -> Callable[..., Flask]:
    """Factory: a migrated dashboard app; keyword arguments override its config."""
    counter = {"n": 0}

    def make(**config: Any) -> Flask:
        counter["n"] += 1
        folder = tmp_path / f"instance{counter['n']}"
        base = {"INSTANCE_DIR": str(folder), "TESTING": True, "HUEY_IMMEDIATE": True,
                "SESSION_COOKIE_SECURE": False, "ENGINE_BACKOFF": 0,
                "TEMPLATE_MASTER_API_KEY": "fleet-test-api-key-0123456789"}
        base.update(config)
        app = create_app(base)
        ensure_schema(app)
        return app

    return make


@pytest.fixture
def app(make_app: Callable[..., Flask]) -> Flask:
    """A dashboard app with immediate tasks on SQLite."""
    return make_app()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """Flask's test client (no cookies yet)."""
    return app.test_client()


@dataclass
class Account:
    """A user of the tests: role, email, API token and its Authorization header."""

    role: str
    email: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def add_user(app: Flask, role: str, email: str | None = None) -> Account:
    """Create a user with ``PASSWORD`` and a token, committed."""
    email = email or f"{role}@example.org"
    with app.app_context():
        user = auth.create_user(email, role, PASSWORD)
        _, token = auth.create_token(user)
        db.session.commit()
    return Account(role, email, token)


@pytest.fixture
def users(app: Flask) -> dict[str, Account]:
    """A viewer, an operator and an owner of ``app``, by role."""
    return {role: add_user(app, role) for role in ROLES}


def login(client: FlaskClient, email: str, password: str = PASSWORD) -> Any:
    """Log in through the form (CSRF token taken from the login page)."""
    page = client.get("/login").get_data(as_text=True)
    token = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    return client.post("/login", data={"email": email, "password": password,
                                       "csrf_token": token})


def csrf_token(client: FlaskClient, path: str = "/sites") -> str:
    """The CSRF token of the logged-in session (from a page's meta tag)."""
    page = client.get(path).get_data(as_text=True)
    return page.split('name="csrf-token" content="', 1)[1].split('"', 1)[0]


def import_sites(client: FlaskClient, owner: Account, urls: list[str]) -> list[int]:
    """Register ``urls`` through the API; returns the site ids."""
    resp = client.post("/api/sites/import", json={"text": "\n".join(urls)},
                       headers=owner.headers)
    assert resp.status_code == 200, resp.json
    sites = client.get("/api/sites", headers=owner.headers).json["sites"]
    return [s["id"] for s in sites if s["url"] in urls]


@pytest.fixture
def start_worker(tmp_path: Path) -> Iterator[Callable[..., ManagedProcess]]:
    """Factory: a ``dashboard worker`` child process for an app (stopped at teardown)."""
    started: list[ManagedProcess] = []

    def start(app: Flask, *, env: dict[str, str] | None = None, workers: int = 2) -> ManagedProcess:
        folder = app.config["INSTANCE_DIR"]
        full_env = {"DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
                    "TEMPLATE_MASTER_API_KEY": app.config["TEMPLATE_MASTER_API_KEY"],
                    "DASHBOARD_ENGINE_BACKOFF": "0", **(env or {})}
        if app.config.get("REDIS_URL"):
            full_env["REDIS_URL"] = app.config["REDIS_URL"]
        for key in [k for k in os.environ if k.startswith("DASHBOARD_")]:
            full_env.setdefault(key, os.environ[key])
        proc = ManagedProcess(
            stripefleet_argv("--log-level", "INFO", "dashboard", "worker",
                             "--instance-dir", folder, "--workers", str(workers)),
            env=full_env, log_path=tmp_path / f"worker-{len(started)}.log")
        started.append(proc)
        return proc.start()

    yield start
    for proc in reversed(started):
        proc.stop()


@dataclass
class Stack:
    """Real processes: two sites and ``dashboard serve`` (web + its worker child)."""

    url: str
    instance_dir: Path
    site_urls: list[str]
    api_key: str
    owner_email: str
    token: str
    serve: ManagedProcess

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def run_cli(*args: str, stdin: str | None = None, env: dict[str, str] | None = None) -> str:
    """Run ``stripefleet ARGS`` to completion; its stdout (asserting exit 0)."""
    import subprocess

    done = subprocess.run(stripefleet_argv(*args), input=stdin, capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture(scope="package")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Two real ``site serve`` processes and a ``dashboard serve`` with an owner, shared
    by the package's end-to-end tests (each test pushes its own values)."""
    from stripefleet.common.processes import all_stopped, free_port

    root = tmp_path_factory.mktemp("stack")
    api_key = "fleet-test-api-key-0123456789"
    procs: list[ManagedProcess] = []

    def start(name: str, *args: str, env: dict[str, str]) -> str:
        """Start ``stripefleet ARGS --port P`` on a free port, again if P was taken."""
        from stripefleet.common.processes import ProcessFailed

        for attempt in range(3):
            port = free_port()
            proc = ManagedProcess(stripefleet_argv(*args, "--port", str(port)), env=env,
                                  log_path=root / f"{name}-{attempt}.log")
            procs.append(proc.start())
            url = f"http://127.0.0.1:{port}"
            try:
                proc.wait_http(f"{url}/api/health", timeout=60)
            except ProcessFailed as exc:
                if attempt == 2 or "Address already in use" not in str(exc):
                    raise
                continue
            return url
        raise AssertionError("unreachable")

    with all_stopped(procs):
        site_urls = [start(f"site{index}", "site", "serve", "--instance-dir",
                           str(root / f"site{index}"), env={"TEMPLATE_MASTER_API_KEY": api_key})
                     for index in range(2)]
        folder = root / "dashboard"
        email = "owner@example.org"
        run_cli("dashboard", "create-user", "--instance-dir", str(folder), "--email", email,
                "--role", "owner", "--password-stdin", stdin=PASSWORD + "\n")
        token = run_cli("dashboard", "create-token", "--instance-dir", str(folder),
                        "--email", email).strip()
        url = start("dashboard", "--log-level", "INFO", "dashboard", "serve", "--instance-dir",
                    str(folder),
                    env={"TEMPLATE_MASTER_API_KEY": api_key, "DASHBOARD_ENGINE_BACKOFF": "0"})
        yield Stack(url, folder, site_urls, api_key, email, token, procs[-1])
