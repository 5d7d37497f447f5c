"""The settings services: atomic writes under concurrency, API keys, webhook secrets.

Concurrency runs against a real site process (waitress threads); the other rules
in-process on an app built with ``create_app`` (SQLite and PostgreSQL).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask

from stripefleet.common.keys import MASTER_API_KEY, WEBHOOK_SECRET, fingerprint
from stripefleet.site.app import create_app
from stripefleet.site.db import upgrade_database
from stripefleet.site.extensions import db
from stripefleet.site.settings import services
from stripefleet.site.settings.models import AdminSetting
from tests.site.conftest import API_KEY, RunningSite


def test_concurrent_puts_lose_no_version(site: RunningSite) -> None:
    """20 concurrent PUTs of different values: versions 1..20, each previous fingerprint
    is another PUT's value, and one change row per PUT."""
    values = [f"pk_test_Concurrent{i:03d}" for i in range(20)]
    with ThreadPoolExecutor(max_workers=20) as pool:
        answers = list(pool.map(lambda v: site.put("stripe_publishable_key", v), values))
    assert [a.status_code for a in answers] == [200] * 20
    bodies = [a.json() for a in answers]
    assert sorted(b["version"] for b in bodies) == list(range(1, 21))
    previous = {b["previous_fingerprint"] for b in bodies}
    assert previous == {None} | {fingerprint(v) for v in values} - {
        max(bodies, key=lambda b: b["version"])["fingerprint"]}
    engine = sa.create_engine(site.database_url)
    try:
        with engine.connect() as conn:
            changes = conn.execute(sa.text("SELECT count(*) FROM setting_changes")).scalar()
    finally:
        engine.dispose()
    assert changes == 20


@pytest.fixture
def app(database_url: str, tmp_path: Path) -> Iterator[Flask]:
    """An in-process site app on this test's database, migrated, in an app context."""
    application = create_app({"SITE_INSTANCE_DIR": str(tmp_path / "instance"),
                              "DATABASE_URL": database_url,
                              "TEMPLATE_MASTER_API_KEY": API_KEY,
                              "STRIPEFLEET_ENCRYPTION_KEY": None})
    with application.app_context():
        upgrade_database()
        yield application
        db.session.remove()
        db.engine.dispose()


def test_the_environment_key_is_accepted_until_a_key_is_stored(app: Flask) -> None:
    """TEMPLATE_MASTER_API_KEY authenticates until a template_master_api_key row exists."""
    assert services.match_api_key(API_KEY) == fingerprint(API_KEY)
    assert services.match_api_key("") is None
    assert services.match_api_key(None) is None


def test_a_stored_api_key_replaces_the_environment_key(app: Flask) -> None:
    """Once the row is set, it is the only accepted key (a rotation revokes the old key)."""
    services.put_value(MASTER_API_KEY, "stored-fleet-key-0001", actor="test")
    assert services.match_api_key("stored-fleet-key-0001") == fingerprint("stored-fleet-key-0001")
    assert services.match_api_key(API_KEY) is None
    assert services.match_api_key("stored-fleet-key-0002") is None


def test_the_previous_webhook_secret_is_accepted_during_the_grace(app: Flask) -> None:
    """After a rotation, the previous webhook secret is kept for the grace period only."""
    services.put_value(WEBHOOK_SECRET, "whsec_Old000", actor="test")
    services.put_value(WEBHOOK_SECRET, "whsec_New000", actor="test")
    assert services.webhook_secrets() == ["whsec_New000", "whsec_Old000"]
    row = db.session.get(AdminSetting, WEBHOOK_SECRET)
    row.updated_at = services.utcnow() - dt.timedelta(hours=25)
    db.session.flush()
    assert services.webhook_secrets() == ["whsec_New000"]


def test_no_webhook_secret_means_an_empty_list(app: Flask) -> None:
    """Before any push, there is no webhook secret to verify with."""
    assert services.webhook_secrets() == []


def test_a_value_read_after_a_change_in_the_same_transaction_is_the_new_one(app: Flask) -> None:
    """Reads after ``put_value`` in one transaction see the new value, even when the row
    was loaded before the change."""
    services.put_value(WEBHOOK_SECRET, "whsec_First000", actor="test")
    held = db.session.get(AdminSetting, WEBHOOK_SECRET)  # kept in the identity map
    assert services.get_value(WEBHOOK_SECRET) == "whsec_First000"
    services.put_value(WEBHOOK_SECRET, "whsec_Second000", actor="test")
    assert held is not None
    assert services.get_value(WEBHOOK_SECRET) == "whsec_Second000"
    assert services.get_state(WEBHOOK_SECRET).version == 2
