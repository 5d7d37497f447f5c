"""The per-site rate limit, on a fake clock."""

from __future__ import annotations

from stripefleet.propagation.ratelimit import RateLimiter


class FakeClock:
    """A clock that only moves when the limiter sleeps."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds


async def test_burst_then_spaced() -> None:
    """At 5 req/s, five requests start at once; the sixth waits one second."""
    clock = FakeClock()
    limiter = RateLimiter(5, clock=clock, sleep=clock.sleep)
    starts = []
    for _ in range(11):
        await limiter.acquire("https://a.example")
        starts.append(clock.now - 100.0)
    assert starts == [0.0] * 5 + [1.0] * 5 + [2.0]


async def test_keys_are_independent() -> None:
    """One site's rate never delays another's requests."""
    clock = FakeClock()
    limiter = RateLimiter(1, clock=clock, sleep=clock.sleep)
    await limiter.acquire("https://a.example")
    assert await limiter.acquire("https://b.example") == 0.0
    assert await limiter.acquire("https://a.example") == 1.0


async def test_fractional_rate() -> None:
    """Below one request a second, requests are spaced by 1/rate."""
    clock = FakeClock()
    limiter = RateLimiter(0.5, clock=clock, sleep=clock.sleep)
    await limiter.acquire("k")
    assert await limiter.acquire("k") == 2.0


async def test_no_limit() -> None:
    """A rate of 0 never waits."""
    clock = FakeClock()
    limiter = RateLimiter(0, clock=clock, sleep=clock.sleep)
    for _ in range(100):
        assert await limiter.acquire("k") == 0.0


async def test_idle_keys_pruned() -> None:
    """Keys of sites no longer talked to are forgotten (memory flat)."""
    clock = FakeClock()
    limiter = RateLimiter(1000, clock=clock, sleep=clock.sleep)
    for i in range(3000):
        await limiter.acquire(f"site-{i}")
        clock.now += 0.01
    assert len(limiter) < 1100
