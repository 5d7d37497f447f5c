"""Fixtures for the emulator's tests: real emulator processes, the SDK, a webhook receiver.

The emulator runs as a child process (``python -m stripefleet stripe-emulator``) on a
free loopback port and is driven only through the official SDK (sync and async) and
the control API. Webhook deliveries land in :class:`Receiver`, a small aiohttp server
running in a background thread of the test process.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
import stripe
from aiohttp import web

from stripefleet.common.processes import ManagedProcess, free_port, stripefleet_argv
from stripefleet.stripe_emulator import EmulatorClient

#: Start options of the shared emulator: retries at once (no sleeping on backoff).
FAST = ("--retry-delay", "0", "--max-attempts", "4", "--delivery-timeout", "5")


@dataclass
class RunningEmulator:
    """One emulator process and what a test needs to talk to it."""

    url: str
    keys_file: Path
    process: ManagedProcess
    control: EmulatorClient

    @property
    def keys(self) -> list[dict[str, Any]]:
        """The keys file's pairs."""
        return list(json.loads(self.keys_file.read_text())["keys"])

    @property
    def secret_key(self) -> str:
        return str(self.keys[0]["secret_key"])

    @property
    def publishable_key(self) -> str:
        return str(self.keys[0]["publishable_key"])

    def client(self, key: str | None = None, **kwargs: Any) -> stripe.StripeClient:
        """A sync SDK client on this emulator (``max_network_retries=0``: errors surface)."""
        return stripe.StripeClient(key or self.secret_key, base_addresses={"api": self.url},
                                   max_network_retries=0, **kwargs)

    def http(self, method: str, path: str, key: str | None = None,
             data: Any = None) -> requests.Response:
        """A raw API request (the exact JSON Stripe would answer), with a secret key as
        HTTP basic user (``key``, default the first pair's; ``""``: no key)."""
        auth = None if key == "" else (key or self.secret_key, "")
        query = data if method in ("GET", "DELETE") else None
        body = None if method in ("GET", "DELETE") else data
        return requests.request(method, f"{self.url}{path}", auth=auth, params=query,
                                data=body, timeout=10)


def launch(folder: Path, *args: str) -> RunningEmulator:
    """Start an emulator with its keys file in ``folder``; wait until it answers."""
    port = free_port()
    keys_file = folder / "keys.json"
    argv = stripefleet_argv("stripe-emulator", "--port", str(port), "--keys-file",
                            str(keys_file), *args)
    proc = ManagedProcess(argv, log_path=folder / f"emulator-{port}.log").start()
    url = f"http://127.0.0.1:{port}"
    try:
        proc.wait_http(f"{url}/_emulator/health")
    except Exception:
        proc.stop()
        raise
    return RunningEmulator(url, keys_file, proc, EmulatorClient(url))


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningEmulator]:
    """An emulator shared by one test module (tests create their own objects)."""
    running = launch(tmp_path_factory.mktemp("emulator"), *FAST)
    yield running
    running.process.stop()


@pytest.fixture
def start_emulator(tmp_path: Path) -> Iterator[Callable[..., RunningEmulator]]:
    """Factory: an emulator of the test's own, with extra options; stopped at teardown."""
    started: list[RunningEmulator] = []

    def start(*args: str, folder: Path | None = None) -> RunningEmulator:
        running = launch(folder or tmp_path, *args)
        started.append(running)
        return running

    yield start
    for running in started:
        running.process.stop()


@pytest.fixture
def client(emulator: RunningEmulator) -> stripe.StripeClient:
    """A sync SDK client with the shared emulator's secret key."""
    return emulator.client()


@pytest.fixture
async def async_client(emulator: RunningEmulator):  # type: ignore[no-untyped-def]
    """An async SDK client (aiohttp) with the shared emulator's secret key."""
    http_client = stripe.AIOHTTPClient()
    yield stripe.StripeClient(emulator.secret_key, base_addresses={"api": emulator.url},
                              http_client=http_client, max_network_retries=0)
    await http_client.close_async()


def session_params(**overrides: Any) -> dict[str, Any]:
    """Parameters of a typical site's Checkout Session (seed 003_), 2 x 12.50 EUR."""
    params: dict[str, Any] = {
        "mode": "payment",
        "line_items": [{"price_data": {"currency": "eur", "unit_amount": 1250,
                                       "product_data": {"name": "Poster"}},
                        "quantity": 2}],
        "success_url": "http://127.0.0.1:9/success?session_id={CHECKOUT_SESSION_ID}",
        "cancel_url": "http://127.0.0.1:9/cart",
        "customer_email": "john@example.com",
        "client_reference_id": "order-42",
        "metadata": {"order_id": "42"},
    }
    params.update(overrides)
    return params


