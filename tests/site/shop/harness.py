"""A shop world for the selling tests: a real Stripe emulator and a real site process,
wired as the demo wires them (keys and the webhook signing secret pushed through the
settings API, a webhook endpoint registered on the emulator).

``shop`` is module-scoped and parametrized on SQLite and PostgreSQL (starting the two
processes costs seconds), so each test makes its own products (``shop.products``, unique
slugs) and its own customers. Import the fixtures into a test folder's ``conftest.py``.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import re
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
import stripe

from stripefleet.common.processes import ManagedProcess, free_port, stripefleet_argv
from tests.conftest import postgres_schema

API_KEY = "template-master-key-2025"
#: One encryption key ring for every test site, so that sites sharing a database can
#: read each other's stored secrets (a test-only key).
ENCRYPTION_KEY = "fJupiul8O8nsw0VxnDokUzTH7o-5mB7GQVCpcp0zP1k="
SUCCESS_CARD = "4242424242424242"
DECLINED_CARD = "4000000000000002"


@dataclass
class Emulator:
    """A running ``stripefleet stripe-emulator``."""

    url: str
    secret_key: str
    publishable_key: str
    process: ManagedProcess

    def sdk(self) -> stripe.StripeClient:
        """The official SDK pointed at the emulator."""
        return stripe.StripeClient(self.secret_key, base_addresses={"api": self.url})

    def pay(self, session_id: str, card: str = SUCCESS_CARD) -> requests.Response:
        """Pay a Checkout Session through the control API."""
        return requests.post(f"{self.url}/_emulator/checkout/sessions/{session_id}/pay",
                             data={"card": card}, timeout=10)

    def advance(self, seconds: int) -> dict[str, Any]:
        """Move the emulator's clock forward (sessions past ``expires_at`` expire)."""
        r = requests.post(f"{self.url}/_emulator/clock/advance", data={"seconds": seconds},
                          timeout=10)
        r.raise_for_status()
        return dict(r.json())

    def resend(self, event_id: str) -> None:
        """Deliver an event again (a duplicate delivery)."""
        requests.post(f"{self.url}/_emulator/events/{event_id}/resend",
                      timeout=10).raise_for_status()

    def deliveries(self, **filters: str) -> list[dict[str, Any]]:
        """Every delivery attempt so far, filtered (``event_id``, ``event_type``)."""
        r = requests.get(f"{self.url}/_emulator/deliveries", params=filters, timeout=10)
        return list(r.json()["data"])

    def events_for(self, object_id: str) -> list[dict[str, Any]]:
        """The events whose ``data.object.id`` is ``object_id``, oldest first."""
        events = self.sdk().v1.events.list(params={"limit": 100}).to_dict()["data"]
        return [e for e in reversed(events) if e["data"]["object"]["id"] == object_id]


