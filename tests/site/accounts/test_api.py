"""``POST /api/auth/register`` and ``POST /api/auth/login`` (README, "Selling": "API")."""

from __future__ import annotations

import uuid

import pytest
import requests

from tests.site.shop.harness import Shop


def _email() -> str:
    return f"u-{uuid.uuid4().hex[:8]}@example.com"


def test_register_then_login_gives_tokens_that_authenticate(shop: Shop) -> None:
    """Both answer ``{"success": true, "token"}``; the login's token opens the customer's
    own order."""
    email = _email()
    r = requests.post(f"{shop.url}/api/auth/register",
                      json={"email": email, "password": "s3cret-pass"}, timeout=10)
    assert r.status_code == 201 and r.json()["success"] is True
    login = requests.post(f"{shop.url}/api/auth/login",
                          json={"email": email.upper(), "password": "s3cret-pass"}, timeout=10)
    assert login.status_code == 200
    token = login.json()["token"]
    assert token != r.json()["token"]
    (art,) = shop.products({"slug": "art", "name": "Art", "price": 100, "stock": 1})
    sid = shop.checkout([{"id": art["id"], "type": "product", "quantity": 1}],
                        token).json()["session_id"]
    mine = requests.get(f"{shop.url}/api/orders/session/{sid}/",
                        headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert mine.status_code == 200


@pytest.mark.parametrize(("email", "password", "status", "code"), [
    ("not-an-email", "long-enough", 400, "invalid_email"),
    ("x@example.com", "short", 400, "invalid_password"),
])
def test_register_refuses_bad_fields(shop: Shop, email: str, password: str, status: int,
                                     code: str) -> None:
    """A malformed e-mail or a password under 8 characters is refused with its code."""
    r = requests.post(f"{shop.url}/api/auth/register",
                      json={"email": email, "password": password}, timeout=10)
    assert (r.status_code, r.json()["error"]) == (status, code)


def test_register_twice_is_409(shop: Shop) -> None:
    """One account per e-mail address."""
    email = _email()
    body = {"email": email, "password": "s3cret-pass"}
    assert requests.post(f"{shop.url}/api/auth/register", json=body, timeout=10).status_code == 201
    again = requests.post(f"{shop.url}/api/auth/register", json=body, timeout=10)
    assert (again.status_code, again.json()["error"]) == (409, "email_taken")


@pytest.mark.parametrize("which", ["wrong password", "unknown e-mail"])
def test_login_with_wrong_credentials_is_401(shop: Shop, which: str) -> None:
    """The same answer whether the e-mail or the password is wrong."""
    customer = shop.customer()
    email = customer["email"] if which == "wrong password" else _email()
    r = requests.post(f"{shop.url}/api/auth/login",
                      json={"email": email, "password": "not-the-password"}, timeout=10)
    assert (r.status_code, r.json()["error"]) == (401, "invalid_credentials")
