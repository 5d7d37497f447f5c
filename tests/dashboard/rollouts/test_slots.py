"""``dashboard/rollouts/slots.py``: one concurrency bound over all the chunks of a
rollout, in one process (threads, each with its event loop) or across processes
(Redis); and the engine holding a shared slot for each request."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

from stripefleet.dashboard.rollouts.slots import LocalSlots, RedisSlots
from stripefleet.propagation import PushOptions, Target, propagate
from stripefleet.testing.fleet import FaultFleet


class Meter:
    """Counts the ``async with slot()`` blocks open at once, across threads."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.now = self.peak = self.done = 0

    async def hold(self, slots: Any, seconds: float) -> None:
        async with slots.slot():
            with self.lock:
                self.now += 1
                self.peak = max(self.peak, self.now)
            await asyncio.sleep(seconds)
            with self.lock:
                self.now -= 1
                self.done += 1


def _in_threads(make: Any, meter: Meter, threads: int, tasks: int) -> None:
    """``threads`` threads, each with its own loop and its own slots object (as chunk
    tasks have), running ``tasks`` holders of 30 ms each."""

    def run() -> None:
        async def main() -> None:
            slots = make()
            try:
                await asyncio.gather(*(meter.hold(slots, 0.03) for _ in range(tasks)))
            finally:
                await slots.close()

        asyncio.run(main())

    workers = [threading.Thread(target=run) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(30)


def test_local_slots_bound_every_thread_of_a_rollout_together() -> None:
    meter = Meter()
    _in_threads(lambda: LocalSlots("rollout:local-test", 3), meter, threads=3, tasks=8)
    assert (meter.done, meter.peak) == (24, 3)


def test_redis_slots_bound_every_holder_of_a_rollout_together(redis_url: str) -> None:
    meter = Meter()
    _in_threads(lambda: RedisSlots(redis_url, "stripefleet:rollout:t1:slots", 3, 10.0),
                meter, threads=3, tasks=8)
    assert (meter.done, meter.peak) == (24, 3)


def test_a_dead_holders_redis_slot_frees_itself_after_its_lease(redis_url: str) -> None:
    """A worker killed holding the only slot: the next request gets it once the lease
    (here 0.3 s) has run out, not before."""
    key = "stripefleet:rollout:t2:slots"

    async def main() -> float:
        dead = RedisSlots(redis_url, key, 1, 0.3)
        held = dead.slot()
        await held.__aenter__()  # taken, never given back (as by a killed worker)
        live = RedisSlots(redis_url, key, 1, 0.3)
        started = time.monotonic()
        async with live.slot():
            waited = time.monotonic() - started
        await live.close()
        del held  # (a dead worker's connection is gone too)
        return waited

    waited = asyncio.run(main())
    assert 0.2 <= waited < 2.0


def test_the_engine_holds_a_shared_slot_for_each_request() -> None:
    """Two runs of concurrency 4 sharing 2 slots never have more than 2 requests in
    flight at the fleet; without the shared slots they have more."""
    with FaultFleet(sites=8, latency_ms=60) as fleet:
        def run(shared: Any) -> None:
            async def main() -> None:
                options = PushOptions(concurrency=4, verify=False, shared_slots=shared)
                halves = [fleet.urls[:4], fleet.urls[4:]]
                await asyncio.gather(*(
                    propagate([Target(url=u, api_key=fleet.api_key) for u in half],
                              "stripe_publishable_key", "pk_test_Shared1", options=options)
                    for half in halves))

            asyncio.run(main())

        run(LocalSlots("rollout:engine-test", 2))
        bounded = fleet.max_in_flight
        fleet.clear_log()
        run(None)
        unbounded = fleet.max_in_flight
    assert bounded == 2 and unbounded > 2
