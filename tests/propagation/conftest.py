"""Fixtures of the propagation tests: fake fleets, no backoff sleeps."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

import pytest

from stripefleet.propagation import PushOptions, Target, retry
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