@dataclass
class Shop:
    """A site process wired to an emulator."""

    url: str
    emulator: Emulator
    webhook_secret: str
    instance_dir: Path
    env: dict[str, str]
    process: ManagedProcess
    tmp: Path
    _owner_session: tuple[requests.Session, str] | None = None

    # --- catalogue -----------------------------------------------------------------
    def products(self, *rows: dict[str, Any]) -> list[dict[str, Any]]:
        """Add ``rows`` (import rows; slugs made unique with a ``-<hex>`` suffix) through
        the owner's admin form (one HTTP request each; the import command has its own
        tests); return their ``GET /api/products/<slug>`` bodies in order."""
        owner, csrf = self._owner()
        suffix = uuid.uuid4().hex[:6]
        made = []
        for row in rows:
            slug = f"{row['slug']}-{suffix}"
            price = row.get("daily_rate", row.get("price"))
            stock = row.get("stock", 1 if row.get("type") == "equipment" else None)
            form = {"csrf_token": csrf, "slug": slug, "name": row["name"],
                    "type": row.get("type", "product"), "price": str(price),
                    "currency": row.get("currency", "eur"),
                    "stock": "" if stock is None else str(stock),
                    "description": row.get("description", ""),
                    "image_url": row.get("image_url") or ""}
            if row.get("active", True):
                form["active"] = "on"
            r = owner.post(f"{self.url}/admin/produits", data=form, timeout=10)
            assert r.status_code == 200 and "Produit enregistré" in r.text, r.text[-500:]
            made.append(self.product(slug))
        return made

    def _owner(self) -> tuple[requests.Session, str]:
        """A logged-in owner session of the admin area and its CSRF token (made once)."""
        if self._owner_session is None:
            email = f"owner-{uuid.uuid4().hex[:6]}@example.com"
            result = self.cli("create-owner", "--email", email, "--password-stdin",
                              stdin="owner-password\n")
            assert result.returncode == 0, result.stderr
            browser = self.browser_login(email, "owner-password")
            page = browser.get(f"{self.url}/admin/", timeout=10).text
            token = re.search(r'name="csrf_token" value="([^"]+)"', page)
            assert token is not None
            self._owner_session = (browser, token.group(1))
        return self._owner_session

    def product(self, key: str | int) -> dict[str, Any]:
        """``GET /api/products/<key>``'s product."""
        r = requests.get(f"{self.url}/api/products/{key}", timeout=10)
        assert r.status_code == 200, r.text
        return dict(r.json()["product"])

    def cli(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        """``stripefleet site ARGS --instance-dir DIR`` on the site's database; a JSON
        text given as the FILE argument of ``products import`` is written to a file."""
        argv = list(args)
        if args[:2] == ("products", "import") and args[2:3] and args[2].lstrip()[:1] in "[{":
            path = self.tmp / f"catalogue-{uuid.uuid4().hex[:6]}.json"
            path.write_text(args[2], encoding="utf-8")
            argv[2] = str(path)
        return subprocess.run(
            stripefleet_argv("site", *argv, "--instance-dir", str(self.instance_dir)),
            env={**os.environ, **self.env}, input=stdin, capture_output=True, text=True,
            timeout=60)

    # --- customers and checkout ----------------------------------------------------
    def customer(self) -> dict[str, str]:
        """A new registered customer: ``{"email", "token"}``."""
        email = f"c-{uuid.uuid4().hex[:8]}@example.com"
        r = requests.post(f"{self.url}/api/auth/register",
                          json={"email": email, "password": "correct horse"}, timeout=10)
        assert r.status_code == 201, r.text
        return {"email": email, "token": r.json()["token"]}

    def checkout(self, items: list[dict[str, Any]], token: str | None = None,
                 **extra: Any) -> requests.Response:
        """``POST /api/checkout/`` with the body of the shop's Stripe configuration
        notes around ``items``."""
        body = {"items": items, "customer_info": {"firstName": "John", "lastName": "Doe",
                                                  "email": "john@example.com"},
                "success_url": "http://localhost:3000/success?success=true&session_id="
                               "{CHECKOUT_SESSION_ID}",
                "cancel_url": "http://localhost:3000/cart", **extra}
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return requests.post(f"{self.url}/api/checkout/", json=body, headers=headers,
                             timeout=30)

    def order(self, session_id: str) -> dict[str, Any]:
        """The order behind a session, read with the site's API key."""
        r = requests.get(f"{self.url}/api/orders/session/{session_id}/",
                         headers={"X-API-Key": API_KEY}, timeout=10)
        assert r.status_code == 200, r.text
        return dict(r.json()["order"])

    def wait_order(self, session_id: str, check: Callable[[dict[str, Any]], bool],
                   timeout: float = 20.0) -> dict[str, Any]:
        """Poll the order until ``check(order)`` holds (bounded; webhooks are async)."""
        deadline = time.monotonic() + timeout
        while True:
            order = self.order(session_id)
            if check(order) or time.monotonic() > deadline:
                return order
            time.sleep(0.1)

    def wait_delivered(self, event_type: str, object_id: str, timeout: float = 20.0) -> None:
        """Wait until the site answered 2xx to the event of ``event_type`` about
        ``object_id`` (bounded)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ids = {e["id"] for e in self.emulator.events_for(object_id) if e["type"] == event_type}
            done = [d for d in self.emulator.deliveries(event_type=event_type)
                    if d["event_id"] in ids and d["succeeded"]]
            if done:
                return
            time.sleep(0.1)
        raise AssertionError(f"{event_type} for {object_id} never delivered:\n"
                             f"{self.process.log_tail(40)}")

    def browser_login(self, email: str, password: str) -> requests.Session:
        """A cookie session logged in through the login page's CSRF-protected form."""
        browser = requests.Session()
        page = browser.get(f"{self.url}/compte/connexion", timeout=10).text
        token = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert token is not None
        browser.post(f"{self.url}/compte/connexion", timeout=10,
                     data={"email": email, "password": password,
                           "csrf_token": token.group(1)})
        return browser

    def post_event(self, payload: str, signature: str | None) -> requests.Response:
        """POST a raw body to the webhook endpoint with a ``Stripe-Signature``."""
        headers = {"Content-Type": "application/json"}
        if signature is not None:
            headers["Stripe-Signature"] = signature
        return requests.post(f"{self.url}/api/webhook/stripe/", data=payload.encode(),
                             headers=headers, timeout=10)


def sign(payload: str, secret: str, timestamp: int | None = None) -> str:
    """A ``Stripe-Signature`` header as Stripe computes it (HMAC-SHA256 of ``t.payload``)."""
    t = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{t}.{payload}".encode(), hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


@contextlib.contextmanager
def fresh_database(like: str, tmp: Path) -> Iterator[str]:
    """A new empty database of the same kind as ``like`` (SQLite file or PG schema)."""
    if like.startswith("sqlite"):
        yield f"sqlite:///{tmp / f'fresh-{uuid.uuid4().hex[:6]}.db'}"
    else:
        yield from _pg_schema()


def _pg_schema() -> Iterator[str]:
    with postgres_schema() as url:
        yield url


def start_emulator(tmp: Path, *extra: str) -> Emulator:
    """Start an emulator on a free port (deliveries retried after 0.2 s)."""
    port = free_port()
    keys_file = tmp / f"keys-{port}.json"
    proc = ManagedProcess(
        stripefleet_argv("stripe-emulator", "--port", str(port), "--keys-file", str(keys_file),
                         "--retry-delay", "0.2", *extra),
        log_path=tmp / f"emulator-{port}.log")
    proc.start()
    url = f"http://127.0.0.1:{port}"
    proc.wait_http(f"{url}/_emulator/health", timeout=30)
    pair = json.loads(keys_file.read_text())["keys"][0]
    return Emulator(url, pair["secret_key"], pair["publishable_key"], proc)


def start_shop(tmp: Path, database_url: str, emulator: Emulator, *, workers: int = 1,
               env: dict[str, str] | None = None, configure: bool = True) -> Shop:
    """Start a site on ``database_url``, pointed at ``emulator``; with ``configure``,
    push its keys and a webhook signing secret of an endpoint registered for it."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    instance = tmp / f"site-{port}"
    full_env = {"TEMPLATE_MASTER_API_KEY": API_KEY, "DATABASE_URL": database_url,
                "STRIPEFLEET_ENCRYPTION_KEY": ENCRYPTION_KEY, "STRIPE_API_BASE": emulator.url,
                **(env or {})}
    argv = ["site", "serve", "--port", str(port), "--instance-dir", str(instance)]
    if workers > 1:
        argv += ["--workers", str(workers)]
    proc = ManagedProcess(stripefleet_argv(*argv), env=full_env,
                          log_path=tmp / f"site-{port}.log")
    proc.start()
    proc.wait_http(f"{url}/api/health", timeout=60)
    secret = ""
    if configure:
        endpoint = emulator.sdk().v1.webhook_endpoints.create(
            params={"url": f"{url}/api/webhook/stripe/", "enabled_events": ["*"]})
        secret = endpoint.secret or ""
        for name, value in (("stripe_secret_key", emulator.secret_key),
                            ("stripe_publishable_key", emulator.publishable_key),
                            ("stripe_webhook_secret", secret)):
            r = requests.put(f"{url}/api/export/settings/{name}", json={"value": value},
                             headers={"X-API-Key": API_KEY}, timeout=10)
            assert r.status_code == 200, r.text
    return Shop(url, emulator, secret, instance, full_env, proc, tmp)


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def shop_db(request: pytest.FixtureRequest,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A database URL for the module: a SQLite file, then a PostgreSQL schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'shop.db'}"
    else:
        yield from _pg_schema()


@pytest.fixture(scope="module")
def emulator(shop_db: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    """One Stripe emulator for the module and database (a fresh one for each)."""
    emu = start_emulator(tmp_path_factory.mktemp("emulator"))
    yield emu
    emu.process.stop()


@pytest.fixture(scope="module")
def shop(shop_db: str, emulator: Emulator,
         tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shop]:
    """A configured site on the module's database and emulator (guest checkout on)."""
    site = start_shop(tmp_path_factory.mktemp("shop"), shop_db, emulator,
                      env={"SITE_GUEST_CHECKOUT": "1"})
    yield site
    site.process.stop()
