"""A per-site request rate limit (the original propagation script advises 5-10 req/s).

A sliding window per key (a site's base URL): with ``rate`` requests per second, at
most ``k = max(1, floor(rate))`` requests start within any ``k / rate`` seconds. So a
site at ``rate=5`` may get its PUT and its read-back at once, never a sixth request
within a second; ``rate=0.5`` allows one request every two seconds.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable

PRUNE_EVERY = 1024  # acquisitions between sweeps of idle keys (memory stays flat)


class RateLimiter:
    """Requests per second per key.

    Args:
        rate: requests per second allowed to one key; 0 or less: no limit.
        clock: monotonic time in seconds (a fake clock in tests).
        sleep: the coroutine used to wait, seconds.
    """

    def __init__(self, rate: float, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        self.rate = rate
        self.burst = max(1, math.floor(rate)) if rate > 0 else 0
        self.window = self.burst / rate if rate > 0 else 0.0
        self._clock = clock
        self._sleep = sleep
        self._sent: dict[str, deque[float]] = {}
        self._acquired = 0

    async def acquire(self, key: str) -> float:
        """Wait until one more request to ``key`` fits in the rate, and count it.

        Returns:
            Seconds waited (0 when it fitted at once).
        """
        if self.rate <= 0:
            return 0.0
        waited = 0.0
        while True:
            now = self._clock()
            sent = self._sent.setdefault(key, deque())
            while sent and sent[0] <= now - self.window:
                sent.popleft()
            if len(sent) < self.burst:
                sent.append(now)
                self._acquired += 1
                if self._acquired % PRUNE_EVERY == 0:
                    self._prune(now)
                return waited
            wait = sent[0] + self.window - now
            waited += wait
            await self._sleep(wait)

    def _prune(self, now: float) -> None:
        idle = [k for k, sent in self._sent.items() if not sent or sent[-1] <= now - self.window]
        for key in idle:
            del self._sent[key]

    def __len__(self) -> int:
        """Keys currently tracked."""
        return len(self._sent)
