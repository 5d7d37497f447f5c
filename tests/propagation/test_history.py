"""The history file: appended 0600, read back, rendered."""

from __future__ import annotations

import json
import stat
from pathlib import Path

from stripefleet.propagation import history

RECORD = {"time": "2026-11-21T10:00:00Z", "operator": "ops", "command": "push",
          "sites_file": "/s.txt", "setting": "stripe_secret_key", "value_fingerprint": "ab" * 8,
          "targets": 2, "recap": {"ok": 1, "changed": 1}, "exit_code": 0}


def test_append_creates_private_file(tmp_path: Path) -> None:
    """The history file is created with mode 0600, its folder 0700."""
    path = tmp_path / "state" / "history.jsonl"
    history.append(path, RECORD)
    history.append(path, RECORD)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert len(path.read_text().splitlines()) == 2


def test_read_skips_unreadable_lines(tmp_path: Path) -> None:
    """A damaged line is counted and skipped, not fatal."""
    path = tmp_path / "history.jsonl"
    path.write_text(json.dumps(RECORD) + "\nnot json\n[1]\n")
    records, bad = history.read(path)
    assert (len(records), bad) == (1, 2)


def test_render_csv_flattens_recap() -> None:
    """CSV has a header and one column per recap state."""
    text = history.render([RECORD], "csv")
    header, row = text.splitlines()
    assert dict(zip(header.split(","), row.split(","), strict=True))["changed"] == "1"
