"""Batches of a rollout: Ansible's ``serial`` and ``max_fail_percentage`` semantics."""

from __future__ import annotations

import pytest

from stripefleet.propagation.batches import (
    default_batches,
    default_max_fail_percentage,
    default_rollback_on_halt,
    parse_batches,
    plan_batches,
    threshold_exceeded,
)


def test_parse_counts_and_percentages() -> None:
    """Counts become numbers, percentages stay strings; spaces are ignored."""
    assert parse_batches("1,10%,100%") == [1, "10%", "100%"]
    assert parse_batches(" 2 , 12.5% ") == [2, "12.5%"]


@pytest.mark.parametrize("text", ["", "1,,2", "0", "0%", "101%", "ten", "-1", "5 %x"])
def test_parse_refuses_malformed(text: str) -> None:
    """An empty list, a zero, a percentage out of (0, 100] or junk is a ValueError."""
    with pytest.raises(ValueError, match="batch"):
        parse_batches(text)


@pytest.mark.parametrize(("total", "spec", "sizes"), [
    (25, [1, "10%", "100%"], [1, 2, 22]),     # 10% of 25 = 2.5, rounded down
    (10, [1, "10%", "100%"], [1, 1, 8]),
    (5, [1, "10%", "100%"], [1, 1, 3]),        # 10% of 5 = 0.5 -> at least 1
    (10, [3], [3, 3, 3, 1]),                   # the last size repeats, clipped to the rest
    (7, ["50%"], [3, 3, 1]),
    (3, [5], [3]),
    (1, ["100%"], [1]),
    (0, [1, "100%"], []),
])
def test_plan_follows_ansible_serial(total: int, spec: list[int | str],
                                     sizes: list[int]) -> None:
    """Percentages of the whole fleet, rounded down, at least 1; the last item repeats;
    the sizes sum to the total."""
    assert plan_batches(total, spec) == sizes
    assert sum(sizes) == total


def test_plan_refuses_an_empty_spec() -> None:
    """No batch sizes at all is a ValueError."""
    with pytest.raises(ValueError):
        plan_batches(3, [])


@pytest.mark.parametrize(("failed", "size", "percent", "halts"), [
    (1, 10, 10, False),   # 10% reached, not exceeded
    (2, 10, 10, True),
    (1, 1, 0, True),      # 0: any failure halts
    (0, 5, 0, False),
    (1, 2, 50, False),
    (2, 3, 50, True),
    (5, 5, 100, False),   # 100: nothing halts
    (0, 0, 0, False),
])
def test_threshold_exceeded_not_reached(failed: int, size: int, percent: float,
                                        halts: bool) -> None:
    """A batch halts the rollout only when its failures are strictly over the percentage."""
    assert threshold_exceeded(failed, size, percent) is halts


def test_defaults() -> None:
    """One site first, then 10 %, then the rest for a fleet; thresholds and rollback by
    setting."""
    assert default_batches("stripe_secret_key", 2) == [1, "10%", "100%"]
    assert default_batches("stripe_publishable_key", 1) == ["100%"]
    assert default_max_fail_percentage("stripe_secret_key") == 0
    assert default_max_fail_percentage("key_pair") == 0
    assert default_max_fail_percentage("stripe_publishable_key") == 10
    assert default_max_fail_percentage("stripe_webhook_secret") == 0
    assert default_rollback_on_halt("stripe_secret_key") is True
    assert default_rollback_on_halt("key_pair") is True
    assert default_rollback_on_halt("stripe_publishable_key") is False
