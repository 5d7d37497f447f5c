"""A database outage on a real site process (PostgreSQL): every endpoint answers 503
``database_unavailable`` with ``Retry-After`` (pages an HTML 503, the webhook too so that
Stripe retries), the log says so once when it starts and once when it ends, and the site
serves again by itself once the database is back.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
import requests

from tests.common.pg_outage import OutageDatabase, outage_database
from tests.site.conftest import API_KEY, RunningSite

PK = "pk_test_OutageProof000000000000"

#: (method, path, JSON body or None, sends the API key) of every kind of endpoint.
ENDPOINTS: list[tuple[str, str, dict[str, object] | None, bool]] = [
    ("GET", "/api/health", None, False),
    ("GET", "/api/export/settings", None, True),
    ("PUT", "/api/export/settings/stripe_publishable_key", {"value": PK}, True),
    ("GET", "/api/stripe-pk", None, False),
    ("GET", "/api/health/stripe", None, True),
    ("POST", "/api/test-stripe", {}, True),
    ("GET", "/api/products", None, False),
    ("POST", "/api/checkout/", {"items": [{"product": "poster", "quantity": 1}]}, False),
    ("POST", "/api/auth/login", {"email": "a@example.org", "password": "x" * 12}, False),
    ("POST", "/api/webhook/stripe/", {"id": "evt_1", "type": "checkout.session.completed"},
     False),
    ("GET", "/api/export/launch-requests", None, True),
]
PAGES = ["/", "/produits/poster"]  # pages that read the database


@pytest.fixture
def outage_db() -> Iterator[OutageDatabase]:
    """A PostgreSQL database of this test's own, which it can take away."""
    with outage_database() as database:
        yield database


def _call(site: RunningSite, method: str, path: str, body: dict[str, object] | None,
          with_key: bool) -> requests.Response:
    headers = {"X-API-Key": API_KEY} if with_key else {}
    if path.startswith("/api/webhook"):
        headers["Stripe-Signature"] = "t=1,v1=00"
    if path.startswith("/api/checkout"):
        headers["Authorization"] = "Bearer a-customer-token-looked-up-in-the-database"
    return requests.request(method, f"{site.url}{path}", json=body, headers=headers,
                            timeout=30)


@pytest.fixture
def outage_site(outage_db: OutageDatabase,
                launch_site: Callable[..., RunningSite]) -> RunningSite:
    """A site on ``outage_db``, with a publishable key stored, then its database cut."""
    site = launch_site(db_url=outage_db.url)
    site.set("stripe_publishable_key", PK)
    outage_db.cut()
    return site


def test_every_api_endpoint_answers_503_during_an_outage(outage_site: RunningSite) -> None:
    """With the database unreachable, every API endpoint (the webhook included) answers
    503 ``database_unavailable`` with ``Retry-After``, never 500."""
    answers = {path: _call(outage_site, method, path, body, key)
               for method, path, body, key in ENDPOINTS}
    got = {path: (r.status_code, r.json().get("error"), "Retry-After" in r.headers)
           for path, r in answers.items()}
    assert got == dict.fromkeys(got, (503, "database_unavailable", True)), \
        outage_site.log_text()[-3000:]


def test_pages_answer_an_html_503_during_an_outage(outage_site: RunningSite) -> None:
    """The storefront's pages that read the database answer an HTML 503 with
    ``Retry-After``."""
    answers = {path: requests.get(f"{outage_site.url}{path}", timeout=30) for path in PAGES}
    got = {path: (r.status_code, r.headers.get("Content-Type", "").split(";")[0],
                  "Retry-After" in r.headers) for path, r in answers.items()}
    assert got == dict.fromkeys(PAGES, (503, "text/html", True))


def test_the_outage_is_logged_once_and_the_site_recovers(
        outage_db: OutageDatabase, outage_site: RunningSite) -> None:
    """Many failing requests log one line when the outage starts and no traceback; once
    the database is back, the site serves again by itself and logs one line saying so."""
    for _ in range(3):
        for method, path, body, key in ENDPOINTS:
            _call(outage_site, method, path, body, key)
    outage_db.restore()
    resp = outage_site.get("/api/export/settings/stripe_publishable_key", api_key=API_KEY)
    assert resp.status_code == 200, resp.text
    assert resp.json()["value"] == PK
    log = outage_site.log_text()
    assert "Traceback" not in log
    assert log.count("database outage started") == 1, log[-3000:]
    assert log.count("database outage over") == 1, log[-3000:]
