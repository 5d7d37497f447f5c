"""Junk at the edge of the selling endpoints is a 400 with a stable code, never a 500
(README, "Selling": "API"): bodies nested too deep, NUL and control characters in
strings, values of the wrong type, path parameters with a NUL byte, and order totals
over Stripe's largest amount."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from tests.site.shop.harness import API_KEY, Shop

DEEP = "[" * 2000 + "]" * 2000  # about 4 KB
ENDPOINTS = ["/api/checkout/", "/api/auth/register", "/api/auth/login", "/saas_launch_site"]


def _post(shop: Shop, path: str, body: Any = None, *, data: str | None = None) -> requests.Response:
    if data is not None:
        return requests.post(f"{shop.url}{path}", data=data.encode(), timeout=10,
                             headers={"Content-Type": "application/json"})
    return requests.post(f"{shop.url}{path}", json=body, timeout=10)


@pytest.mark.parametrize("path", ENDPOINTS)
def test_deeply_nested_body_is_400_json_too_deep(shop: Shop, path: str) -> None:
    """2,000 levels of arrays under a key: 400 ``json_too_deep``."""
    r = _post(shop, path, data='{"items": ' + DEEP + "}")
    assert (r.status_code, r.json()["error"]) == (400, "json_too_deep")


@pytest.mark.parametrize(("path", "body", "code", "field"), [
    ("/api/auth/register", {"email": "a\u0000b@example.com", "password": "correct horse"},
     "invalid_email", "email"),
    ("/api/auth/login", {"email": "a\u0000b@example.com", "password": "correct horse"},
     "invalid_email", "email"),
    ("/saas_launch_site", {"domain": "shop.example.fr", "email": "x\u0000@example.fr"},
     "invalid_email", "email"),
    ("/saas_launch_site", {"domain": "shop.example.fr", "email": "x@example.fr",
                           "type": {"a": 1}}, "invalid_type", "type"),
    ("/saas_launch_site", {"domain": ["shop.example.fr"], "email": "x@example.fr"},
     "invalid_domain", "domain"),
    ("/api/checkout/", {"items": [{"id": "x\u0000", "type": "product", "quantity": 1}]},
     "invalid_request", "items[0].id"),
    ("/api/checkout/", {"items": [{"id": 1, "type": "product", "quantity": 1}],
                        "customer_info": {"firstName": "Jo\u0001hn"}},
     "invalid_request", "customer_info.firstName"),
    ("/api/checkout/", {"items": [{"id": 1, "type": "product", "quantity": 1}],
                        "customer_info": {"email": "j\u0000@example.com"}},
     "invalid_request", "customer_info.email"),
    ("/api/checkout/", {"items": [{"id": 1, "type": "product", "quantity": 1.0}]},
     "invalid_request", "items[0].quantity"),
    ("/api/checkout/", {"items": [{"id": 1, "type": {"x": 1}, "quantity": 1}]},
     "invalid_request", "items[0].type"),
])
def test_control_characters_and_wrong_types_are_400_naming_the_field(
        shop: Shop, path: str, body: dict[str, Any], code: str, field: str) -> None:
    """A NUL or control character in a string, or a value of the wrong type: 400 with
    the field's code and ``field``."""
    r = _post(shop, path, body)
    assert (r.status_code, r.json()["error"], r.json().get("field")) == (400, code, field)


def test_nul_in_the_session_id_of_the_order_path_is_400(shop: Shop) -> None:
    """``GET /api/orders/session/<id>/`` with a NUL byte in the id: 400."""
    r = requests.get(f"{shop.url}/api/orders/session/cs_test%00x/",
                     headers={"X-API-Key": API_KEY}, timeout=10)
    assert (r.status_code, r.json()["error"]) == (400, "invalid_request")


def test_total_over_stripes_largest_amount_is_400_amount_too_large(shop: Shop) -> None:
    """20 lines x 1,000 units x 250,000 cents: 400 ``amount_too_large`` before anything
    is reserved (Stripe takes at most 99,999,999 cents in most currencies)."""
    rows = [{"slug": f"big{i}", "name": f"Big {i}", "price": 250000, "stock": 1000}
            for i in range(20)]
    products = shop.products(*rows)
    r = shop.checkout([{"id": p["id"], "type": "product", "quantity": 1000} for p in products])
    assert (r.status_code, r.json()["error"]) == (400, "amount_too_large")
    assert shop.product(products[0]["slug"])["available"] == 1000


@pytest.mark.parametrize(("path", "status"), [
    ("/api/products/a%00b", 404), ("/produits/a%00b", 404),
    ("/api/products/99999999999999999999", 404),
    ("/commande/statut?session_id=cs_%00", 200), ("/commande/succes?session_id=cs_%00", 200),
])
def test_nul_in_a_page_or_product_key_is_never_a_500(shop: Shop, path: str, status: int) -> None:
    """A NUL byte (or an id no product can have) in a product key or a session id of the
    pages: not found, or no order, never a database error."""
    assert requests.get(f"{shop.url}{path}", timeout=10).status_code == status
