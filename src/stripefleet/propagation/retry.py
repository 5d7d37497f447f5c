"""When to retry a request, and how long to wait first.

Transient failures (connect errors, timeouts, resets, 429, 500, 502, 503, 504) are
retried; definitive ones (400, 401, 403, 404, a malformed answer) never are (README,
section 'Pushing keys to the fleet', option ``--retries``). The wait is exponential
backoff with full jitter (AWS Architecture Blog, "Exponential Backoff And Jitter",
https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/), or the
site's ``Retry-After``
(RFC 9110 section 10.2.3) up to a cap.

Testing switch: inside ``with retry.testing() as delays:`` no backoff is slept; each
computed delay (seconds) is appended to ``delays`` instead, so that tests can assert it
(stamina's ``set_testing``). ``PushOptions(backoff_base=0)`` also makes backoff zero,
but a ``Retry-After`` is still honoured unless the switch is on.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Final

TRANSIENT_STATUSES: Final = frozenset({429, 500, 502, 503, 504})
DEFINITIVE_STATUSES: Final = frozenset({400, 401, 403, 404})

_recorded: list[float] | None = None


def backoff_delay(attempt: int, *, base: float, cap: float,
                  rand: Callable[[], float] = random.random) -> float:
    """Full-jitter backoff before retry number ``attempt`` (1 = the first retry).

    Returns:
        Seconds, uniform in ``[0, min(cap, base * 2 ** (attempt - 1))]``.
    """
    ceiling = min(cap, base * 2.0 ** max(attempt - 1, 0))
    return max(0.0, ceiling * rand())


def parse_retry_after(header: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delay-seconds or an HTTP-date.

    Returns:
        Seconds (>= 0), or None when the header is absent or malformed.
    """
    if header is None:
        return None
    text = header.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def retry_delay(attempt: int, retry_after: float | None, *, base: float, cap: float,
                retry_after_cap: float, rand: Callable[[], float] = random.random) -> float:
    """The wait before retry number ``attempt``, seconds.

    A ``Retry-After`` from the site wins, capped at ``retry_after_cap``; otherwise
    :func:`backoff_delay`.
    """
    if retry_after is not None:
        return min(max(retry_after, 0.0), retry_after_cap)
    return backoff_delay(attempt, base=base, cap=cap, rand=rand)


async def sleep(seconds: float) -> None:
    """Wait ``seconds`` before a retry; under :func:`testing`, only record it."""
    if _recorded is not None:
        _recorded.append(seconds)
        return
    if seconds > 0:
        await asyncio.sleep(seconds)


@contextlib.contextmanager
def testing() -> Iterator[list[float]]:
    """Turn backoff sleeps off; yield the list that collects each computed delay (s)."""
    global _recorded
    previous, _recorded = _recorded, []
    try:
        yield _recorded
    finally:
        _recorded = previous
