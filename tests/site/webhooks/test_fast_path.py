"""The paid completion's fast path (``webhooks.fast``) keeps the inbox's promises: an
event recorded as failed is processed again by the general path, once; on PostgreSQL
its autocommit statement hands its connection back to the pool in transaction mode."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from pathlib import Path

import sqlalchemy as sa

from stripefleet.site.app import create_app
from stripefleet.site.db import upgrade_database
from stripefleet.site.extensions import db
from stripefleet.site.webhooks import fast
from tests.site.shop.harness import Shop, sign
from tests.site.webhooks.test_api import _buy, _forged_completion


def test_a_paid_completion_recorded_as_failed_is_processed_once_on_retry(
        shop: Shop) -> None:
    """Its inbox row says ``failed`` (a first delivery that answered 500): the retry
    pays the order once, through the general path, and the row counts two attempts."""
    art, sid = _buy(shop, stock=2)
    payload = _forged_completion(shop, sid)
    event_id = json.loads(payload)["id"]
    engine = sa.create_engine(shop.env["DATABASE_URL"], poolclass=sa.pool.NullPool)
    events = sa.table("webhook_events", *(sa.column(c) for c in (
        "event_id", "type", "status", "error", "attempts", "livemode", "received_at",
        "payload")))
    with engine.begin() as conn:
        conn.execute(sa.insert(events).values(
            event_id=event_id, type="checkout.session.completed", status="failed",
            error="OperationalError: server closed the connection", attempts=1,
            livemode=False, received_at=dt.datetime.now(dt.UTC), payload=payload))
    answers = [shop.post_event(payload, sign(payload, shop.webhook_secret)).json()["status"]
               for _ in range(2)]
    assert answers == ["processed", "duplicate"]
    assert shop.order(sid)["status"] == "paid"
    product = shop.product(art["slug"])
    assert (product["available"], product["stock"]) == (1, 2)
    with engine.connect() as conn:
        row = conn.execute(sa.select(events.c.status, events.c.attempts)
                           .where(events.c.event_id == event_id)).one()
    engine.dispose()
    assert tuple(row) == ("processed", 2)


def test_postgresql_statement_returns_its_connection_in_transaction_mode(
        postgres_url: str, tmp_path: Path) -> None:
    app = create_app({"SITE_INSTANCE_DIR": str(tmp_path), "DATABASE_URL": postgres_url})
    with app.app_context():
        upgrade_database()
        event = {"id": f"evt_{uuid.uuid4().hex[:20]}", "type": "checkout.session.completed",
                 "data": {"object": {"id": "cs_test_nobody", "payment_status": "paid",
                                     "amount_total": 100, "currency": "eur"}}}
        assert fast.try_paid_fast(event, json.dumps(event)) is None  # no such order
        pool = db.engine.pool
        assert isinstance(pool, sa.pool.QueuePool) and pool.checkedin() >= 1
        pooled = [db.engine.raw_connection() for _ in range(pool.checkedin())]
        try:
            assert [raw.driver_connection.autocommit for raw in pooled] == [False] * len(pooled)
        finally:
            for raw in pooled:
                raw.close()
        db.engine.dispose()
