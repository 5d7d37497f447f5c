"""A rollout in batches, and when it halts (README, "Pushing keys to the fleet": Batches).

The semantics are Ansible's ``serial`` and ``max_fail_percentage``
(https://docs.ansible.com/ansible/latest/playbook_guide/playbooks_strategies.html):
batches are counts or percentages of the whole fleet, a percentage rounded down and
at least 1, the last size repeated until every target is planned; a batch whose
failed and unreachable targets are strictly more than the percentage of its size
halts the rollout (no later batch starts). The defaults are the troubleshooting
guide's habit of testing on one site first: a first batch of 1, then 10 %, then the
rest.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Final

from stripefleet.common.keys import PUBLISHABLE_KEY, SECRET_KEY
from stripefleet.propagation.types import KEY_PAIR

#: The ``error`` of a target skipped because its rollout halted at a batch's threshold.
HALTED_BY_THRESHOLD: Final = "halted_by_threshold"

_ITEM = re.compile(r"(?:(?P<count>\d+)|(?P<percent>\d+(?:\.\d+)?)%)")


def parse_batches(text: str) -> list[int | str]:
    """``"1,10%,100%"`` -> ``[1, "10%", "100%"]``.

    Each item is a whole number of targets (1 or more) or a percentage of the fleet
    (more than 0, at most 100, decimals allowed), separated by commas; spaces around
    items are ignored.

    Raises:
        ValueError: empty text or an item that is neither (the message names it).
    """
    items = [part.strip() for part in text.split(",")]
    if not text.strip() or any(not part for part in items):
        raise ValueError(f"batches {text!r}: give counts or percentages separated by commas, "
                         "e.g. 1,10%,100%")
    spec: list[int | str] = []
    for part in items:
        match = _ITEM.fullmatch(part)
        if match is None:
            raise ValueError(f"batch {part!r} is neither a number of sites nor a percentage")
        if match.group("count") is not None:
            count = int(match.group("count"))
            if count < 1:
                raise ValueError(f"batch {part!r}: a batch holds at least 1 site")
            spec.append(count)
        else:
            percent = float(match.group("percent"))
            if not 0 < percent <= 100:
                raise ValueError(f"batch {part!r}: a percentage is above 0 and at most 100")
            spec.append(part)
    return spec


def _size(item: int | str, total: int) -> int:
    if isinstance(item, int):
        if item < 1:
            raise ValueError(f"batch {item!r}: a batch holds at least 1 site")
        return item
    text = item.strip()
    if not text.endswith("%"):
        raise ValueError(f"batch {item!r} is neither a number of sites nor a percentage")
    percent = float(text[:-1])
    if not 0 < percent <= 100:
        raise ValueError(f"batch {item!r}: a percentage is above 0 and at most 100")
    return max(1, math.floor(total * percent / 100))


def plan_batches(total: int, spec: Sequence[int | str]) -> list[int]:
    """The sizes of the batches of a rollout to ``total`` targets (Ansible's ``serial``).

    Each item is a count or a percentage of ``total`` (rounded down, at least 1); the
    last item repeats until every target is planned; a batch is clipped to the targets
    left, so the sizes sum to ``total``. ``plan_batches(25, [1, "10%", "100%"])`` ->
    ``[1, 2, 22]``; ``plan_batches(10, [3])`` -> ``[3, 3, 3, 1]``; ``total`` 0 -> ``[]``.

    Raises:
        ValueError: an empty ``spec``, a negative ``total`` or a malformed item.
    """
    if total < 0:
        raise ValueError("total is a number of targets: 0 or more")
    if not spec:
        raise ValueError("batches: give at least one count or percentage")
    sizes = [_size(item, total) for item in spec]
    planned: list[int] = []
    left = total
    index = 0
    while left > 0:
        size = min(sizes[min(index, len(sizes) - 1)], left)
        planned.append(size)
        left -= size
        index += 1
    return planned


def threshold_exceeded(failed: int, size: int, max_fail_percentage: float) -> bool:
    """True when ``failed`` (the batch's failed and unreachable targets) is strictly
    more than ``max_fail_percentage`` % of the batch's ``size`` (Ansible's
    ``max_fail_percentage``: exceeded, not reached). With 0, any failure halts; with
    100, nothing does. An empty batch never halts.
    """
    if size <= 0 or failed <= 0:
        return False
    return failed * 100 > max_fail_percentage * size


def default_batches(setting: str, total: int) -> list[int | str]:
    """``[1, "10%", "100%"]`` for more than one site (one site first, then a tenth, then
    the rest: the troubleshooting guide's "test on one site first"), else ``["100%"]``.
    The same for every setting."""
    return [1, "10%", "100%"] if total > 1 else ["100%"]


def default_max_fail_percentage(setting: str) -> float:
    """0 for ``stripe_secret_key`` and ``key_pair`` (one failure halts: a wrong secret
    key stops the shop's payments), 10 for ``stripe_publishable_key``, 0 otherwise."""
    return 10.0 if setting == PUBLISHABLE_KEY else 0.0


def default_rollback_on_halt(setting: str) -> bool:
    """True for ``stripe_secret_key`` and ``key_pair`` (the values whose failure stops
    payments), False otherwise."""
    return setting in (SECRET_KEY, KEY_PAIR)


__all__ = ["HALTED_BY_THRESHOLD", "default_batches", "default_max_fail_percentage",
           "default_rollback_on_halt", "parse_batches", "plan_batches", "threshold_exceeded"]
