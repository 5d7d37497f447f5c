"""Private files (mode 0600) and folders (0700), written so that a reader never sees
half of one.

Key rings, session keys, keys files, backups and state files all go through here:
created with mode 0600 from the first byte (never world-readable, even for an instant),
and made visible only once complete. Instance folders (:func:`private_folder`) and
SQLite databases (:func:`private_sqlite`) of both apps and the demo are private too.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from sqlalchemy.engine import make_url


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


#: A SQLite database's companion files (write-ahead log, shared memory, rollback journal).
SQLITE_COMPANIONS = ("-wal", "-shm", "-journal")


def private_folder(path: Path | str) -> Path:
    """Create the folder ``path`` (and its parents) when missing, and make it 0700.

    For instance folders: they hold databases, key rings and logs, so only their owner
    may list or enter them. An existing folder is tightened too (an instance created
    0755 by an older version).

    Raises:
        OSError: the folder cannot be created or its mode changed.
    """
    folder = Path(path)
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(folder, 0o700)
    return folder


def private_sqlite(url: str) -> Path | None:
    """Make the SQLite database of ``url`` readable by its owner only (0600).

    A missing database file is created empty with mode 0600 (from the first byte)
    before SQLite opens it; SQLite then gives its ``-wal``, ``-shm`` and ``-journal``
    files the database file's mode (https://www.sqlite.org/tempfiles.html). An existing
    file and its companions are tightened to 0600. The folder is created (0700) when
    missing.

    Args:
        url: a SQLAlchemy URL (``sqlite:///path``); other databases, and in-memory
            SQLite, are left alone.

    Returns:
        The database file's path, or None when ``url`` names no SQLite file.

    Raises:
        OSError: the file cannot be created or its mode changed.
    """
    if not url.startswith("sqlite"):
        return None
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    path = Path(database)
    if not path.parent.exists():
        private_folder(path.parent)
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    for candidate in (path, *(path.with_name(path.name + s) for s in SQLITE_COMPANIONS)):
        with contextlib.suppress(FileNotFoundError):
            os.chmod(candidate, 0o600)
    return path
