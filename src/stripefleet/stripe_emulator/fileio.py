"""Atomic, private JSON files (the keys file and the state file)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from stripefleet.common.files import write_private


def write_json_atomic(path: Path, data: Any) -> None:
    """Write ``data`` as JSON to ``path`` atomically, readable by its owner only (0600).

    The JSON goes to a temporary file in the same folder, which is flushed, fsynced and
    renamed over ``path``: a reader sees the old file or the new one, never half of one.
    """
    # key order is creation order
    write_private(path, json.dumps(data, separators=(",", ":")))


def read_json(path: Path) -> Any:
    """The JSON in ``path``.

    Raises:
        OSError: the file cannot be read.
        ValueError: it is not JSON (the message names the file).
    """
    text = path.read_text(encoding="utf-8")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path} is not valid JSON: {exc}") from exc
