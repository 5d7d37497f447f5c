"""Backup files and the rollback plan made from them."""

from __future__ import annotations

from pathlib import Path

import pytest

from stripefleet.propagation import backup
from stripefleet.propagation.types import SiteSnapshot


def snapshot(url: str, pk: str | None, secret_fp: str | None) -> SiteSnapshot:
    return SiteSnapshot(url=url, ok=True, http_status=200, settings={
        "stripe_publishable_key": {"configured": pk is not None, "value": pk,
                                   "fingerprint": "f" * 16 if pk else None},
        "stripe_secret_key": {"configured": secret_fp is not None, "fingerprint": secret_fp,
                              "masked": "sk_test_...wxyz", "value": "sk_test_leaked"},
    })


def test_secret_values_never_written(tmp_path: Path) -> None:
    """Even if a site sent a secret, the backup keeps only its fingerprint."""
    path = tmp_path / "b.json"
    backup.write(path, created_at="2026-11-21T10:00:00Z", sites_file="/s.txt",
                 snapshots=[snapshot("https://a.example", "pk_test_a1", "1" * 16)])
    assert "sk_test_leaked" not in path.read_text()
    assert "pk_test_a1" in path.read_text()


def test_plan(tmp_path: Path) -> None:
    """Publishable keys are restored; unset ones, unread sites and secrets are explained."""
    path = tmp_path / "b.json"
    snaps = [snapshot("https://a.example", "pk_test_a1", "1" * 16),
             snapshot("https://b.example", None, None),
             SiteSnapshot(url="https://c.example", error="timeout")]
    backup.write(path, created_at="2026-11-21T10:00:00Z", sites_file="/s.txt", snapshots=snaps)
    restore, cannot = backup.plan(backup.load(path))
    assert [(r.url, r.value) for r in restore] == [("https://a.example", "pk_test_a1")]
    reasons = {(c.url, c.setting): c.reason for c in cannot}
    assert "never the secret" in reasons[("https://a.example", "stripe_secret_key")]
    assert "cannot be unset" in reasons[("https://b.example", "stripe_publishable_key")]
    assert "timeout" in reasons[("https://c.example", "*")]


@pytest.mark.parametrize("text", ["not json", "[]", '{"format": "other"}',
                                  '{"format": "stripefleet-backup", "version": 9, "sites": []}'])
def test_load_rejects(tmp_path: Path, text: str) -> None:
    """Anything but a stripefleet backup of a known version is refused."""
    path = tmp_path / "b.json"
    path.write_text(text)
    with pytest.raises(backup.BackupError):
        backup.load(path)
