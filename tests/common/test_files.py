"""``common.files``: private files, never half-written, one winner when processes race."""

from __future__ import annotations

import multiprocessing
import stat
from pathlib import Path

from stripefleet.common.files import read_or_create_private, write_private


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_write_private_is_0600_and_replaces(tmp_path: Path) -> None:
    """write_private creates the folder, writes mode 0600, replaces the whole text, and
    leaves no temporary file behind."""
    path = tmp_path / "sub" / "backup.json"
    write_private(path, "first, longer text\n")
    write_private(path, "second\n")
    assert path.read_text() == "second\n"
    assert _mode(path) == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["backup.json"]


def test_read_or_create_makes_once_then_reads(tmp_path: Path) -> None:
    """The first call writes make()'s text (0600); later calls return it without
    calling make again."""
    path = tmp_path / "encryption.key"
    calls: list[int] = []

    def make() -> str:
        calls.append(1)
        return "  generated-value  "

    assert read_or_create_private(path, make) == "generated-value"
    assert read_or_create_private(path, make) == "generated-value"
    assert calls == [1]
    assert _mode(path) == 0o600


def _race(path: str, index: int, queue: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    queue.put(read_or_create_private(Path(path), lambda: f"value-from-{index}"))


def test_racing_processes_agree_on_one_value(tmp_path: Path) -> None:
    """Eight processes creating the same file at once all read the one value that won,
    never an empty file."""
    path = tmp_path / "session.key"
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_race, args=(str(path), i, queue)) for i in range(8)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(timeout=30)
    values = {queue.get(timeout=5) for _ in procs}
    assert len(values) == 1
    assert values.pop().startswith("value-from-")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["session.key"]
