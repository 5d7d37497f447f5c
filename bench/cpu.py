"""CPU seconds used per group of processes, read from ``/proc`` (Linux only).

A benchmark takes a snapshot before and after a phase and reports where the machine's
CPU went: the server under test, PostgreSQL's backends, the load generator itself. On a
machine where the cores are saturated, those shares explain a throughput ratio better
than wall-clock figures alone.
"""

from __future__ import annotations

import os
from pathlib import Path

_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _fields(pid: str) -> tuple[str, list[str]] | None:
    """``(comm, the fields after it)`` of ``/proc/PID/stat``, or None if gone; the
    fields start at field 3 (state): ppid is [1], pgrp [2], utime/stime [11]/[12]."""
    try:
        raw = (Path("/proc") / pid / "stat").read_text()
    except OSError:
        return None
    return raw[raw.index("(") + 1:raw.rindex(")")], raw[raw.rindex(")") + 2:].split()


def _stat(pid: str) -> tuple[str, int, float] | None:
    """``(comm, process group, CPU seconds)`` of one process, or None if gone."""
    found = _fields(pid)
    if found is None:
        return None
    comm, fields = found
    return comm, int(fields[2]), (int(fields[11]) + int(fields[12])) / _TICK


def children(parent: int) -> list[int]:
    """The pids of ``parent``'s child processes (e.g. a gunicorn master's workers)."""
    return [int(pid) for pid in os.listdir("/proc") if pid.isdigit()
            and (found := _fields(pid)) is not None and int(found[1][1]) == parent]


def snapshot(groups: dict[str, int]) -> dict[str, float]:
    """CPU seconds so far per group: ``groups`` maps a name to a process group id;
    PostgreSQL's processes count as ``postgres``, this process as ``client``, and the
    rest of the machine as ``other``. Empty on a system without ``/proc``."""
    if not Path("/proc/self/stat").exists():
        return {}
    by_pgrp = {pgrp: name for name, pgrp in groups.items()}
    totals = {name: 0.0 for name in (*groups, "postgres", "client", "other")}
    me = str(os.getpid())
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        stat = _stat(entry)
        if stat is None:
            continue
        comm, pgrp, seconds = stat
        if entry == me:
            name = "client"
        elif pgrp in by_pgrp:
            name = by_pgrp[pgrp]
        elif comm.startswith("postgres"):
            name = "postgres"
        else:
            name = "other"
        totals[name] += seconds
    return totals


def used(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    """CPU seconds per group between two snapshots (groups that used none are kept)."""
    return {name: round(after.get(name, 0.0) - before.get(name, 0.0), 3)
            for name in after}
