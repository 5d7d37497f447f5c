"""Reservations end with the Checkout Session: ``checkout.session.expired`` (the
emulator's clock moved past ``expires_at``) expires the order and gives the stock back.

Its own module: moving the emulator's clock would make the other modules' sessions
expire under them.
"""

from __future__ import annotations

from tests.site.shop.harness import Shop


def test_expired_session_releases_the_stock(shop: Shop) -> None:
    """After expiry the order is ``expired``, the units are available again and the
    session can no longer be paid."""
    (art,) = shop.products({"slug": "art", "name": "Art", "price": 9900, "stock": 1})
    r = shop.checkout([{"id": art["id"], "type": "product", "quantity": 1}])
    sid = r.json()["session_id"]
    assert shop.product(art["slug"])["available"] == 0
    assert shop.emulator.advance(36 * 60 + 60)["expired_sessions"] >= 1
    order = shop.wait_order(sid, lambda o: o["status"] != "pending")
    assert (order["status"], order["reservation"]) == ("expired", "released")
    assert shop.product(art["slug"])["available"] == 1
    assert shop.emulator.pay(sid).status_code == 400
