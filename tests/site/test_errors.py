"""The site's error handlers: a secret it cannot decrypt is a clear 500, never a leak."""

from __future__ import annotations

from pathlib import Path

from cryptography.fernet import Fernet

from stripefleet.site.app import create_app
from stripefleet.site.db import upgrade_database
from stripefleet.site.extensions import db
from stripefleet.site.settings.services import put_value

SK = "sk_test_ErrorsSecret000wxyz"


def test_an_undecryptable_secret_answers_encryption_key_mismatch(
    database_url: str, tmp_path: Path
) -> None:
    """A request that needs a secret the key ring cannot decrypt answers 500
    ``encryption_key_mismatch`` (not a stack trace, not the token)."""
    base = {"SITE_INSTANCE_DIR": str(tmp_path / "i"), "DATABASE_URL": database_url}
    writer = create_app({**base, "STRIPEFLEET_ENCRYPTION_KEY": Fernet.generate_key().decode()})
    with writer.app_context():
        upgrade_database()
        put_value("stripe_secret_key", SK, actor="test")
        db.session.commit()
        db.engine.dispose()
    reader = create_app({**base, "STRIPEFLEET_ENCRYPTION_KEY": Fernet.generate_key().decode()})
    resp = reader.test_client().get("/api/health/stripe")
    assert resp.status_code == 500
    assert resp.get_json()["error"] == "encryption_key_mismatch"
    assert SK not in resp.get_data(as_text=True)
    with reader.app_context():
        db.engine.dispose()
