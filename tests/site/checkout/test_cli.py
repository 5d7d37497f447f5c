"""``stripefleet site orders sweep``: pending orders past their session's end are expired
and their stock released, even when ``checkout.session.expired`` never arrives."""

from __future__ import annotations

import sqlalchemy as sa

from tests.site.shop.harness import Shop


def test_sweep_expires_overdue_orders_and_releases_their_stock(shop: Shop,
                                                               shop_db: str) -> None:
    """An order whose ``expires_at`` has passed (moved back in the database, as if the
    expiry event was lost) is expired by the sweep; a current one is left alone."""
    (art,) = shop.products({"slug": "art", "name": "Art", "price": 100, "stock": 2})
    token = shop.customer()["token"]
    overdue, current = (shop.checkout([{"id": art["id"], "type": "product", "quantity": 1}],
                                      token).json()["session_id"] for _ in range(2))
    engine = sa.create_engine(shop_db)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE orders SET expires_at = :t WHERE stripe_session_id = :s"),
                     {"t": "2000-01-01 00:00:00+00:00", "s": overdue})
    engine.dispose()
    result = shop.cli("orders", "sweep")
    assert result.returncode == 0, result.stderr
    assert "1 order(s) expired" in result.stdout
    assert (shop.order(overdue)["status"], shop.order(current)["status"]) == ("expired",
                                                                             "pending")
    assert shop.product(art["slug"])["available"] == 1
