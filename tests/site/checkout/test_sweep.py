"""The sweep releases only what Stripe confirms expired (README, "Selling": the sweep):
it expires an overdue order's Checkout Session through the API first, and releases
nothing while Stripe cannot be reached."""

from __future__ import annotations

from tests.site.checkout.test_late_payment import age_order
from tests.site.shop.harness import Shop


def test_sweep_expires_the_session_at_stripe_then_releases(shop: Shop) -> None:
    """An overdue order whose session is still open: the sweep expires the session (the
    emulator then refuses to take a payment for it) and releases the artwork."""
    (art,) = shop.products({"slug": "sw", "name": "Sweep", "price": 4200, "stock": 1})
    sid = shop.checkout([{"id": art["id"], "type": "product", "quantity": 1}]).json()[
        "session_id"]
    age_order(shop, sid, 3)
    result = shop.cli("orders", "sweep")
    assert result.returncode == 0, result.stderr
    assert shop.emulator.sdk().v1.checkout.sessions.retrieve(sid).status == "expired"
    order = shop.order(sid)
    assert (order["status"], order["reservation"]) == ("expired", "released")
    assert shop.product(art["slug"])["available"] == 1
    assert shop.emulator.pay(sid).status_code == 400


def test_sweep_releases_nothing_while_stripe_is_unreachable(shop: Shop) -> None:
    """Stripe unreachable (a dead API address): the overdue order stays pending and
    held; the next sweep, with Stripe back, expires it."""
    (art,) = shop.products({"slug": "sw-down", "name": "Down", "price": 4200, "stock": 1})
    sid = shop.checkout([{"id": art["id"], "type": "product", "quantity": 1}]).json()[
        "session_id"]
    age_order(shop, sid, 3)
    dead = dict(shop.env, STRIPE_API_BASE="http://127.0.0.1:9")
    saved, shop.env = shop.env, dead
    try:
        result = shop.cli("orders", "sweep")
    finally:
        shop.env = saved
    assert result.returncode == 0, result.stderr
    order = shop.order(sid)
    assert (order["status"], order["reservation"]) == ("pending", "held")
    assert shop.product(art["slug"])["available"] == 0
    assert shop.cli("orders", "sweep").returncode == 0
    assert shop.order(sid)["status"] == "expired"
