"""``common.files``: private files, never half-written, one winner when processes race."""

from __future__ import annotations

import multiprocessing
import stat
from pathlib import Path

from stripefleet.common.files import (
    private_folder,
    private_sqlite,
    read_or_create_private,
    write_private,
)
from stripefleet.demo.fleet import SiteFleet


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


def test_a_demo_site_folder_and_its_database_are_private(tmp_path: Path) -> None:
    """The demo's site folders are 0700 and each ``site.db`` (with its ``-wal`` and
    ``-shm`` once the running site opened them) 0600: they hold customers' personal
    data and encrypted keys."""
    with SiteFleet(1, tmp_path, api_key="demo-api-key-0123456789") as sites:
        folder = sites[0].instance_dir
        assert _mode(folder) == 0o700
        databases = sorted(p.name for p in folder.iterdir() if p.name.startswith("site.db"))
        assert "site.db" in databases
        assert {p: _mode(folder / p) for p in databases} == dict.fromkeys(databases, 0o600)


def test_private_folder_creates_or_tightens_to_0700(tmp_path: Path) -> None:
    """A missing folder is created 0700; an existing 0755 one is made 0700."""
    fresh = private_folder(tmp_path / "new" / "instance")
    old = tmp_path / "old"
    old.mkdir(mode=0o755)
    private_folder(old)
    assert (_mode(fresh), _mode(old)) == (0o700, 0o700)


def test_private_sqlite_creates_the_file_0600_and_tightens_its_companions(
        tmp_path: Path) -> None:
    """``private_sqlite`` makes a missing database file 0600 before SQLite opens it, and
    tightens an existing one with its ``-wal``, ``-shm`` and ``-journal``; a PostgreSQL
    URL or ``:memory:`` is left alone."""
    made = private_sqlite(f"sqlite:///{tmp_path / 'a.db'}")
    for name in ("b.db", "b.db-wal", "b.db-shm"):
        (tmp_path / name).write_text("")
        (tmp_path / name).chmod(0o644)
    private_sqlite(f"sqlite:///{tmp_path / 'b.db'}")
    assert made == tmp_path / "a.db"
    assert {n: _mode(tmp_path / n) for n in ("a.db", "b.db", "b.db-wal", "b.db-shm")} == \
        dict.fromkeys(("a.db", "b.db", "b.db-wal", "b.db-shm"), 0o600)
    assert private_sqlite("postgresql://u@127.0.0.1/db") is None
    assert private_sqlite("sqlite://") is None
