"""Fixtures of the propagation tests: fake fleets, a Stripe emulator, no backoff sleeps."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
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
