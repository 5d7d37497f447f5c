"""The webhook's fast path: a paid ``checkout.session.completed`` for a pending order of
this site with the right amount, the event most deliveries carry (README, "Selling" and
"Benchmarks").

The same rule as the general path (``checkout.payment``: the order paid, its units sold)
with the inbox row as the payment's record, in one round trip: on PostgreSQL,
``payment.pay_in_one_statement`` is one statement (data-modifying CTEs), run as its own
transaction (autocommit) on a pooled DBAPI connection, with no ORM session. In the
benchmark's profile the session's bookkeeping cost more CPU than the statement, and
``BEGIN`` and ``COMMIT`` as round trips of their own doubled the statement's CPU on
both sides (``bench/bench_webhooks.py``). The statement is compiled once per process
and dialect. Other databases take the general path (``services.record_and_process``).

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

import functools
import logging
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.dml import ReturningInsert

from stripefleet.common.db import utcnow
from stripefleet.site.checkout import payment
from stripefleet.site.checkout.models import Order
from stripefleet.site.extensions import db
from stripefleet.site.webhooks.models import PROCESSED, WebhookEvent

if TYPE_CHECKING:
    import psycopg

log = logging.getLogger(__name__)
_events = WebhookEvent.__table__
_orders = Order.__table__
NOTE = "order paid"
MAX_INT = 2**63 - 1  # a BIGINT

#: The statement's parameters given on each delivery (the others are its constants).
_RUNTIME = frozenset({"now", "payment_intent", "session_id", "amount", "currency",
                      "event_id", "type", "livemode", "payload"})


def _param(name: str, type_: Any) -> sa.BindParameter[Any]:
    assert name in _RUNTIME
    return sa.bindparam(name, type_=type_)


def _now() -> sa.BindParameter[Any]:
    return _param("now", sa.DateTime(timezone=True))


def _inbox_row(paid: sa.CTE) -> ReturningInsert[int]:
    """The delivery's inbox row, ``processed``, for the order ``paid`` returns: ``INSERT
    ... SELECT ... FROM paid ON CONFLICT (event_id) DO NOTHING RETURNING id``."""
    now = _now()
    row = sa.select(_param("event_id", sa.String), _param("type", sa.String),
                    sa.literal(PROCESSED, sa.String), sa.literal(NOTE, sa.String), paid.c.id,
                    sa.literal(1, sa.Integer), _param("livemode", sa.Boolean), now, now,
                    _param("payload", sa.Text))
    return (postgresql.insert(_events)
            .from_select(["event_id", "type", "status", "note", "order_id", "attempts",
                          "livemode", "received_at", "processed_at", "payload"], row)
            .on_conflict_do_nothing(index_elements=["event_id"])
            .returning(_events.c.id))


def statement() -> sa.Select[int | None, int | None]:
    """The paid completion of session ``:session_id`` for ``:amount`` ``:currency``
    recorded as event ``:event_id``: ``payment.pay_in_one_statement`` for that order,
    unless the event id is already in the inbox, with :func:`_inbox_row` as its record."""
    return payment.pay_in_one_statement(
        _orders.c.stripe_session_id == _param("session_id", sa.String),
        _orders.c.amount_total == _param("amount", sa.BigInteger),
        _orders.c.currency == _param("currency", sa.String),
        ~sa.exists().where(_events.c.event_id == _param("event_id", sa.String)),
        now=_now(), payment_intent=_param("payment_intent", sa.String), record=_inbox_row)


@functools.cache
def _compiled(dialect: Dialect) -> str:
    """:func:`statement`'s SQL for the driver (``%(name)s`` parameters for what each
    delivery gives), compiled once per dialect, its constants (the states, the note)
    written into it as literals: each parameter costs the driver a conversion on every
    delivery (a profile of the webhook benchmark: 19 parameters instead of 9 cost the
    site about a fifth more CPU per event)."""
    compiled = statement().compile(dialect=dialect)
    sql = str(compiled)
    for bind, name in compiled.bind_names.items():
        if name in _RUNTIME:
            continue
        sql = sql.replace(f"%({name})s", _literal(bind.value))
    return sql


def _literal(value: Any) -> str:
    """A constant of the statement as SQL: a state name, a note, a whole number."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise TypeError(f"unexpected constant {value!r} in the paid statement")
    if isinstance(value, int):
        return str(value)
    return "'" + value.replace("'", "''") + "'"


def _paid_session(event: dict[str, Any]) -> dict[str, Any] | None:
    """The event's session when it is a paid completion whose fields the statement uses
    are of their types (anything else goes to the general path, which checks the whole
    shape: ``shape.problem``)."""
    if event.get("type") != "checkout.session.completed":
        return None
    data = event.get("data")
    session = data.get("object") if isinstance(data, dict) else None
    if not isinstance(session, dict) or session.get("payment_status") != "paid":
        return None
    metadata = session.get("metadata")
    if metadata is not None and (not isinstance(metadata, dict)
                                 or metadata.get("kind") == "launch"):
        return None
    amount, intent = session.get("amount_total"), session.get("payment_intent")
    if type(amount) is not int or not 0 <= amount <= MAX_INT or not isinstance(
            session.get("id"), str) or not isinstance(session.get("currency"), str) or not (
            intent is None or (isinstance(intent, str) and len(intent) <= 255)):
        return None
    return session


def _run_autocommit(sql: str, params: dict[str, Any]) -> tuple[Any, ...] | None:
    """Run one statement as a transaction of its own (autocommit: a single statement is
    atomic) on a pooled connection, handed back in transaction mode; its one row."""
    raw = db.engine.raw_connection()
    conn: psycopg.Connection[Any] = raw.driver_connection  # type: ignore[assignment]
    try:
        conn.autocommit = True  # BEGIN and COMMIT would be two more round trips
        try:
            with conn.cursor() as cursor:
                cursor.execute(sql, params)
                return cursor.fetchone()
        finally:
            if not conn.closed:
                conn.autocommit = False  # as the pool's other users expect it
    finally:
        raw.close()  # back to the pool


def try_paid_fast(event: dict[str, Any], payload: str) -> tuple[str, str] | None:
    """Apply the usual paid completion, committed by itself (PostgreSQL); ``(status,
    note)`` when done, None (nothing changed: the caller takes the general path) for
    anything else, a repeated event id, or another database.

    Raises:
        psycopg.Error: the database failed (nothing changed).
    """
    session = _paid_session(event)
    if session is None or db.engine.dialect.name != "postgresql":
        return None
    sql = _compiled(db.engine.dialect)
    row = _run_autocommit(sql, {
        "now": utcnow(), "payment_intent": session.get("payment_intent"),
        "session_id": session["id"], "amount": session["amount_total"],
        "currency": session["currency"].lower(),
        "event_id": event["id"][:255], "type": event["type"],
        "livemode": bool(event.get("livemode")), "payload": payload})
    order_id, inbox_id = row if row is not None else (None, None)
    if order_id is None:
        return None
    if inbox_id is None:
        log.warning("event %s paid order %s while a concurrent delivery recorded it",
                    event["id"], order_id)
        return None
    log.info("event %s (%s) processed: order %s paid", event["id"], event["type"], order_id)
    return PROCESSED, NOTE
