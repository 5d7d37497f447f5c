"""The run history: ``$STRIPEFLEET_HOME/history.jsonl``, one JSON object a run.

Every push or rollback that is not a dry run appends a line (README, section 'Pushing
keys to the fleet', "history"; the CSV export has the columns of the troubleshooting
guide's ``propagation_history.csv`` and more): ``time`` (UTC, ISO 8601), ``operator``
(login name), ``command``, ``sites_file``, ``setting``, ``value_fingerprint`` (never the
value), ``targets`` and ``recap`` (counts per state), ``exit_code``.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from stripefleet.propagation.types import RECAP_STATES

COLUMNS = ("time", "operator", "command", "sites_file", "setting", "value_fingerprint",
           "targets", *RECAP_STATES, "exit_code")


def now_utc() -> str:
    """The current time, UTC, ISO 8601 with a ``Z`` (seconds)."""
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def append(path: Path, record: Mapping[str, Any]) -> None:
    """Append ``record`` as one JSON line; the folder is created 0700, the file 0600."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    with os.fdopen(fd, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(dict(record), sort_keys=True) + "\n")


def read(path: Path) -> tuple[list[dict[str, Any]], int]:
    """The records of ``path`` (none when it is absent) and how many lines were unreadable."""
    if not path.exists():
        return [], 0
    records: list[dict[str, Any]] = []
    bad = 0
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except ValueError:
            bad += 1
            continue
        if isinstance(obj, dict):
            records.append(obj)
        else:
            bad += 1
    return records, bad


def _flat(record: Mapping[str, Any]) -> dict[str, Any]:
    recap = record.get("recap") if isinstance(record.get("recap"), dict) else {}
    assert isinstance(recap, dict)
    row = {col: record.get(col) for col in COLUMNS}
    row.update({state: recap.get(state, 0) for state in RECAP_STATES})
    return row


def render(records: Iterable[Mapping[str, Any]], fmt: str) -> str:
    """``table`` (aligned columns), ``csv`` (a header row) or ``json`` (an array)."""
    items = [dict(r) for r in records]
    rows = [_flat(r) for r in items]
    if fmt == "json":
        return json.dumps(items, indent=2)
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=list(COLUMNS), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        return out.getvalue().rstrip("\n")
    shown = ("time", "operator", "command", "setting", "value_fingerprint", "ok", "changed",
             "failed", "unreachable", "skipped", "sites_file")
    cells = [list(shown)] + [["" if r[c] is None else str(r[c]) for c in shown] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(shown))]
    return "\n".join("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip()
                     for row in cells)
