"""The webhook's fast path: a paid ``checkout.session.completed`` for a pending order of
this site with the right amount, the event most deliveries carry (issue 4, "Benchmark").

Same effects as the general path (``handlers.mark_paid`` and the inbox row), in fewer
round trips. On PostgreSQL: one statement (data-modifying CTEs) that is its own
transaction (autocommit), on a pooled DBAPI connection, with no ORM session. In the
benchmark's profile the session's bookkeeping cost more CPU than the statement, and
``BEGIN`` and ``COMMIT`` as round trips of their own doubled the statement's CPU on
both sides (``bench/bench_webhooks.py``; README, "Benchmarks"). Elsewhere: four
statements in the request's session, committed or rolled back here.

Exactly once: the order moves only when its event id is not in the inbox yet, and the
inbox row is inserted from the moved order with ``ON CONFLICT (event_id) DO NOTHING``;
both in one atomic statement. A second delivery of a recorded event changes nothing and
goes to ``services.record_and_process``, which answers ``duplicate`` (or processes again
a delivery that failed). Two concurrent deliveries of one event: the second waits on
the order's row lock, re-checks it, finds it paid, changes nothing, and also takes the
general path. The one outcome a transaction would have rolled back, the order paid
while a concurrent transaction recorded the same event id first (a failed delivery's
row), keeps the payment, which happened once, and leaves the row to the general path,
which claims the failed row and finds the order paid.

Orders with several products take the general path, which locks product rows in id
order; the single statement here touches one product row, so it cannot deadlock.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from sqlalchemy.dialects import postgresql, sqlite

from stripefleet.common.db import utcnow
from stripefleet.site.checkout.services import pay_session
from stripefleet.site.extensions import db
from stripefleet.site.webhooks.models import PROCESSED, WebhookEvent

if TYPE_CHECKING:
    import psycopg

log = logging.getLogger(__name__)
_events = WebhookEvent.__table__
NOTE = "order paid"

#: The paid completion on PostgreSQL (psycopg's ``%(name)s`` parameters).
_PG_PAID = """
WITH paid AS (
    UPDATE orders SET status = 'paid', reservation = 'sold', paid_at = %(now)s,
           updated_at = %(now)s,
           stripe_payment_intent = COALESCE(stripe_payment_intent, %(payment_intent)s)
    WHERE stripe_session_id = %(session_id)s AND status = 'pending' AND reservation = 'held'
      AND amount_total = %(amount)s AND currency = %(currency)s
      AND NOT EXISTS (SELECT 1 FROM webhook_events e WHERE e.event_id = %(event_id)s)
      AND (SELECT count(DISTINCT l.product_id) FROM order_lines l
           WHERE l.order_id = orders.id) = 1
    RETURNING id
), units AS (
    SELECT l.product_id, sum(l.quantity) AS q, min(l.product_type) AS kind
    FROM order_lines l JOIN paid ON l.order_id = paid.id GROUP BY l.product_id
), moved AS (
    UPDATE products p SET reserved = p.reserved - units.q,
           sold = p.sold + CASE WHEN units.kind = 'product' THEN units.q ELSE 0 END,
           updated_at = %(now)s
    FROM units WHERE p.id = units.product_id
    RETURNING p.id
), inbox AS (
    INSERT INTO webhook_events (event_id, type, status, note, order_id, attempts, livemode,
                                received_at, processed_at, payload)
    SELECT %(event_id)s, %(type)s, 'processed', %(note)s, paid.id, 1, %(livemode)s,
           %(now)s, %(now)s, %(payload)s
    FROM paid
    ON CONFLICT (event_id) DO NOTHING
    RETURNING id
)
SELECT (SELECT id FROM paid) AS order_id, (SELECT id FROM inbox) AS inbox_id
"""


def _paid_session(event: dict[str, Any]) -> dict[str, Any] | None:
    if event.get("type") != "checkout.session.completed":
        return None
    session = (event.get("data") or {}).get("object") or {}
    metadata = session.get("metadata") or {}
    if session.get("payment_status") != "paid" or metadata.get("kind") == "launch":
        return None
    if not isinstance(session.get("amount_total"), int) or not isinstance(session.get("id"),
                                                                          str):
        return None
    return dict(session)


def _insert_processed(event: dict[str, Any], payload: str, order_id: int) -> int | None:
    """``INSERT ... ON CONFLICT (event_id) DO NOTHING RETURNING id`` (PostgreSQL or
    SQLite): the new row's id, or None when the event id is already in the inbox."""
    now = utcnow()
    dialect = db.session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    row_id = db.session.execute(insert(_events).values(
        event_id=event["id"][:255], type=event["type"], status=PROCESSED, note=NOTE,
        order_id=order_id, attempts=1, livemode=bool(event.get("livemode")),
        received_at=now, processed_at=now, payload=payload,
    ).on_conflict_do_nothing(index_elements=["event_id"]).returning(_events.c.id)
    ).scalar_one_or_none()
    return None if row_id is None else int(row_id)


def _pay_postgresql(params: dict[str, Any]) -> int | None:
    """Run ``_PG_PAID`` as a transaction of its own (autocommit: a single statement is
    atomic) on a pooled connection: the paid order's id, or None (nothing changed, or
    see the module doc for a race that leaves the inbox row to the general path)."""
    raw = db.engine.raw_connection()
    conn: psycopg.Connection[Any] = raw.driver_connection  # type: ignore[assignment]
    try:
        conn.autocommit = True  # BEGIN and COMMIT would be two more round trips
        try:
            with conn.cursor() as cursor:
                cursor.execute(_PG_PAID, params)
                row = cursor.fetchone()  # the statement always yields one row
        finally:
            if not conn.closed:
                conn.autocommit = False  # as the pool's other users expect it
    finally:
        raw.close()  # back to the pool
    order_id, inbox_id = row if row is not None else (None, None)
    if order_id is not None and inbox_id is None:
        log.warning("event %s paid order %s while a concurrent delivery recorded it",
                    params["event_id"], order_id)
    return None if order_id is None or inbox_id is None else int(order_id)


def try_paid_fast(event: dict[str, Any], payload: str) -> tuple[str, str] | None:
    """Apply the usual paid completion and commit it; ``(status, note)`` when done, None
    (nothing changed: the caller takes the general path) for anything else or a repeated
    event id.

    Raises:
        sqlalchemy.exc.DBAPIError, psycopg.Error: the database failed (nothing changed).
    """
    session = _paid_session(event)
    if session is None:
        return None
    amount, currency = session["amount_total"], str(session.get("currency", "")).lower()
    if db.engine.dialect.name == "postgresql":
        paid = _pay_postgresql({
            "now": utcnow(), "payment_intent": session.get("payment_intent"),
            "session_id": session["id"], "amount": amount, "currency": currency,
            "event_id": event["id"][:255], "type": event["type"], "note": NOTE,
            "livemode": bool(event.get("livemode")), "payload": payload})
    else:
        paid = pay_session(session["id"], amount, currency, session.get("payment_intent"))
        if paid is not None and _insert_processed(event, payload, paid) is None:
            paid = None
        if paid is None:
            db.session.rollback()
            return None
        db.session.commit()
    if paid is None:
        return None
    order_id = paid
    log.info("event %s (%s) processed: order %s paid", event["id"], event["type"], order_id)
    return PROCESSED, NOTE
