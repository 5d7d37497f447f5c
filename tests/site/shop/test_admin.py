"""The owner's admin area (README, "Selling": "Pages"): add, edit and deactivate products."""

from __future__ import annotations

import re
import uuid

import requests

from tests.site.shop.harness import Shop


def _owner(shop: Shop) -> tuple[requests.Session, str]:
    email = f"owner-{uuid.uuid4().hex[:6]}@example.com"
    assert shop.cli("create-owner", "--email", email, "--password-stdin",
                    stdin="owner-password\n").returncode == 0
    browser = shop.browser_login(email, "owner-password")
    page = browser.get(f"{shop.url}/admin/", timeout=10).text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token is not None
    return browser, token.group(1)


def test_owner_adds_edits_and_deactivates_a_product(shop: Shop) -> None:
    """A product added in the admin area is sold at once; an edit changes its price; a
    deactivated product leaves the catalogue."""
    browser, csrf = _owner(shop)
    slug = f"added-{uuid.uuid4().hex[:6]}"
    form = {"csrf_token": csrf, "slug": slug, "name": "Ajouté", "type": "product",
            "price": "4200", "currency": "eur", "stock": "2", "active": "on"}
    browser.post(f"{shop.url}/admin/produits", data=form, timeout=10)
    assert shop.product(slug)["price"] == 4200
    browser.post(f"{shop.url}/admin/produits", data={**form, "price": "3900"}, timeout=10)
    product = shop.product(slug)
    assert product["price"] == 3900
    browser.post(f"{shop.url}/admin/produits/{product['id']}/desactiver",
                 data={"csrf_token": csrf}, timeout=10)
    assert requests.get(f"{shop.url}/api/products/{slug}", timeout=10).status_code == 404


def test_admin_form_with_a_bad_field_saves_nothing(shop: Shop) -> None:
    """A negative price is refused and the product is not created."""
    browser, csrf = _owner(shop)
    slug = f"bad-{uuid.uuid4().hex[:6]}"
    page = browser.post(f"{shop.url}/admin/produits", timeout=10, data={
        "csrf_token": csrf, "slug": slug, "name": "Mauvais", "type": "product",
        "price": "-5", "currency": "eur", "stock": "", "active": "on"}).text
    assert "Non enregistré : price" in page
    assert requests.get(f"{shop.url}/api/products/{slug}", timeout=10).status_code == 404
