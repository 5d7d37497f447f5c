"""``GET /api/products`` and ``GET /api/products/<slug>`` (README, "Selling": "API")."""

from __future__ import annotations

import requests

from tests.site.shop.harness import Shop


def test_products_list_active_products_with_in_stock_and_available(shop: Shop) -> None:
    """The list holds every active product with ``inStock`` (the webhook and stock
    notes) and the units left."""
    art, bike = shop.products(
        {"slug": "art", "name": "Art", "type": "product", "price": 1000, "stock": 1},
        {"slug": "bike", "name": "Bike", "type": "equipment", "daily_rate": 250, "stock": 3})
    listed = {p["slug"]: p for p in requests.get(f"{shop.url}/api/products", timeout=10)
              .json()["products"]}
    assert listed[art["slug"]]["inStock"] is True
    assert listed[art["slug"]]["available"] == 1
    assert listed[bike["slug"]]["daily_rate"] == 250
    assert listed[bike["slug"]]["available"] == 3


def test_inactive_product_is_neither_listed_nor_found(shop: Shop) -> None:
    """A deactivated product disappears from the list and its page answers 404."""
    result = shop.cli("products", "import",
                      '[{"slug": "hidden-x1", "name": "H", "price": 5, "active": false}]')
    assert result.returncode == 0, result.stderr
    slugs = [p["slug"] for p in requests.get(f"{shop.url}/api/products", timeout=10)
             .json()["products"]]
    assert "hidden-x1" not in slugs
    r = requests.get(f"{shop.url}/api/products/hidden-x1", timeout=10)
    assert (r.status_code, r.json()["error"]) == (404, "product_not_found")


def test_product_is_found_by_slug_and_by_id(shop: Shop) -> None:
    """``/api/products/<key>`` accepts the slug and the numeric id."""
    (art,) = shop.products({"slug": "art", "name": "Art", "price": 1000, "stock": 1})
    assert shop.product(art["id"])["slug"] == art["slug"]


def test_unchanged_catalogue_answers_304_to_its_etag(shop: Shop) -> None:
    """Polling with ``If-None-Match`` costs no body until the stock changes."""
    shop.products({"slug": "poll", "name": "Poll", "price": 100, "stock": 2})
    first = requests.get(f"{shop.url}/api/products", timeout=10)
    etag = first.headers["ETag"]
    again = requests.get(f"{shop.url}/api/products", headers={"If-None-Match": etag},
                         timeout=10)
    assert again.status_code == 304
    (other,) = shop.products({"slug": "poll2", "name": "Poll 2", "price": 100, "stock": 2})
    changed = requests.get(f"{shop.url}/api/products", headers={"If-None-Match": etag},
                           timeout=10)
    assert changed.status_code == 200
    assert other["slug"] in changed.text
