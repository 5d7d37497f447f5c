"""A payment made just before a reservation's end is never resold: the sweep settles
with Stripe (expires the Checkout Session through the API) before it releases anything,
and records a payment Stripe reports instead (README, "Selling": the sweep).

Its own module: it moves the emulator's clock, which would expire the other modules'
sessions under them.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa

from tests.site.shop.harness import Shop


def age_order(shop: Shop, session_id: str, minutes: int) -> None:
    """Move the order's ``expires_at`` ``minutes`` into the past: the site's clock
    past the reservation's end, as seen by its sweep."""
    engine = sa.create_engine(shop.env["DATABASE_URL"])
    past = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=minutes)
    value: Any = past if engine.dialect.name == "postgresql" else past.replace(tzinfo=None)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("UPDATE orders SET expires_at = :t WHERE stripe_session_id"
                                 " = :s"), {"t": value, "s": session_id})
    finally:
        engine.dispose()


def webhook_endpoint(shop: Shop) -> str:
    """The id of the emulator's webhook endpoint that delivers to this site."""
    endpoints = shop.emulator.sdk().v1.webhook_endpoints.list().data
    return next(e.id for e in endpoints if e.url.startswith(shop.url))


def test_payment_before_expiry_with_a_late_webhook_is_kept_and_not_resold(shop: Shop) -> None:
    """Pay the session while its webhook is held, let both clocks pass the end, sweep:
    the order is paid (Stripe said complete), the artwork stays sold, a second buyer is
    refused, and the late webhook changes nothing."""
    (art,) = shop.products({"slug": "late", "name": "Late", "price": 9900, "stock": 1})
    sid = shop.checkout([{"id": art["id"], "type": "product", "quantity": 1}]).json()[
        "session_id"]
    sdk = shop.emulator.sdk()
    endpoint = webhook_endpoint(shop)
    sdk.v1.webhook_endpoints.update(endpoint, params={"disabled": True})  # held
    try:
        assert shop.emulator.pay(sid).status_code == 200
        shop.emulator.advance(36 * 60 + 180)
        age_order(shop, sid, 3)
        result = shop.cli("orders", "sweep")
        assert result.returncode == 0, result.stderr
    finally:
        sdk.v1.webhook_endpoints.update(endpoint, params={"disabled": False})
    order = shop.order(sid)
    assert (order["status"], order["reservation"], order["review_reason"]) == (
        "paid", "sold", None)
    assert shop.product(art["slug"])["available"] == 0
    second = shop.checkout([{"id": art["id"], "type": "product", "quantity": 1}])
    assert (second.status_code, second.json()["error"]) == (409, "out_of_stock")
    completed = next(e for e in shop.emulator.events_for(sid)
                     if e["type"] == "checkout.session.completed")
    shop.emulator.resend(completed["id"])
    shop.wait_delivered("checkout.session.completed", sid)
    order = shop.order(sid)
    assert (order["status"], order["review_reason"]) == ("paid", None)
