"""The login's throttle on a real ``dashboard web`` process (PostgreSQL): failures are
counted atomically, only ``DASHBOARD_LOCKOUT_ATTEMPTS`` passwords are checked before the
account waits, the wait grows instead of locking the owner out, an address is throttled
across accounts, and an unknown account is answered like a throttled one.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa

from stripefleet.common.processes import ManagedProcess, free_port
from tests.dashboard.conftest import PASSWORD, run_cli

EMAIL = "owner@example.org"
ATTEMPTS = 5


@dataclass
class Dashboard:
    """The process's URL and its database."""

    url: str
    database_url: str

    def login(self, email: str, password: str) -> requests.Response:
        """One login through the form, with a fresh session and CSRF token."""
        with requests.Session() as browser:
            page = browser.get(f"{self.url}/login", timeout=30).text
            csrf = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
            return browser.post(f"{self.url}/login", timeout=60, allow_redirects=False,
                                data={"email": email, "password": password,
                                      "csrf_token": csrf})

    def owner_row(self) -> tuple[int, datetime | None]:
        """The owner's ``failed_logins`` and ``locked_until`` (aware UTC)."""
        engine = sa.create_engine(self.database_url)
        try:
            with engine.connect() as conn:
                count, until = conn.execute(sa.text(
                    "SELECT failed_logins, locked_until FROM users WHERE email = :e"),
                    {"e": EMAIL}).one()
        finally:
            engine.dispose()
        return count, until.replace(tzinfo=UTC) if until else None


@pytest.fixture
def dashboard(tmp_path: Path, postgres_url: str,
              start_stripefleet: Callable[..., ManagedProcess]) -> Dashboard:
    """``dashboard web`` with an owner, lock-out after 5 failures (the default)."""
    env = {"DATABASE_URL": postgres_url, "TEMPLATE_MASTER_API_KEY": "fleet-key-0123456789ab"}
    folder = str(tmp_path / "dashboard")
    run_cli("dashboard", "create-user", "--instance-dir", folder, "--email", EMAIL,
            "--role", "owner", "--password-stdin", stdin=PASSWORD + "\n", env=env)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    start_stripefleet("dashboard", "web", "--instance-dir", folder, "--port", str(port),
                      "--threads", "16", env=env, ready_url=f"{url}/api/health")
    return Dashboard(url, postgres_url)


def _error(resp: requests.Response) -> str:
    found = re.search(r'class="flash error" role="alert">([^<]*)<', resp.text)
    return found.group(1) if found else ""


def test_forty_concurrent_wrong_passwords_check_only_the_allowed_five(
        dashboard: Dashboard) -> None:
    """40 wrong passwords sent at once: exactly 5 are checked and counted (the count is
    claimed with the row, not read then written); the others are refused unchecked."""
    with ThreadPoolExecutor(max_workers=40) as pool:
        statuses = list(pool.map(lambda i: dashboard.login(EMAIL, f"wrong-{i}-password"
                                                           ).status_code, range(40)))
    assert set(statuses) <= {401, 429}
    assert dashboard.owner_row()[0] == ATTEMPTS


def test_five_wrong_passwords_make_the_owner_wait_seconds_not_minutes(
        dashboard: Dashboard) -> None:
    """After 5 wrong passwords the account waits a short, growing delay (under a minute
    the first time), not a 15-minute lock that anyone could trigger."""
    for i in range(ATTEMPTS):
        assert dashboard.login(EMAIL, f"wrong-{i}-password").status_code == 401
    count, until = dashboard.owner_row()
    assert count == ATTEMPTS and until is not None
    assert (until - datetime.now(UTC)).total_seconds() <= 60


def test_an_unknown_account_is_answered_like_a_throttled_one(dashboard: Dashboard) -> None:
    """Once the owner's account waits, a login to it and a login to an account that does
    not exist get the same status and the same message (no account enumeration)."""
    for i in range(ATTEMPTS):
        dashboard.login(EMAIL, f"wrong-{i}-password")
    throttled = dashboard.login(EMAIL, PASSWORD)
    unknown = dashboard.login("nobody@example.org", PASSWORD)
    assert (throttled.status_code, _error(throttled)) == (unknown.status_code, _error(unknown))
    assert throttled.status_code == 401


def test_an_address_is_throttled_across_accounts(dashboard: Dashboard) -> None:
    """Wrong logins for many different accounts from one address: past 2 x
    DASHBOARD_LOCKOUT_ATTEMPTS in a minute, the address gets 429 with Retry-After."""
    statuses = [dashboard.login(f"user{i}@example.org", "wrong-password-x").status_code
                for i in range(2 * ATTEMPTS)]
    last = dashboard.login("another@example.org", "wrong-password-x")
    assert statuses == [401] * (2 * ATTEMPTS)
    assert last.status_code == 429
    assert 1 <= int(last.headers["Retry-After"]) <= 60