@pytest.fixture
def new_session(client: stripe.StripeClient) -> Callable[..., Any]:
    """Factory: a new Checkout Session on the shared emulator."""
    def make(**overrides: Any) -> Any:
        return client.v1.checkout.sessions.create(params=session_params(**overrides))
    return make


# ---------------------------------------------------------------- webhook receiver


@dataclass
class Hit:
    """One request the receiver got."""

    payload: str
    signature: str
    status: int


@dataclass
class Receiver:
    """A webhook receiver: ``/hooks/<name>`` answers per a plan, then 200.

    Plans hold statuses (``500``), ``("sleep", seconds)`` or ``("hold", threading.Event)``
    (answer only once the event is set).
    """

    base_url: str = ""
    hits: dict[str, list[Hit]] = field(default_factory=lambda: defaultdict(list))
    plans: dict[str, list[Any]] = field(default_factory=lambda: defaultdict(list))
    cond: threading.Condition = field(default_factory=threading.Condition)

    def url(self, name: str) -> str:
        return f"{self.base_url}/hooks/{name}"

    def plan(self, name: str, *steps: Any) -> None:
        """What the next requests to ``name`` get, in order (then 200)."""
        with self.cond:
            self.plans[name].extend(steps)

    def wait(self, name: str, count: int, timeout: float = 15.0,
             where: Callable[[Hit], bool] = lambda h: True) -> list[Hit]:
        """Block until ``name`` has ``count`` matching hits (bounded); return them."""
        with self.cond:
            ok = self.cond.wait_for(
                lambda: len([h for h in self.hits[name] if where(h)]) >= count, timeout)
            got = [h for h in self.hits[name] if where(h)]
        assert ok, f"{name}: {len(got)} of {count} deliveries arrived within {timeout} s"
        return got

    async def handle(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        payload = await request.text()
        with self.cond:
            step = self.plans[name].pop(0) if self.plans[name] else 200
        status = 200
        if isinstance(step, int):
            status = step
        elif step[0] == "sleep":
            await asyncio.sleep(step[1])
        elif step[0] == "hold":
            await asyncio.to_thread(step[1].wait, 30)
        with self.cond:
            self.hits[name].append(Hit(payload, request.headers.get("Stripe-Signature", ""),
                                       status))
            self.cond.notify_all()
        return web.Response(status=status, text="ok")


async def landing(request: web.Request) -> web.Response:
    """A shop's landing page for ``success_url``/``cancel_url`` in browser tests."""
    name = request.match_info["name"]
    return web.Response(text=f"<!doctype html><title>{name}</title><h1 id='landing'>{name}</h1>",
                        content_type="text/html")


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    """A webhook receiver on a free loopback port, in a background thread."""
    rec = Receiver()
    loop = asyncio.new_event_loop()
    port = free_port()
    rec.base_url = f"http://127.0.0.1:{port}"
    app = web.Application()
    app.router.add_post("/hooks/{name}", rec.handle)
    app.router.add_get("/landing/{name}", landing)
    runner = web.AppRunner(app, access_log=None)
    started = threading.Event()

    def serve() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(runner.setup())
        loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", port).start())
        started.set()
        loop.run_forever()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    assert started.wait(10)
    yield rec
    asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)
    loop.close()


@pytest.fixture
def hook(request: pytest.FixtureRequest) -> str:
    """A receiver name of this test's own (its node name, URL-safe)."""
    return re.sub(r"\W", "_", request.node.name)


@pytest.fixture
def endpoint(client: stripe.StripeClient, receiver: Receiver,
             hook: str) -> Iterator[Callable[..., Any]]:
    """Factory: a webhook endpoint to ``receiver.url(name)``; deleted at teardown.

    ``endpoint(events=["*"], name=None)`` returns the created endpoint (with ``secret``);
    the receiver name defaults to the test's name.
    """
    made: list[str] = []

    def make(events: list[str] | None = None, name: str | None = None) -> Any:
        created = client.v1.webhook_endpoints.create(params={
            "url": receiver.url(name or hook), "enabled_events": events or ["*"]})
        made.append(created.id)
        return created

    yield make
    for endpoint_id in made:
        with contextlib.suppress(stripe.InvalidRequestError):  # the test deleted it
            client.v1.webhook_endpoints.delete(endpoint_id)


def wait_deliveries(emulator: RunningEmulator, count: int, timeout: float = 15.0,
                    **filters: str) -> list[dict[str, Any]]:
    """Poll the control API until ``count`` attempts matching ``filters`` are recorded.

    The receiver sees a request before the emulator records its answer; this bounded
    wait closes that gap.
    """
    deadline = time.monotonic() + timeout
    while True:
        attempts = emulator.control.deliveries(**filters)
        if len(attempts) >= count:
            return attempts
        assert time.monotonic() < deadline, (
            f"{len(attempts)} of {count} delivery attempts recorded within {timeout} s")
        time.sleep(0.02)
