"""Out-of-order deliveries (the emulator's ``--shuffle-deliveries``) reach the same final
state as ordered ones (README, "Selling": Webhooks)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.site.shop.harness import DECLINED_CARD, Emulator, Shop, start_emulator


@pytest.fixture(scope="module")
def emulator(shop_db: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    """An emulator that delivers the events of each half second in random order."""
    emu = start_emulator(tmp_path_factory.mktemp("emulator"), "--shuffle-deliveries",
                         "--shuffle-window", "0.3")
    yield emu
    emu.process.stop()


def test_shuffled_and_duplicated_deliveries_give_paid_orders_and_one_sale_each(
        shop: Shop) -> None:
    """Four purchases, one with a declined attempt first, then every event resent: every
    order is paid and every artwork sold exactly once."""
    arts = shop.products(*({"slug": f"art{i}", "name": f"Art {i}", "price": 1000 + i,
                            "stock": 1} for i in range(4)))
    token = shop.customer()["token"]
    sessions = []
    for art in arts:
        r = shop.checkout([{"id": art["id"], "type": "product", "quantity": 1}], token)
        assert r.status_code == 200, r.text
        sessions.append(r.json()["session_id"])
    shop.emulator.pay(sessions[0], DECLINED_CARD)
    for sid in sessions:
        assert shop.emulator.pay(sid).status_code == 200
    for sid in sessions:
        for event in shop.emulator.events_for(sid):
            shop.emulator.resend(event["id"])
    for sid in sessions:
        shop.wait_delivered("checkout.session.completed", sid)
    orders = [shop.wait_order(sid, lambda o: o["status"] == "paid") for sid in sessions]
    assert [o["status"] for o in orders] == ["paid"] * 4
    assert [shop.product(a["slug"])["soldOut"] for a in arts] == [True] * 4
    assert [shop.product(a["slug"])["available"] for a in arts] == [0] * 4
