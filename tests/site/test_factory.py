"""``create_app``: no side effect at import; the instance folder and its key file."""

from __future__ import annotations

import stat
import subprocess
import sys
from pathlib import Path

from cryptography.fernet import Fernet

from stripefleet.site.app import create_app


def test_importing_the_site_creates_nothing(tmp_path: Path) -> None:
    """Importing every module of the site writes no file."""
    code = ("import stripefleet.site, stripefleet.site.app, stripefleet.site.cli, "
            "stripefleet.site.settings.api, stripefleet.site.health")
    subprocess.run([sys.executable, "-c", code], cwd=tmp_path, check=True, timeout=60)
    assert list(tmp_path.iterdir()) == []


def test_a_new_instance_gets_a_private_encryption_key(tmp_path: Path) -> None:
    """Without STRIPEFLEET_ENCRYPTION_KEY, a key is generated into the instance, mode 0600,
    in a folder only its owner can enter, and reused by the next app."""
    instance = tmp_path / "instance"
    create_app({"SITE_INSTANCE_DIR": str(instance), "STRIPEFLEET_ENCRYPTION_KEY": None})
    key_file = instance / "encryption.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(instance.stat().st_mode) == 0o700
    first = key_file.read_text()
    create_app({"SITE_INSTANCE_DIR": str(instance), "STRIPEFLEET_ENCRYPTION_KEY": None})
    assert key_file.read_text() == first


def test_a_configured_encryption_key_writes_no_key_file(tmp_path: Path) -> None:
    """With STRIPEFLEET_ENCRYPTION_KEY set, nothing is generated."""
    instance = tmp_path / "instance"
    create_app({"SITE_INSTANCE_DIR": str(instance),
                "STRIPEFLEET_ENCRYPTION_KEY": Fernet.generate_key().decode()})
    assert not (instance / "encryption.key").exists()


def test_the_sqlite_database_is_private(tmp_path: Path) -> None:
    """``site.db`` (customers' personal data) is readable by its owner only, from the
    start, and an existing world-readable one is tightened to 0600."""
    create_app({"SITE_INSTANCE_DIR": str(tmp_path / "a")})
    assert stat.S_IMODE((tmp_path / "a" / "site.db").stat().st_mode) == 0o600
    (tmp_path / "b").mkdir()
    old = tmp_path / "b" / "site.db"
    old.touch(mode=0o644)
    old.chmod(0o644)
    create_app({"SITE_INSTANCE_DIR": str(tmp_path / "b")})
    assert stat.S_IMODE(old.stat().st_mode) == 0o600
