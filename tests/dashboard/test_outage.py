"""A database outage on a real ``dashboard serve`` process (PostgreSQL): the JSON API
and the pages answer 503 ``database_unavailable`` with ``Retry-After``, the log says so
once when it starts and once when it ends, and the dashboard serves again by itself.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from stripefleet.common.processes import ManagedProcess, free_port
from tests.common.pg_outage import OutageDatabase, outage_database
from tests.dashboard.conftest import PASSWORD, run_cli

EMAIL = "owner@example.org"
API_GETS = ["/api/me", "/api/sites", "/api/rollouts", "/api/audit", "/api/history",
            "/api/health"]
PAGES = ["/sites", "/rollouts/new", "/history", "/audit"]


@dataclass
class Outage:
    """The dashboard, its database, an owner's token and a logged-in browser session."""

    url: str
    database: OutageDatabase
    token: str
    browser: requests.Session
    process: ManagedProcess

    def api(self, method: str, path: str, **kwargs: object) -> requests.Response:
        return requests.request(method, f"{self.url}{path}", timeout=30,  # type: ignore[arg-type]
                                headers={"Authorization": f"Bearer {self.token}"}, **kwargs)

    def log_text(self) -> str:
        return self.process.log_path.read_text(encoding="utf-8", errors="replace")


@pytest.fixture
def outage(tmp_path: Path, start_stripefleet: Callable[..., ManagedProcess]) -> Iterator[Outage]:
    """A dashboard on a database of its own, with an owner logged in; not cut yet."""
    with outage_database() as database:
        env = {"DATABASE_URL": database.url, "TEMPLATE_MASTER_API_KEY": "fleet-key-0123456789ab",
               "DASHBOARD_ENGINE_BACKOFF": "0"}
        folder = str(tmp_path / "dashboard")
        run_cli("dashboard", "create-user", "--instance-dir", folder, "--email", EMAIL,
                "--role", "owner", "--password-stdin", stdin=PASSWORD + "\n", env=env)
        token = run_cli("dashboard", "create-token", "--instance-dir", folder,
                        "--email", EMAIL, env=env).strip()
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        proc = start_stripefleet("--log-level", "INFO", "dashboard", "web", "--instance-dir",
                                 folder, "--port", str(port), env=env,
                                 ready_url=f"{url}/api/health")
        browser = requests.Session()
        page = browser.get(f"{url}/login", timeout=30).text
        csrf = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
        resp = browser.post(f"{url}/login", data={"email": EMAIL, "password": PASSWORD,
                                                  "csrf_token": csrf}, timeout=30)
        assert resp.status_code == 200 and "/login" not in resp.url, resp.text[:500]
        yield Outage(url, database, token, browser, proc)
        browser.close()


def test_the_api_answers_503_during_an_outage(outage: Outage) -> None:
    """With the database unreachable, the JSON API (reads and writes) answers 503
    ``database_unavailable`` with ``Retry-After``, never 500."""
    outage.database.cut()
    answers = {path: outage.api("GET", path) for path in API_GETS}
    answers["POST /api/sites"] = outage.api("POST", "/api/sites",
                                            json={"url": "https://shop.example.org"})
    got = {path: (r.status_code, r.json().get("error"), "Retry-After" in r.headers)
           for path, r in answers.items()}
    assert got == dict.fromkeys(got, (503, "database_unavailable", True)), \
        outage.log_text()[-3000:]


def test_pages_answer_an_html_503_during_an_outage(outage: Outage) -> None:
    """A logged-in operator's pages answer an HTML 503 with ``Retry-After``."""
    outage.database.cut()
    answers = {path: outage.browser.get(f"{outage.url}{path}", timeout=30) for path in PAGES}
    got = {path: (r.status_code, r.headers.get("Content-Type", "").split(";")[0],
                  "Retry-After" in r.headers) for path, r in answers.items()}
    assert got == dict.fromkeys(PAGES, (503, "text/html", True))


def test_the_outage_is_logged_once_and_the_dashboard_recovers(outage: Outage) -> None:
    """Many failing requests log one line when the outage starts and no traceback; once
    the database is back, the dashboard serves again by itself and logs one line."""
    outage.database.cut()
    for _ in range(3):
        for path in API_GETS:
            outage.api("GET", path)
        for path in PAGES:
            outage.browser.get(f"{outage.url}{path}", timeout=30)
    outage.database.restore()
    assert outage.api("GET", "/api/me").json()["user"]["email"] == EMAIL
    assert outage.browser.get(f"{outage.url}/sites", timeout=30).status_code == 200
    log = outage.log_text()
    assert "Traceback" not in log
    assert log.count("database outage started") == 1, log[-3000:]
    assert log.count("database outage over") == 1, log[-3000:]
