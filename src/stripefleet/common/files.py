"""Private files (mode 0600), written so that a reader never sees half of one.

Key rings, session keys, keys files, backups and state files all go through here:
created with mode 0600 from the first byte (never world-readable, even for an instant),
and made visible only once complete.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path


def _complete_temp(folder: Path, name: str, text: str) -> str:
    """A temporary file in ``folder`` holding ``text``, mode 0600, flushed to disk."""
    fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=folder)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return tmp


def write_private(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` atomically, readable by its owner only (0600).

    The text goes to a temporary file in the same folder, fsynced, then renamed over
    ``path``: a reader sees the old file or the new one, never half of one. The folder
    is created when missing.

    Raises:
        OSError: the folder or file cannot be written.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _complete_temp(path.parent, path.name, text)
    try:
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def read_or_create_private(path: Path, make: Callable[[], str]) -> str:
    """The stripped text of ``path``; when it does not exist, create it with ``make()``.

    Safe when several processes start at once (gunicorn workers, a web app and its
    worker): the new text is written in full to a temporary file first, then linked to
    ``path``, which fails if another process got there first; everyone then reads the
    one file that won. No reader can see it empty.

    Raises:
        OSError: the folder or file cannot be read or written.
    """
    try:
        return path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _complete_temp(path.parent, path.name, make().strip() + "\n")
    try:
        os.link(tmp, path)
    except FileExistsError:
        pass  # another process created it first: use theirs
    finally:
        os.unlink(tmp)
    return path.read_text(encoding="utf-8").strip()
