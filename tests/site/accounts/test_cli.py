"""``stripefleet site create-owner --email ... --password-stdin`` (issue 4)."""

from __future__ import annotations

import re
import uuid

import requests

from tests.site.shop.harness import Shop


def _login_page(shop: Shop, email: str, password: str) -> requests.Session:
    browser = requests.Session()
    page = browser.get(f"{shop.url}/compte/connexion", timeout=10).text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token is not None
    browser.post(f"{shop.url}/compte/connexion", timeout=10,
                 data={"email": email, "password": password, "csrf_token": token.group(1)})
    return browser


def test_owner_reaches_the_admin_area_and_a_customer_does_not(shop: Shop) -> None:
    """The owner created from the CLI sees the admin pages; a plain customer gets 404."""
    email = f"owner-{uuid.uuid4().hex[:6]}@example.com"
    result = shop.cli("create-owner", "--email", email, "--password-stdin",
                      stdin="owner-password\n")
    assert result.returncode == 0, result.stderr
    owner = _login_page(shop, email, "owner-password")
    for path in ("/admin/", "/admin/commandes", "/admin/evenements"):
        assert owner.get(f"{shop.url}{path}", timeout=10).status_code == 200
    customer = shop.customer()
    plain = _login_page(shop, customer["email"], "correct horse")
    assert plain.get(f"{shop.url}/admin/", timeout=10).status_code == 404


def test_page_form_without_csrf_token_is_refused(shop: Shop) -> None:
    """The pages' forms are CSRF-protected: a POST without the token is 400."""
    r = requests.post(f"{shop.url}/compte/connexion", timeout=10,
                      data={"email": "a@example.com", "password": "whatever1"})
    assert r.status_code == 400
