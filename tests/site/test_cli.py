"""``stripefleet site ...``: serve refuses to start without an API key or with a bad
setting; ``set-api-key`` stores one read from stdin; ``settings`` shows masks only;
``serve --workers`` runs gunicorn. Through click's runner and as real processes.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography.fernet import Fernet

from stripefleet.cli import main
from stripefleet.common.keys import fingerprint
from stripefleet.common.processes import free_port, stripefleet_argv
from stripefleet.site.app import create_app
from stripefleet.site.db import upgrade_database
from stripefleet.site.extensions import db
from stripefleet.site.settings.services import get_value, put_value
from tests.site.conftest import API_KEY, RunningSite

SK = "sk_test_CliSecretNeverShown000wxyz"


def _env(database_url: str, **more: str | None) -> dict[str, str | None]:
    return {"TEMPLATE_MASTER_API_KEY": None, "DATABASE_URL": database_url,
            "STRIPEFLEET_ENCRYPTION_KEY": None, **more}


def test_serve_refuses_to_start_without_an_api_key(database_url: str, tmp_path: Path) -> None:
    """With neither TEMPLATE_MASTER_API_KEY nor a stored key, serve exits 1 and says how."""
    proc = subprocess.run(
        stripefleet_argv("site", "serve", "--port", str(free_port()), "--instance-dir",
                         str(tmp_path / "instance")),
        env={**_clean_environ(), "DATABASE_URL": database_url},
        capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 1
    assert "TEMPLATE_MASTER_API_KEY" in proc.stderr
    assert "stripefleet site set-api-key" in proc.stderr


def _clean_environ() -> dict[str, str]:
    return {k: v for k, v in os.environ.items()
            if k not in {"TEMPLATE_MASTER_API_KEY", "STRIPEFLEET_ENCRYPTION_KEY"}}


@pytest.mark.parametrize(
    ("name", "value"),
    [("SITE_NO_SUCH_SETTING", "1"), ("TEMPLATE_MASTER_API_KEY", "tooshort"),
     ("DATABASE_URL", "mysql://user:hunter2hunter2@db/site"),
     ("STRIPEFLEET_ENCRYPTION_KEY", "not-a-fernet-key-hunter2")],
)
def test_serve_refuses_a_malformed_setting(tmp_path: Path, name: str, value: str) -> None:
    """A bad setting stops ``site serve`` with exit 1, naming it but not its value."""
    result = CliRunner().invoke(
        main, ["site", "serve", "--port", "1", "--instance-dir", str(tmp_path / "i")],
        env={"TEMPLATE_MASTER_API_KEY": API_KEY, name: value},
    )
    assert result.exit_code == 1, result.output
    assert "configuration error" in result.output
    assert "hunter2" not in result.output
    if name != "STRIPEFLEET_ENCRYPTION_KEY":
        assert name in result.output


def test_a_key_stored_with_set_api_key_lets_the_site_start(
    database_url: str, tmp_path: Path, launch_site: Callable[..., RunningSite]
) -> None:
    """``set-api-key`` reads the key from stdin; the site then starts and accepts it."""
    instance = tmp_path / "instance"
    result = CliRunner().invoke(main, ["site", "set-api-key", "--instance-dir", str(instance)],
                                input="stored-fleet-key-000111\n", env=_env(database_url))
    assert result.exit_code == 0, result.output
    assert fingerprint("stored-fleet-key-000111") in result.output
    assert "stored-fleet-key-000111" not in result.output
    site = launch_site(db_url=database_url, api_key=None, instance_dir=instance)
    assert site.put("stripe_secret_key", SK, api_key="stored-fleet-key-000111").status_code == 200
    assert site.put("stripe_secret_key", SK, api_key=API_KEY).status_code == 401


def test_set_api_key_refuses_a_malformed_key(database_url: str, tmp_path: Path) -> None:
    """A key outside the accepted format is refused (exit 1) and not echoed."""
    result = CliRunner().invoke(
        main, ["site", "set-api-key", "--instance-dir", str(tmp_path / "i")],
        input="bad key\n", env=_env(database_url))
    assert result.exit_code == 1
    assert "invalid_api_key_format" in result.output
    assert "bad key" not in result.output


def test_settings_command_shows_masks_and_fingerprints_only(
    database_url: str, tmp_path: Path, launch_site: Callable[..., RunningSite]
) -> None:
    """``site settings`` lists each Stripe setting masked, never in clear."""
    instance = tmp_path / "instance"
    site = launch_site(db_url=database_url, instance_dir=instance)
    site.set("stripe_secret_key", SK)
    result = CliRunner().invoke(main, ["site", "settings", "--instance-dir", str(instance)],
                                env=_env(database_url))
    assert result.exit_code == 0, result.output
    assert f"stripe_secret_key: sk_test_...wxyz fingerprint={fingerprint(SK)} version=1" \
        in result.output
    assert "stripe_webhook_secret: not configured" in result.output
    assert SK not in result.output


def test_db_upgrade_is_idempotent(database_url: str, tmp_path: Path) -> None:
    """``site db upgrade`` migrates a new database, and again changes nothing."""
    for _ in range(2):
        result = CliRunner().invoke(
            main, ["site", "db", "upgrade", "--instance-dir", str(tmp_path / "i")],
            env=_env(database_url))
        assert result.exit_code == 0, result.output
        assert "database up to date" in result.output


@pytest.mark.postgres
def test_serve_with_workers_runs_gunicorn(
    postgres_url: str, redis_url: str, launch_site: Callable[..., RunningSite]
) -> None:
    """``--workers 2`` serves through gunicorn's worker processes on PostgreSQL, the
    failed-key counter shared in Redis (serve refuses a per-process one)."""
    site = launch_site(db_url=postgres_url, args=("--workers", "2", "--threads", "2"),
                       env={"SITE_RATELIMIT_STORAGE_URI": redis_url})
    assert site.put("stripe_publishable_key", "pk_test_Gunicorn1").status_code == 200
    for _ in range(6):
        assert site.get("/api/stripe-pk").json()["publishable_key"] == "pk_test_Gunicorn1"
    deadline = time.monotonic() + 30  # bounded wait for the second worker's first line
    while site.log_text().count("Booting worker with pid") < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert site.log_text().count("Booting worker with pid") == 2


def _store_secret(database_url: str, instance: Path, ring: str) -> None:
    app = create_app({"SITE_INSTANCE_DIR": str(instance), "DATABASE_URL": database_url,
                      "STRIPEFLEET_ENCRYPTION_KEY": ring})
    with app.app_context():
        upgrade_database()
        put_value("stripe_secret_key", SK, actor="test")
        db.session.commit()
        db.engine.dispose()


def test_serve_refuses_secrets_it_cannot_decrypt(database_url: str, tmp_path: Path) -> None:
    """Started with a key ring that lacks the secrets' key, serve exits 1 and names them."""
    instance = tmp_path / "instance"
    _store_secret(database_url, instance, Fernet.generate_key().decode())
    result = CliRunner().invoke(
        main, ["site", "serve", "--port", "1", "--instance-dir", str(instance)],
        env=_env(database_url, TEMPLATE_MASTER_API_KEY=API_KEY,
                 STRIPEFLEET_ENCRYPTION_KEY=Fernet.generate_key().decode()))
    assert result.exit_code == 1
    assert "stripe_secret_key cannot be decrypted" in result.output
    assert SK not in result.output


def test_reencrypt_moves_secrets_to_the_rings_first_key(database_url: str, tmp_path: Path) -> None:
    """``site reencrypt`` with ring "new,old" lets the old key be dropped afterwards."""
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    instance = tmp_path / "instance"
    _store_secret(database_url, instance, old)
    result = CliRunner().invoke(main, ["site", "reencrypt", "--instance-dir", str(instance)],
                                env=_env(database_url, STRIPEFLEET_ENCRYPTION_KEY=f"{new},{old}"))
    assert result.exit_code == 0, result.output
    assert "re-encrypted 1 stored secret(s)" in result.output
    app = create_app({"SITE_INSTANCE_DIR": str(instance), "DATABASE_URL": database_url,
                      "STRIPEFLEET_ENCRYPTION_KEY": new})
    with app.app_context():
        assert get_value("stripe_secret_key") == SK
        db.session.remove()
        db.engine.dispose()
