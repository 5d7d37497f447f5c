"""``stripefleet site products import FILE --instance-dir DIR`` (README, "Selling":
"Catalogue")."""

from __future__ import annotations

import json
import uuid

import pytest
import requests

from tests.site.shop.harness import Shop


def _slugs(shop: Shop) -> set[str]:
    return {p["slug"] for p in requests.get(f"{shop.url}/api/products", timeout=10)
            .json()["products"]}


def test_import_creates_then_reports_changed_and_unchanged(shop: Shop) -> None:
    """Upsert by slug: a second import reports what changed and what did not."""
    tag = uuid.uuid4().hex[:6]
    rows = [{"slug": f"a-{tag}", "name": "A", "price": 100, "stock": 2},
            {"slug": f"b-{tag}", "name": "B", "price": 200}]
    first = shop.cli("products", "import", json.dumps(rows))
    assert first.returncode == 0, first.stderr
    assert f"created 2: a-{tag}, b-{tag}" in first.stdout
    rows[0]["price"] = 150
    second = shop.cli("products", "import", json.dumps(rows))
    assert f"changed 1: a-{tag}" in second.stdout
    assert "unchanged 1" in second.stdout
    assert shop.product(f"a-{tag}")["price"] == 150


@pytest.mark.parametrize(("row", "field"), [
    ({"name": "no slug", "price": 1}, "[1].slug"),
    ({"slug": "x", "name": "X", "price": -1}, "[1].price"),
    ({"slug": "x", "name": "X", "type": "service", "price": 1}, "[1].type"),
    ({"slug": "x", "name": "X", "type": "equipment"}, "[1].daily_rate"),
    ({"slug": "x", "name": "X", "price": 1, "stock": -2}, "[1].stock"),
])
def test_bad_row_is_named_by_index_and_field_and_nothing_is_written(
        shop: Shop, row: dict[str, object], field: str) -> None:
    """The whole file is refused; the message names the row's index and field."""
    good = f"good-{uuid.uuid4().hex[:6]}"
    if "slug" in row:
        row = {**row, "slug": f"x-{uuid.uuid4().hex[:6]}"}
    result = shop.cli("products", "import",
                      json.dumps([{"slug": good, "name": "Good", "price": 1}, row]))
    assert result.returncode == 1
    assert f"row {field}:" in result.stderr
    assert good not in _slugs(shop)


def test_stock_below_units_already_reserved_is_refused(shop: Shop) -> None:
    """Lowering the stock under what is reserved or sold fails, naming the field."""
    (art,) = shop.products({"slug": "art", "name": "Art", "price": 500, "stock": 2})
    r = shop.checkout([{"id": art["id"], "type": "product", "quantity": 2}])
    assert r.status_code == 200, r.text
    result = shop.cli("products", "import",
                      json.dumps([{"slug": art["slug"], "name": "Art", "price": 500,
                                   "stock": 1}]))
    assert result.returncode == 1
    assert "row [0].stock:" in result.stderr
    assert shop.product(art["slug"])["stock"] == 2


def test_sample_catalogue_has_a_unique_artwork_and_a_rentable_item(shop: Shop) -> None:
    """``--sample`` loads the demo's catalogue: an artwork with stock 1 and equipment."""
    result = shop.cli("products", "import", "--sample")
    assert result.returncode == 0, result.stderr
    assert shop.product("les-nympheas")["stock"] == 1
    assert shop.product("chevalet-atelier")["type"] == "equipment"
