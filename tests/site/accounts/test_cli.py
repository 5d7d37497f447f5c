"""``stripefleet site create-owner --email ... --password-stdin`` (README, "Selling": "Pages")."""

from __future__ import annotations

import uuid

import requests

from tests.site.shop.harness import Shop


def test_owner_reaches_the_admin_area_and_a_customer_does_not(shop: Shop) -> None:
    """The owner created from the CLI sees the admin pages; a plain customer gets 404."""
    email = f"owner-{uuid.uuid4().hex[:6]}@example.com"
    result = shop.cli("create-owner", "--email", email, "--password-stdin",
                      stdin="owner-password\n")
    assert result.returncode == 0, result.stderr
    owner = shop.browser_login(email, "owner-password")
    for path in ("/admin/", "/admin/commandes", "/admin/evenements"):
        assert owner.get(f"{shop.url}{path}", timeout=10).status_code == 200
    customer = shop.customer()
    plain = shop.browser_login(customer["email"], "correct horse")
    assert plain.get(f"{shop.url}/admin/", timeout=10).status_code == 404


def test_page_form_without_csrf_token_is_refused(shop: Shop) -> None:
    """The pages' forms are CSRF-protected: a POST without the token is 400."""
    r = requests.post(f"{shop.url}/compte/connexion", timeout=10,
                      data={"email": "a@example.com", "password": "whatever1"})
    assert r.status_code == 400
