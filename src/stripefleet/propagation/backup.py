"""Backups of a fleet's settings, and what a rollback can restore from one.

A backup (what the troubleshooting guide's ``backup_current_keys.sh`` does, with every
setting's fingerprint and an atomic write) is a JSON file, mode 0600::

    {"format": "stripefleet-backup", "version": 1, "created_at": "...Z",
     "sites_file": "/abs/sites.txt",
     "sites": [{"url": ..., "ok": true, "error": null, "http_status": 200,
                "settings": {"stripe_publishable_key": {"configured": true,
                                 "value": "pk_...", "fingerprint": ..., ...},
                             "stripe_secret_key": {"configured": true,
                                 "fingerprint": ..., "updated_at": ..., "version": 3},
                             ...}}]}

Publishable keys are kept in clear (they are public); secret settings only as
fingerprints, so a rollback can restore the publishable key and can only name the
secrets it cannot restore.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stripefleet.common.files import write_private
from stripefleet.common.keys import PUBLISHABLE_KEY, is_secret
from stripefleet.propagation.types import SiteSnapshot

FORMAT = "stripefleet-backup"
VERSION = 1
KEPT_FIELDS = ("configured", "fingerprint", "updated_at", "version")


class BackupError(ValueError):
    """A backup file that cannot be used; the message says why."""


def site_record(snap: SiteSnapshot) -> dict[str, Any]:
    """One site's backup entry: the publishable key in clear, secrets as fingerprints."""
    settings: dict[str, Any] = {}
    for name, entry in sorted(snap.settings.items()):
        kept = {k: entry.get(k) for k in KEPT_FIELDS}
        if name == PUBLISHABLE_KEY and not is_secret(name):
            kept["value"] = entry.get("value")
        settings[name] = kept
    return {"url": snap.url, "ok": snap.ok, "error": snap.error,
            "http_status": snap.http_status, "settings": settings}


def write(path: Path, *, created_at: str, sites_file: str,
          snapshots: Iterable[SiteSnapshot]) -> None:
    """Write the backup atomically, mode 0600 (a reader never sees half a file)."""
    doc = {"format": FORMAT, "version": VERSION, "created_at": created_at,
           "sites_file": sites_file, "sites": [site_record(s) for s in snapshots]}
    write_private(path, json.dumps(doc, indent=2) + "\n")


@dataclass
class Restorable:
    """A publishable key a rollback pushes back to one site."""

    url: str
    value: str


@dataclass
class NotRestorable:
    """A setting a rollback leaves alone, and why (shown to the operator)."""

    url: str
    setting: str
    reason: str


def load(path: Path) -> dict[str, Any]:
    """Read and check a backup file.

    Raises:
        BackupError: unreadable, not JSON, or not a stripefleet backup.
    """
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise BackupError(f"{path}: cannot read it as JSON ({type(exc).__name__})") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise BackupError(f"{path}: not a stripefleet backup (no \"format\": \"{FORMAT}\")")
    if doc.get("version") != VERSION or not isinstance(doc.get("sites"), list):
        raise BackupError(f"{path}: unsupported backup version {doc.get('version')!r}")
    for site in doc["sites"]:
        if not isinstance(site, dict) or not isinstance(site.get("url"), str) \
                or not isinstance(site.get("settings", {}), dict):
            raise BackupError(f"{path}: a site entry is malformed")
    return doc


def plan(doc: dict[str, Any]) -> tuple[list[Restorable], list[NotRestorable]]:
    """What a rollback restores (publishable keys) and what it cannot, with the reason."""
    restore: list[Restorable] = []
    cannot: list[NotRestorable] = []
    for site in doc["sites"]:
        url = site["url"]
        if not site.get("ok"):
            cannot.append(NotRestorable(url, "*", f"the site could not be read at backup time "
                                                  f"({site.get('error')}); nothing to restore"))
            continue
        for name, entry in sorted(site.get("settings", {}).items()):
            if not isinstance(entry, dict) or not entry.get("configured"):
                if name == PUBLISHABLE_KEY:
                    cannot.append(NotRestorable(url, name, "it was not set at backup time, "
                                                "and a setting cannot be unset"))
                continue
            if name == PUBLISHABLE_KEY and isinstance(entry.get("value"), str):
                restore.append(Restorable(url, entry["value"]))
            elif name == PUBLISHABLE_KEY:
                cannot.append(NotRestorable(url, name, "the backup holds no value for it"))
            else:
                cannot.append(NotRestorable(
                    url, name, f"a backup holds only its fingerprint "
                    f"({entry.get('fingerprint')}), never the secret; push the old value "
                    f"again with `stripefleet push {name}` (value from the environment or "
                    "--value-stdin)"))
    return restore, cannot
