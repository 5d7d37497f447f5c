"""A rollout's ``concurrency`` as one bound over all its chunks (README, "The dashboard").

The chunks of a rollout run as separate Huey tasks, perhaps at once in several workers
on several machines; each runs the engine with the rollout's ``concurrency``. Without a
shared bound, N chunks in flight would make N x ``concurrency`` requests. Each request
therefore also holds one of the rollout's shared slots
(``propagation.types.SharedSlots``):

- with ``REDIS_URL`` (the production queue), :class:`RedisSlots`: a sorted set per
  rollout, one member per request in flight, scored by the end of its lease, managed
  by one Lua script (atomic); a worker killed while holding slots loses them when their
  lease (the request timeout, times its attempts, plus a margin) runs out;
- without it (the embedded queue: one worker process), :class:`LocalSlots`: a counter
  per rollout shared by the worker's threads.

A waiting request polls, backing off from 5 ms to 50 ms, so that requests waiting for
a slot cost Redis little.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import threading
import uuid
from collections.abc import AsyncIterator
from typing import Any

import redis.asyncio as redis_asyncio

#: Seconds between two tries for a slot: the first, and the most.
FIRST_WAIT, LONGEST_WAIT = 0.005, 0.05

_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[1]) then
    redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[3])
    redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]))
    return 1
end
return 0
"""


async def _wait(try_once: Any) -> None:
    """Call ``try_once()`` (awaitable, True when a slot was taken) until it succeeds."""
    delay = FIRST_WAIT
    while not await try_once():
        await asyncio.sleep(delay * random.uniform(0.5, 1.0))  # noqa: S311 (jitter)
        delay = min(delay * 2, LONGEST_WAIT)


class RedisSlots:
    """At most ``limit`` requests in flight under ``key``, across processes and machines.

    Args:
        url: a ``redis://`` URL.
        key: the rollout's sorted set, e.g. ``stripefleet:rollout:12:slots``.
        limit: slots, at least 1.
        lease: seconds a slot is held at most (a dead holder's slot frees itself then).

    Use from one event loop; :meth:`close` when the run is over.
    """

    def __init__(self, url: str, key: str, limit: int, lease: float) -> None:
        self.key, self.limit, self.lease_ms = key, max(1, limit), max(1, int(lease * 1000))
        self._client = redis_asyncio.Redis.from_url(url)
        self._acquire = self._client.register_script(_ACQUIRE)

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Wait for a slot, hold it for the ``async with`` block, give it back."""
        holder = uuid.uuid4().hex

        async def try_once() -> bool:
            taken = await self._acquire(keys=[self.key],
                                        args=[self.limit, self.lease_ms, holder])
            return bool(taken)

        await _wait(try_once)
        try:
            yield
        finally:
            await self._client.zrem(self.key, holder)

    async def close(self) -> None:
        """Close the connection pool."""
        await self._client.aclose()


class LocalSlots:
    """At most ``limit`` requests in flight per ``key`` in this process, across threads
    (each chunk task runs its own event loop). Instances with the same key share one
    counter."""

    _lock = threading.Lock()
    _in_flight: dict[str, int] = {}

    def __init__(self, key: str, limit: int) -> None:
        self.key, self.limit = key, max(1, limit)

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Wait for a slot, hold it for the ``async with`` block, give it back."""

        async def try_once() -> bool:
            with self._lock:
                if self._in_flight.get(self.key, 0) >= self.limit:
                    return False
                self._in_flight[self.key] = self._in_flight.get(self.key, 0) + 1
                return True

        await _wait(try_once)
        try:
            yield
        finally:
            with self._lock:
                left = self._in_flight[self.key] - 1
                if left:
                    self._in_flight[self.key] = left
                else:
                    del self._in_flight[self.key]

    async def close(self) -> None:
        """Nothing to close."""


def for_rollout(rollout_id: int, limit: int, lease: float,
                redis_url: str | None) -> RedisSlots | LocalSlots:
    """The shared slots of one rollout: on Redis when the queue is, else in-process."""
    key = f"stripefleet:rollout:{rollout_id}:slots"
    if redis_url:
        return RedisSlots(redis_url, key, limit, lease)
    return LocalSlots(key, limit)
