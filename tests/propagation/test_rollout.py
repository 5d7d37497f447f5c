"""run_in_batches (batches in order, the halt, the skipped targets, the pause) and
changed_by, with a scripted push (no network)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from stripefleet.propagation import Recap, Target, TargetResult, TargetState
from stripefleet.propagation import rollout as rollout_module
from stripefleet.propagation.rollout import BatchReport, changed_by, run_in_batches

TARGETS = [Target(f"https://s{i}.example", "k") for i in range(6)]


@pytest.fixture
def pauses(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[float]]:
    """The pauses between batches, recorded instead of slept."""
    slept: list[float] = []

    async def record(seconds: float) -> None:
        slept.append(seconds)

    monkeypatch.setattr(rollout_module.asyncio, "sleep", record)
    yield slept


def scripted(failing: set[str], batches_seen: list[list[str]]):  # type: ignore[no-untyped-def]
    """A push that fails the URLs in ``failing`` and records each batch it was given."""

    async def push(batch: list[Target], sink) -> Recap:  # type: ignore[no-untyped-def]
        batches_seen.append([t.url for t in batch])
        recap = Recap()
        for target in batch:
            state = TargetState.FAILED if target.url in failing else TargetState.CHANGED
            result = TargetResult(url=target.url, setting="s", state=state)
            recap.add(state)
            await sink(result)
        return recap

    return push


async def test_batches_run_in_order_with_pauses(pauses: list[float]) -> None:
    """Each batch gets its slice of the targets in order; the pause comes between two
    batches, not before the first nor after the last."""
    seen: list[list[str]] = []
    reports: list[BatchReport] = []
    run = await run_in_batches(TARGETS, [1, 2, 3], scripted(set(), seen), setting="s",
                               max_fail_percentage=0, pause=30, on_batch=reports.append)
    assert seen == [[TARGETS[0].url], [t.url for t in TARGETS[1:3]],
                    [t.url for t in TARGETS[3:]]]
    assert pauses == [30, 30]
    assert [r.state for r in reports] == ["done"] * 3 and run.halt_reason is None
    assert len(run.results) == 6


async def test_halt_skips_the_rest(pauses: list[float]) -> None:
    """A failure in batch 2 (threshold 0) halts: batch 3 is never pushed, its targets
    are skipped with halted_by_threshold; every target has one result."""
    seen: list[list[str]] = []
    emitted: list[TargetResult] = []
    run = await run_in_batches(TARGETS, [1, 2, 3], scripted({TARGETS[2].url}, seen),
                               setting="s", max_fail_percentage=0, on_result=emitted.append)
    assert len(seen) == 2 and run.halted_at == 1
    assert [r.state for r in run.batches] == ["done", "done", "skipped"]
    skipped = [r for r in emitted if r.state is TargetState.SKIPPED]
    assert [r.url for r in skipped] == [t.url for t in TARGETS[3:]]
    assert {r.error for r in skipped} == {"halted_by_threshold"}
    assert sorted(r.url for r in emitted) == sorted(t.url for t in TARGETS)
    assert pauses == []  # pause 0


async def test_sizes_must_cover_the_targets() -> None:
    """Sizes that do not sum to the number of targets are a ValueError."""
    with pytest.raises(ValueError):
        await run_in_batches(TARGETS, [1, 2], scripted(set(), []), setting="s",
                             max_fail_percentage=0)


@pytest.mark.parametrize(("state", "verified", "before", "after", "changed"), [
    (TargetState.CHANGED, True, "a", "b", True),
    (TargetState.OK, True, "b", "b", False),
    (TargetState.FAILED, True, "a", "b", True),     # stored, then the check failed
    (TargetState.FAILED, True, "b", "b", False),    # it already held it
    (TargetState.FAILED, False, "a", "b", False),   # verification_failed: not stored
    (TargetState.UNREACHABLE, False, None, None, False),
])
def test_changed_by(state: TargetState, verified: bool, before: str | None,
                    after: str | None, changed: bool) -> None:
    """A target the push changed: changed, or failed with the new value read back."""
    result = TargetResult(url="u", setting="s", state=state, verified=verified,
                          fingerprint_before=before, fingerprint_after=after)
    assert changed_by(result) is changed
