"""Backoff, Retry-After parsing and the testing switch."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from stripefleet.propagation import retry


@pytest.mark.parametrize(("attempt", "expected"), [(1, 0.5), (2, 1.0), (3, 2.0), (8, 10.0)])
def test_backoff_doubles_up_to_cap(attempt: int, expected: float) -> None:
    """The jitter's ceiling doubles each retry and stops at the cap."""
    assert retry.backoff_delay(attempt, base=0.5, cap=10.0, rand=lambda: 1.0) == expected


def test_backoff_full_jitter() -> None:
    """Full jitter: anywhere from 0 up to the ceiling."""
    assert retry.backoff_delay(3, base=0.5, cap=10.0, rand=lambda: 0.0) == 0.0
    assert retry.backoff_delay(3, base=0.5, cap=10.0, rand=lambda: 0.25) == 0.5


@pytest.mark.parametrize(("header", "expected"), [
    ("3", 3.0), (" 12 ", 12.0), (None, None), ("soon", None),
    ("Sat, 21 Nov 2026 10:00:30 GMT", 30.0), ("Sat, 21 Nov 2026 09:59:00 GMT", 0.0),
])
def test_parse_retry_after(header: str | None, expected: float | None) -> None:
    """Retry-After is delay-seconds or an HTTP-date (RFC 9110); garbage is ignored."""
    now = datetime(2026, 11, 21, 10, 0, 0, tzinfo=UTC)
    assert retry.parse_retry_after(header, now=now) == expected


def test_retry_after_wins_and_is_capped() -> None:
    """A Retry-After replaces the backoff, up to its cap."""
    kwargs = {"base": 0.5, "cap": 30.0, "retry_after_cap": 60.0, "rand": lambda: 1.0}
    assert retry.retry_delay(1, 5.0, **kwargs) == 5.0  # type: ignore[arg-type]
    assert retry.retry_delay(1, 600.0, **kwargs) == 60.0  # type: ignore[arg-type]
    assert retry.retry_delay(2, None, **kwargs) == 1.0  # type: ignore[arg-type]


async def test_testing_switch_records_instead_of_sleeping() -> None:
    """Under retry.testing(), sleep records the delay and returns at once."""
    with retry.testing() as delays:
        await retry.sleep(3600)
    assert delays == [3600]
