"""Stock never oversells under concurrent checkouts: PostgreSQL behind gunicorn with four
worker processes (README, "Selling": Checkout, the reservation's conditional UPDATE)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests

from tests.conftest import REDIS_TEST_URL
from tests.site.shop import harness
from tests.site.shop.harness import Emulator, Shop, _pg_schema, start_shop


@pytest.fixture(scope="module")
def shop_db() -> Iterator[str]:
    """PostgreSQL only: the multi-worker set-up of production."""
    yield from _pg_schema()


#: The harness's emulator fixture; it takes this module's PostgreSQL-only ``shop_db``.
emulator = harness.emulator


@pytest.fixture(scope="module")
def shop(shop_db: str, emulator: Emulator,
         tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shop]:
    """A site served by gunicorn, 4 workers sharing their rate limits in Redis (which
    ``--workers`` requires), guests allowed."""
    site = start_shop(tmp_path_factory.mktemp("shop"), shop_db, emulator, workers=4,
                      env={"SITE_GUEST_CHECKOUT": "1",
                           "SITE_RATELIMIT_STORAGE_URI": REDIS_TEST_URL})
    yield site
    site.process.stop()


def _checkout_all(shop: Shop, items: list[list[dict[str, Any]]],
                  threads: int) -> list[requests.Response]:
    with ThreadPoolExecutor(max_workers=threads) as pool:
        return list(pool.map(lambda cart: shop.checkout(cart), items))


def _sessions_with_amount(emulator: Emulator, amount: int) -> int:
    sessions = emulator.sdk().v1.checkout.sessions.list(params={"limit": 100})
    return sum(1 for s in sessions.auto_paging_iter() if s.amount_total == amount)


def test_fifty_buyers_of_one_artwork_get_one_session_and_49_out_of_stock(shop: Shop) -> None:
    """50 concurrent checkouts of a unique artwork: exactly one Checkout Session."""
    (art,) = shop.products({"slug": "art", "name": "Unique", "price": 777_777, "stock": 1})
    carts = [[{"id": art["id"], "type": "product", "quantity": 1}]] * 50
    statuses = Counter(r.status_code for r in _checkout_all(shop, carts, threads=50))
    assert statuses == {200: 1, 409: 49}
    assert _sessions_with_amount(shop.emulator, 777_777) == 1
    assert shop.product(art["slug"])["available"] == 0


def test_500_buyers_of_20_products_never_reserve_more_than_the_stock(shop: Shop) -> None:
    """20 products with stock 5 and 25 concurrent buyers each: 5 sessions per product,
    400 ``out_of_stock``, every product exactly fully reserved."""
    products = shop.products(*({"slug": f"p{i}", "name": f"P{i}", "price": 10_000 + i,
                                "stock": 5} for i in range(20)))
    carts = [[{"id": products[n % 20]["id"], "type": "product", "quantity": 1}]
             for n in range(500)]
    responses = _checkout_all(shop, carts, threads=100)
    assert Counter(r.status_code for r in responses) == {200: 100, 409: 400}
    per_product = Counter(carts[n][0]["id"] for n, r in enumerate(responses)
                          if r.status_code == 200)
    assert set(per_product.values()) == {5}
    assert [shop.product(p["slug"])["available"] for p in products] == [0] * 20
    assert [_sessions_with_amount(shop.emulator, 10_000 + i) for i in range(20)] == [5] * 20


def test_concurrent_payments_sell_exactly_the_reserved_units(shop: Shop) -> None:
    """50 orders on 10 products (stock 5 each), all paid at once: the webhooks, handled
    by four workers in parallel, leave every product with 5 sold and none reserved."""
    products = shop.products(*({"slug": f"q{i}", "name": f"Q{i}", "price": 20_000 + i,
                                "stock": 5} for i in range(10)))
    carts = [[{"id": products[n % 10]["id"], "type": "product", "quantity": 1}]
             for n in range(50)]
    sessions = [r.json()["session_id"] for r in _checkout_all(shop, carts, threads=25)]
    with ThreadPoolExecutor(max_workers=25) as pool:
        paid = list(pool.map(lambda sid: shop.emulator.pay(sid).status_code, sessions))
    assert paid == [200] * 50
    orders = [shop.wait_order(sid, lambda o: o["status"] == "paid") for sid in sessions]
    assert {o["status"] for o in orders} == {"paid"}
    sold = [(p["stock"], p["available"], p["soldOut"])
            for p in (shop.product(p["slug"]) for p in products)]
    assert sold == [(5, 0, True)] * 10
