"""A push in batches with a failure threshold, and what a rollback on halt restores
(README, "Pushing keys to the fleet": Batches, threshold and rollback).

:func:`run_in_batches` runs one push per batch (the sizes of
:func:`stripefleet.propagation.batches.plan_batches`), in order, waiting ``pause``
seconds between two; when a batch's failed and unreachable targets exceed the
threshold (:func:`~stripefleet.propagation.batches.threshold_exceeded`), no later
batch starts and every target left is reported ``skipped`` with
``halted_by_threshold``. :func:`changed_by` tells which targets a push changed (the
ones a rollback on halt puts back). No Flask, no click: the CLI prints what it returns.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from stripefleet.propagation.batches import HALTED_BY_THRESHOLD, threshold_exceeded
from stripefleet.propagation.types import Recap, Target, TargetResult, TargetState

ResultSink = Callable[[TargetResult], Awaitable[None] | None]
#: Pushes one batch: ``push(targets, on_result)`` -> the batch's recap.
PushBatch = Callable[[list[Target], ResultSink], Awaitable[Recap]]


@dataclass
class BatchReport:
    """One batch of a rollout.

    Attributes:
        index: 0 for the first batch.
        size: its targets.
        state: ``pending``, ``done`` (ran) or ``skipped`` (after a halt).
        counts: its targets per state (``Recap.counts``).
        failures: its failed and unreachable targets.
    """

    index: int
    size: int
    state: str = "pending"
    counts: dict[str, int] = field(default_factory=dict)
    failures: int = 0

    def as_dict(self) -> dict[str, object]:
        """A JSON-ready dict (``--json``'s batch line, the history)."""
        return {"index": self.index, "size": self.size, "state": self.state,
                "counts": self.counts, "failures": self.failures}


@dataclass
class BatchedRun:
    """What :func:`run_in_batches` did.

    Attributes:
        results: url -> the target's result (every target exactly once).
        batches: one report per planned batch.
        halted_at: the index of the batch that halted the rollout, or None.
        halt_reason: a sentence saying why, or None.
    """

    results: dict[str, TargetResult]
    batches: list[BatchReport]
    halted_at: int | None = None
    halt_reason: str | None = None


async def _emit(sink: ResultSink | None, result: TargetResult) -> None:
    if sink is None:
        return
    outcome = sink(result)
    if inspect.isawaitable(outcome):
        await outcome


async def run_in_batches(targets: Sequence[Target], sizes: Sequence[int], push: PushBatch, *,
                         setting: str, max_fail_percentage: float, pause: float = 0.0,
                         on_result: ResultSink | None = None,
                         on_batch: Callable[[BatchReport], None] | None = None) -> BatchedRun:
    """Push ``targets`` batch by batch (Ansible's ``serial`` and ``max_fail_percentage``).

    Args:
        targets: every target, in order (the first ``sizes[0]`` form the first batch).
        sizes: the batches' sizes; they sum to ``len(targets)``.
        push: pushes one batch, calling its ``on_result`` for each target.
        setting: the ``setting`` of the skipped targets' results.
        max_fail_percentage: a batch whose failed + unreachable targets are strictly
            more than this percentage of its size halts the rollout.
        pause: seconds to wait between two batches (not after the last).
        on_result: each result as it finishes, the skipped ones included.
        on_batch: each batch's report once it ran (or was skipped).

    Raises:
        ValueError: ``sizes`` do not sum to the number of targets.
    """
    if sum(sizes) != len(targets):
        raise ValueError("the batches' sizes must sum to the number of targets")
    run = BatchedRun(results={}, batches=[BatchReport(i, n) for i, n in enumerate(sizes)])
    start = 0
    for report in run.batches:
        batch = list(targets[start:start + report.size])
        start += report.size
        if run.halted_at is not None:
            report.state = "skipped"
            for target in batch:
                skipped = TargetResult(
                    url=target.url, name=target.name, setting=setting,
                    state=TargetState.SKIPPED, error=HALTED_BY_THRESHOLD,
                    message=f"Not attempted: the rollout halted at batch {run.halted_at + 1}.")
                run.results[target.url] = skipped
                await _emit(on_result, skipped)
            report.counts = Recap.of(run.results[t.url] for t in batch).counts
            if on_batch is not None:
                on_batch(report)
            continue
        if report.index > 0 and pause > 0:
            await asyncio.sleep(pause)

        async def record(result: TargetResult) -> None:
            run.results[result.url] = result
            await _emit(on_result, result)

        recap = await push(batch, record)
        report.state, report.counts = "done", recap.counts
        report.failures = recap.counts.get("failed", 0) + recap.counts.get("unreachable", 0)
        if threshold_exceeded(report.failures, report.size, max_fail_percentage):
            run.halted_at = report.index
            run.halt_reason = (
                f"batch {report.index + 1} of {len(run.batches)}: {report.failures} of "
                f"{report.size} failed or unreachable, more than the "
                f"{max_fail_percentage:g}% allowed (--max-fail-percentage)")
        if on_batch is not None:
            on_batch(report)
    return run


def changed_by(result: TargetResult) -> bool:
    """True when the push changed the target's value: ``changed``, or ``failed`` after
    the read-back proved the new value stored (a failing functional check)."""
    if result.state is TargetState.CHANGED:
        return True
    return (result.state is TargetState.FAILED and result.verified
            and result.fingerprint_after is not None
            and result.fingerprint_before != result.fingerprint_after)


__all__ = ["BatchReport", "BatchedRun", "PushBatch", "changed_by", "run_in_batches"]
