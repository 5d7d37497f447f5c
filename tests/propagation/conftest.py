"""Fixtures of the propagation tests: fake fleets, a Stripe emulator, no backoff sleeps."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from stripefleet.common.processes import ManagedProcess, free_port, stripefleet_argv
from stripefleet.propagation import PushOptions, Target, retry
from stripefleet.stripe_emulator import EmulatorClient
from stripefleet.testing.behaviours import Behaviour
from stripefleet.testing.fleet import FaultFleet

MakeFleet = Callable[..., FaultFleet]

#: Quick options for tests: short timeout, no meaningful rate limit.
FAST = PushOptions(timeout=0.5, retries=2, rate=1000, concurrency=10, backoff_base=0.01)


@pytest.fixture(autouse=True)
def backoff_delays() -> Iterator[list[float]]:
    """Backoff is never slept in these tests; each computed delay lands in this list."""
    with retry.testing() as delays:
        yield delays


@pytest.fixture
def make_fleet() -> Iterator[MakeFleet]:
    """Factory: ``make_fleet(["ok", "flaky:2"], latency_ms=0)`` -> a started FaultFleet,
    stopped at teardown."""
    fleets: list[FaultFleet] = []

    def make(behaviours: Sequence[Behaviour | str] = (), **kwargs: object) -> FaultFleet:
        fleet = FaultFleet(behaviours, **kwargs).start()  # type: ignore[arg-type]
        fleets.append(fleet)
        return fleet

    yield make
    for fleet in fleets:
        fleet.stop()


def targets(fleet: FaultFleet) -> list[Target]:
    """One target per fake site, with the fleet's API key."""
    return [Target(url, fleet.api_key) for url in fleet.urls]


@dataclass
class Emulator:
    """A running Stripe emulator: its URL and its control API."""

    url: str
    control: EmulatorClient
    process: ManagedProcess

    def keys(self, fleet: FaultFleet | None = None, **kwargs: Any) -> dict[str, Any]:
        """A new key pair (``account=``, ``mode=`` as the control API takes them); with
        ``fleet``, its fake sites answer the pair's account for its secret key."""
        pair = self.control.create_keys(**kwargs)
        if fleet is not None:
            fleet.accounts[pair["secret_key"]] = pair["account"]
        return pair


def start_emulator(folder: Path) -> Emulator:
    """An emulator process on a free port, answering once it is ready."""
    port = free_port()
    argv = stripefleet_argv("stripe-emulator", "--port", str(port), "--keys-file",
                            str(folder / "keys.json"))
    proc = ManagedProcess(argv, log_path=folder / f"emulator-{port}.log").start()
    url = f"http://127.0.0.1:{port}"
    try:
        proc.wait_http(f"{url}/_emulator/health")
    except Exception:
        proc.stop()
        raise
    return Emulator(url, EmulatorClient(url), proc)


@pytest.fixture(scope="session")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    """One emulator for the session (tests make their own keys and accounts)."""
    running = start_emulator(tmp_path_factory.mktemp("emulator"))
    yield running
    running.process.stop()


class NotifyReceiver:
    """A local HTTP server that records what Apprise's ``json://`` scheme posts to it:
    ``url`` is the ``json://127.0.0.1:PORT/hook`` to give as a notification URL."""

    def __init__(self) -> None:
        received: list[dict[str, Any]] = []
        self.received = received

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                length = int(self.headers.get("Content-Length", 0))
                received.append(json.loads(self.rfile.read(length) or b"{}"))
                self.send_response(200)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                """Quiet: no access log on stderr."""

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"json://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[NotifyReceiver]:
    """A notification receiver for the test (Apprise ``json://`` URL in ``.url``)."""
    running = NotifyReceiver()
    yield running
    running.close()
