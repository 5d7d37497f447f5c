"""A signed event of the wrong shape is answered 400 ``malformed_event`` and kept in the
inbox when it has an id, never 500 (which Stripe would retry for three days); a
signature dated in the future is refused like a stale one; a payment made right
clears an earlier review reason (README, "Selling": Webhooks)."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import pytest
import sqlalchemy as sa

from tests.site.shop.harness import Shop, sign
from tests.site.webhooks.test_api import _buy, _forged_completion


def _inbox_status(shop: Shop, event_id: str) -> str | None:
    engine = sa.create_engine(shop.env["DATABASE_URL"])
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text("SELECT status FROM webhook_events WHERE event_id = :e"),
                                {"e": event_id}).scalar()
    finally:
        engine.dispose()


def _event(kind: str, obj: Any, event_id: str | None = None) -> dict[str, Any]:
    return {"id": event_id or f"evt_{uuid.uuid4().hex[:24]}", "object": "event", "type": kind,
            "livemode": False, "created": int(time.time()), "data": {"object": obj}}


@pytest.mark.parametrize("event", [
    _event("checkout.session.completed", {"payment_status": "paid", "amount_total": 100}),
    _event("checkout.session.expired", "cs_test_abc"),
    _event("payment_intent.succeeded", {"id": "pi_1", "metadata": "order"}),
    _event("charge.refunded", {"id": "ch_1", "payment_intent": {"id": "pi_1"}}),
    {**_event("checkout.session.completed", {}), "data": "nothing"},
    _event("checkout.session.completed", {"id": "cs_\u0000", "payment_status": "paid",
                                          "amount_total": 100, "currency": "eur"}),
    _event("checkout.session.completed", {"id": "cs_test_x", "payment_status": "paid",
                                          "amount_total": 10**30, "currency": "eur"}),
    _event("checkout.session.completed", {"id": "cs_test_y", "payment_status": "paid",
                                          "amount_total": 100, "currency": "eur",
                                          "payment_intent": "pi_" + "x" * 300}),
], ids=["no-object-id", "object-a-string", "metadata-a-string", "intent-an-object",
        "data-a-string", "nul-in-session-id", "huge-amount", "intent-too-long"])
def test_signed_malformed_event_is_400_and_kept(shop: Shop, event: dict[str, Any]) -> None:
    """400 ``malformed_event``; the event is in the inbox as ``malformed``."""
    event = {**event, "id": f"evt_{uuid.uuid4().hex[:24]}"}
    payload = json.dumps(event)
    r = shop.post_event(payload, sign(payload, shop.webhook_secret))
    assert (r.status_code, r.json()["error"]) == (400, "malformed_event")
    assert _inbox_status(shop, event["id"]) == "malformed"


@pytest.mark.parametrize("payload", [
    json.dumps({"type": "checkout.session.completed", "data": {"object": {}}}),
    json.dumps(["not", "an", "event"]),
    json.dumps(_event("checkout.session.completed", {}, "evt_\u0000")),
    "{not json",
], ids=["no-id", "a-list", "nul-in-id", "not-json"])
def test_signed_event_without_a_usable_id_is_400_malformed(shop: Shop, payload: str) -> None:
    """Nothing to key it by: 400 ``malformed_event``, nothing stored."""
    r = shop.post_event(payload, sign(payload, shop.webhook_secret))
    assert (r.status_code, r.json()["error"]) == (400, "malformed_event")


def test_signature_dated_in_the_future_is_refused(shop: Shop) -> None:
    """A signature 10 minutes ahead of the site's clock: 400 ``invalid_signature``, as
    one 10 minutes old (the same 300 s tolerance both ways)."""
    art, sid = _buy(shop)
    payload = _forged_completion(shop, sid)
    r = shop.post_event(payload, sign(payload, shop.webhook_secret, int(time.time()) + 600))
    assert (r.status_code, r.json()["error"]) == (400, "invalid_signature")
    assert shop.order(sid)["status"] == "pending"


def test_right_payment_clears_an_earlier_review_reason(shop: Shop) -> None:
    """A mismatched event flags the order; the real payment then pays it and the
    review reason is cleared."""
    _, sid = _buy(shop)
    event = json.loads(_forged_completion(shop, sid))
    event["data"]["object"]["amount_total"] = 1
    payload = json.dumps(event)
    assert shop.post_event(payload, sign(payload, shop.webhook_secret)).status_code == 200
    assert shop.order(sid)["review_reason"].startswith("amount_mismatch")
    assert shop.emulator.pay(sid).status_code == 200
    order = shop.wait_order(sid, lambda o: o["status"] == "paid")
    assert (order["status"], order["review_reason"]) == ("paid", None)
