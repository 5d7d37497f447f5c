"""``POST /api/checkout/`` and ``GET /api/orders/session/<id>/`` (README, "Selling": "API")."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from tests.site.shop.harness import API_KEY, Shop


def _art(shop: Shop, **extra: Any) -> dict[str, Any]:
    (art,) = shop.products({"slug": "art", "name": "Art", "type": "product", "price": 12000,
                            "stock": 1, **extra})
    return art


def test_notes_body_creates_a_session_with_server_computed_amounts(shop: Shop) -> None:
    """The session's line items come from the catalogue: price x quantity, and daily rate
    x quantity x days; the client's numbers are never trusted."""
    poster, bike = shop.products(
        {"slug": "poster", "name": "Poster", "price": 1500, "stock": 10},
        {"slug": "bike", "name": "Bike", "type": "equipment", "daily_rate": 2500, "stock": 3})
    customer = shop.customer()
    r = shop.checkout([{"id": poster["id"], "type": "product", "quantity": 2, "days": 1,
                        "price": 1},
                       {"id": bike["slug"], "type": "equipment", "quantity": 2, "days": 3}],
                      customer["token"])
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["success"] is True and body["checkout_url"].startswith(shop.emulator.url)
    session = shop.emulator.sdk().v1.checkout.sessions.retrieve(body["session_id"])
    assert session.amount_total == 2 * 1500 + 2 * 3 * 2500
    assert session.metadata["order_id"] == str(body["order_id"])
    assert session.client_reference_id and session.customer_email == "john@example.com"
    assert shop.order(body["session_id"])["status"] == "pending"


@pytest.mark.parametrize(("items", "field"), [
    ([{"id": "ART", "type": "product", "quantity": 0}], "items[0].quantity"),
    ([{"id": "ART", "type": "product", "quantity": 1.5}], "items[0].quantity"),
    ([{"id": "ART", "type": "product", "quantity": 1, "days": 2}], "items[0].days"),
    ([{"id": "ART", "type": "gift", "quantity": 1}], "items[0].type"),
    ([{"id": "ART", "type": "equipment", "quantity": 1, "days": 1}], "items[0].type"),
    ([{"type": "product", "quantity": 1}], "items[0].id"),
    ([{"id": "no-such-thing", "type": "product", "quantity": 1}], "items[0].id"),
    ([], "items"),
])
def test_invalid_item_is_400_naming_the_field(shop: Shop, items: list[dict[str, Any]],
                                              field: str) -> None:
    """Each validation error answers 400 with the field at fault; nothing is reserved."""
    art = _art(shop)
    items = [{**i, "id": art["id"]} if i.get("id") == "ART" else i for i in items]
    r = shop.checkout(items)
    assert r.status_code == 400
    assert r.json()["field"] == field
    assert shop.product(art["slug"])["available"] == 1


def test_unique_artwork_second_checkout_is_409_out_of_stock(shop: Shop) -> None:
    """Once reserved, the artwork is out of stock: 409 naming the item."""
    art = _art(shop)
    assert shop.checkout([{"id": art["id"], "type": "product", "quantity": 1}]).status_code == 200
    r = shop.checkout([{"id": art["id"], "type": "product", "quantity": 1}])
    assert r.status_code == 409
    assert r.json()["error"] == "out_of_stock"
    assert [i["slug"] for i in r.json()["items"]] == [art["slug"]]
    assert shop.product(art["slug"])["inStock"] is False


def test_order_is_readable_by_its_customer_and_the_api_key_only(shop: Shop) -> None:
    """Another customer (or nobody) gets 404 for someone else's order."""
    art = _art(shop)
    owner, other = shop.customer(), shop.customer()
    sid = shop.checkout([{"id": art["id"], "type": "product", "quantity": 1}],
                        owner["token"]).json()["session_id"]
    url = f"{shop.url}/api/orders/session/{sid}/"
    mine = requests.get(url, headers={"Authorization": f"Bearer {owner['token']}"}, timeout=10)
    assert mine.status_code == 200 and mine.json()["order"]["lines"][0]["slug"] == art["slug"]
    theirs = requests.get(url, headers={"Authorization": f"Bearer {other['token']}"}, timeout=10)
    assert theirs.status_code == 404
    assert requests.get(url, timeout=10).status_code == 404
    assert requests.get(url, headers={"X-API-Key": API_KEY}, timeout=10).status_code == 200


def test_invalid_bearer_token_is_401(shop: Shop) -> None:
    """A wrong token is refused even though guests may check out."""
    art = _art(shop)
    r = shop.checkout([{"id": art["id"], "type": "product", "quantity": 1}], "not-a-token")
    assert (r.status_code, r.json()["error"]) == (401, "invalid_token")
