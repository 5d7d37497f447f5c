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

from stripefleet.common.keys import MASTER_API_KEY, PUBLISHABLE_KEY, WEBHOOK_SECRET, fingerprint
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


PK_A = "pk_test_IdempotentA000"
PK_B = "pk_test_IdempotentB000"


def _put(value: str, key: str | None) -> services.PutResult:
    """One PUT of the publishable key with ``key``, committed as a request would be."""
    result = services.put_value(PUBLISHABLE_KEY, value, actor="test", idempotency_key=key)
    db.session.commit()
    return result


@pytest.mark.parametrize("before", [None, PK_A], ids=["first-write", "update"])
def test_a_retry_with_the_change_s_idempotency_key_answers_as_the_change(
    app: Flask, before: str | None
) -> None:
    """The same PUT again with the key of the change that set the value answers that
    change's result (changed, same previous fingerprint, version and updated_at) and
    records no second change (Stripe's idempotency keys)."""
    if before is not None:
        _put(before, None)
    first = _put(PK_B, "K-1")
    assert first.changed is True
    again = _put(PK_B, "K-1")
    assert again == first
    changes = services.list_changes(PUBLISHABLE_KEY)
    assert [c.version for c in changes] == ([2, 1] if before else [1])


@pytest.mark.parametrize(("first_key", "second_key"),
                         [("K-1", "K-2"), ("K-1", None), ("K-1", ""), (None, None), ("", "")])
def test_the_same_value_with_another_key_or_none_is_unchanged(
    app: Flask, first_key: str | None, second_key: str | None
) -> None:
    """Only a non-empty key equal to the stored one replays; another key, or none (even
    after a change made without one), gets the usual unchanged answer."""
    first = _put(PK_A, first_key)
    again = _put(PK_A, second_key)
    assert again.changed is False
    assert again.previous_fingerprint == again.fingerprint == first.fingerprint
    assert again.version == first.version == 1
    assert len(services.list_changes(PUBLISHABLE_KEY)) == 1


def test_a_new_value_with_the_same_key_changes_again_and_stores_the_key(app: Flask) -> None:
    """A key only replays the value it set: a new value with that key is a change (and
    stores the key again), and a retry of it then replays that second change."""
    _put(PK_A, "K-1")
    second = _put(PK_B, "K-1")
    assert (second.changed, second.version) == (True, 2)
    assert second.previous_fingerprint == fingerprint(PK_A)
    row = db.session.get(AdminSetting, PUBLISHABLE_KEY)
    assert row is not None and row.change_key == "K-1"
    assert _put(PK_B, "K-1") == second


def test_a_change_without_a_key_clears_the_stored_key(app: Flask) -> None:
    """The row keeps the key of the change that made the current value: NULL when that
    change sent none, so an older request's key no longer replays."""
    _put(PK_A, "K-1")
    _put(PK_B, None)
    row = db.session.get(AdminSetting, PUBLISHABLE_KEY)
    assert row is not None and row.change_key is None
    assert _put(PK_B, "K-1").changed is False
