"""The webhook's fast path: a paid ``checkout.session.completed`` for a pending order of
this site with the right amount, the event most deliveries carry (issue 4, "Benchmark").

Same effects as the general path (``handlers.mark_paid`` and the inbox row), in fewer
round trips: on PostgreSQL one statement (data-modifying CTEs), elsewhere four. The
order moves first, then the inbox row is inserted with ``ON CONFLICT (event_id) DO
NOTHING``, all in the request's transaction: when the event id is already in the inbox,
the caller rolls the whole transaction back and takes ``services.record_and_process``,
which answers ``duplicate`` (or processes again a delivery that failed). A concurrent
second delivery waits on the order's row lock, then finds the order paid, and also falls
back to the general path.

Orders with several products take the general path, which locks product rows in id
order; the single statement here touches one product row, so it cannot deadlock.
"""

from __future__ import annotations

import logging
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from stripefleet.site.checkout.services import pay_session
from stripefleet.site.db import utcnow
from stripefleet.site.extensions import db
from stripefleet.site.webhooks.models import PROCESSED, WebhookEvent

log = logging.getLogger(__name__)
_events = WebhookEvent.__table__
NOTE = "order paid"

_PG_PAID = sa.text("""
WITH paid AS (
    UPDATE orders SET status = 'paid', reservation = 'sold', paid_at = :now,
           updated_at = :now,
           stripe_payment_intent = COALESCE(stripe_payment_intent, :payment_intent)
    WHERE stripe_session_id = :session_id AND status = 'pending' AND reservation = 'held'
      AND amount_total = :amount AND currency = :currency
      AND (SELECT count(DISTINCT l.product_id) FROM order_lines l
           WHERE l.order_id = orders.id) = 1
    RETURNING id
), units AS (
    SELECT l.product_id, sum(l.quantity) AS q, min(l.product_type) AS kind
    FROM order_lines l JOIN paid ON l.order_id = paid.id GROUP BY l.product_id
), moved AS (
    UPDATE products p SET reserved = p.reserved - units.q,
           sold = p.sold + CASE WHEN units.kind = 'product' THEN units.q ELSE 0 END,
           updated_at = :now
    FROM units WHERE p.id = units.product_id
    RETURNING p.id
), inbox AS (
    INSERT INTO webhook_events (event_id, type, status, note, order_id, attempts, livemode,
                                received_at, processed_at, payload)
    SELECT :event_id, :type, 'processed', :note, paid.id, 1, :livemode, :now, :now, :payload
    FROM paid
    ON CONFLICT (event_id) DO NOTHING
    RETURNING id
)
SELECT (SELECT id FROM paid) AS order_id, (SELECT id FROM inbox) AS inbox_id
""")


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


def try_paid_fast(event: dict[str, Any], payload: str) -> tuple[str, str] | None:
    """Apply the usual paid completion; ``(status, note)`` when done, None (the caller
    rolls back and takes the general path) for anything else or a repeated event id."""
    session = _paid_session(event)
    if session is None:
        return None
    amount, currency = session["amount_total"], str(session.get("currency", "")).lower()
    if db.session.get_bind().dialect.name == "postgresql":
        row = db.session.execute(_PG_PAID, {
            "now": utcnow(), "payment_intent": session.get("payment_intent"),
            "session_id": session["id"], "amount": amount, "currency": currency,
            "event_id": event["id"][:255], "type": event["type"], "note": NOTE,
            "livemode": bool(event.get("livemode")), "payload": payload}).one()
        if row.order_id is None or row.inbox_id is None:
            return None
        order_id = int(row.order_id)
    else:
        paid = pay_session(session["id"], amount, currency, session.get("payment_intent"))
        if paid is None or _insert_processed(event, payload, paid) is None:
            return None
        order_id = paid
    log.info("event %s (%s) processed: order %s paid", event["id"], event["type"], order_id)
    return PROCESSED, NOTE
