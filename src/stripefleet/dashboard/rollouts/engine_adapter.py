"""The dashboard's one door to the propagation engine (``stripefleet.propagation``).

Everything the worker asks of the engine goes through here, so that the engine's
public API (README, "As a library") is used in one place: pushes (one value, or a value per
target for rollbacks), verification, and reading settings (backup, drift).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from stripefleet.propagation import (
    PushOptions,
    Recap,
    SiteSnapshot,
    Target,
    TargetResult,
    propagate,
    propagate_values,
    read_settings,
    verify,
)

ResultSink = Callable[[TargetResult], Awaitable[None] | None]
SnapshotSink = Callable[[SiteSnapshot], Awaitable[None] | None]

__all__ = ["PushOptions", "Recap", "SiteSnapshot", "Target", "TargetResult", "make_options",
           "push", "push_values", "read", "verify_values"]


def make_options(options: dict[str, Any], *, dry_run: bool = False,
                 backoff_base: float = 0.5) -> PushOptions:
    """Engine options from a rollout's stored options (seconds, requests per second)."""
    return PushOptions(
        dry_run=dry_run,
        timeout=float(options.get("timeout", 8.0)),
        concurrency=int(options.get("concurrency", 10)),
        rate=float(options.get("rate", 5.0)),
        retries=int(options.get("retries", 3)),
        backoff_base=backoff_base,
    )


async def push(targets: Iterable[Target], setting: str, value: str, *,
               options: PushOptions, on_result: ResultSink) -> Recap:
    """PUT ``value`` to every target and verify it (``propagation.propagate``)."""
    return await propagate(targets, setting, value, options=options, on_result=on_result)


async def push_values(items: Iterable[tuple[Target, str]], setting: str, *,
                      options: PushOptions, on_result: ResultSink) -> Recap:
    """PUT a value per target (rollbacks; ``propagation.propagate_values``)."""
    return await propagate_values(items, setting, options=options, on_result=on_result)


async def verify_values(targets: Iterable[Target], setting: str, expected: str | None, *,
                        options: PushOptions, on_result: ResultSink) -> Recap:
    """Read ``setting`` and compare with ``expected`` (``propagation.verify``)."""
    return await verify(targets, setting, expected, options=options, on_result=on_result)


async def read(targets: Iterable[Target], *, options: PushOptions,
               on_snapshot: SnapshotSink) -> None:
    """Read every target's settings (``propagation.read_settings``)."""
    await read_settings(targets, options=options, on_snapshot=on_snapshot)
