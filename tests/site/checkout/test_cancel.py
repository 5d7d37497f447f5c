"""Cancel on the pay page frees the artwork at once (README, "Selling": Pages): the
storefront's cancel URL expires the Checkout Session through Stripe, releases the
reservation, and puts the items back in the cart, from which the customer can pay
again."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from playwright.sync_api import Browser, expect, sync_playwright

from tests.conftest import CHROMIUM_ARGS
from tests.site.shop.harness import Shop


def _csrf(page: str) -> str:
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token is not None
    return token.group(1)


def _to_pay_page(shop: Shop, browser: requests.Session, product_id: int) -> str:
    """Add the product to the cart and press "Payer": the pay page's URL."""
    token = _csrf(browser.get(f"{shop.url}/", timeout=10).text)
    browser.post(f"{shop.url}/panier/ajouter", timeout=10,
                 data={"csrf_token": token, "product_id": str(product_id), "quantity": "1"})
    r = browser.post(f"{shop.url}/panier/commander", allow_redirects=False, timeout=30,
                     data={"csrf_token": token, "email": "claude@example.com"})
    assert r.status_code == 303 and r.headers["Location"].startswith(shop.emulator.url), r.text
    return r.headers["Location"]


def test_cancel_on_the_pay_page_releases_at_once_and_refills_the_cart(shop: Shop) -> None:
    """Cancel on the emulator's page, then the site's cancel URL: the session is expired
    at Stripe, the order expired with its reservation released (not 30 minutes later),
    the cart holds the artwork again, and "Payer" opens a new session."""
    (art,) = shop.products({"slug": "cancel", "name": "Cancel", "price": 5000, "stock": 1})
    browser = requests.Session()
    pay_url = _to_pay_page(shop, browser, art["id"])
    sid = pay_url.rstrip("/").rsplit("/", 1)[-1]
    assert shop.product(art["slug"])["available"] == 0
    back = requests.post(f"{pay_url}/cancel", allow_redirects=False, timeout=10)
    assert back.status_code == 303
    cart = browser.get(back.headers["Location"], timeout=30)
    assert cart.url.startswith(f"{shop.url}/panier") and "Cancel" in cart.text
    assert shop.emulator.sdk().v1.checkout.sessions.retrieve(sid).status == "expired"
    order = shop.order(sid)
    assert (order["status"], order["reservation"]) == ("expired", "released")
    assert shop.product(art["slug"])["available"] == 1
    r = browser.post(f"{shop.url}/panier/commander", allow_redirects=False, timeout=30,
                     data={"csrf_token": _csrf(cart.text), "email": "claude@example.com"})
    assert r.status_code == 303 and r.headers["Location"].startswith(shop.emulator.url)
    assert shop.product(art["slug"])["available"] == 0


def test_cancel_url_of_a_paid_order_releases_nothing(shop: Shop) -> None:
    """The cancel URL opened after the payment (an old tab): Stripe says the session is
    complete, the order stays paid, nothing is released or put back in the cart."""
    (art,) = shop.products({"slug": "cancel-paid", "name": "Kept", "price": 5000, "stock": 1})
    browser = requests.Session()
    pay_url = _to_pay_page(shop, browser, art["id"])
    sid = pay_url.rstrip("/").rsplit("/", 1)[-1]
    cancel_url = shop.emulator.sdk().v1.checkout.sessions.retrieve(sid).cancel_url
    assert shop.emulator.pay(sid).status_code == 200
    page = browser.get(cancel_url, timeout=30)
    assert page.status_code == 200
    assert shop.wait_order(sid, lambda o: o["status"] == "paid")["reservation"] == "sold"
    assert shop.product(art["slug"])["available"] == 0
    assert "Kept" not in browser.get(f"{shop.url}/panier", timeout=10).text


@pytest.fixture
def chromium(chromium_path: str) -> Iterator[Browser]:
    """Debian's Chromium driven by Playwright."""
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.mark.browser
def test_cancel_in_chromium_shows_the_cart_again(shop: Shop, chromium: Browser,
                                                 artifacts_dir: Path) -> None:
    """In Chromium: cart, "Payer", Cancel on the pay page: back on the cart with the
    artwork, which is available again."""
    name = f"Annulé {uuid.uuid4().hex[:4]}"
    (art,) = shop.products({"slug": "cancel-ui", "name": name, "price": 5000, "stock": 1})
    page = chromium.new_page()
    page.goto(f"{shop.url}/produits/{art['slug']}")
    page.locator(f'[data-buy-for="{art["id"]}"]').get_by_role(
        "button", name="Ajouter au panier").click()
    expect(page.get_by_role("heading", name="Panier")).to_be_visible()
    page.fill("input[name=email]", "claude@example.com")
    page.get_by_role("button", name="Payer").click()
    page.wait_for_url(f"{shop.emulator.url}/pay/**")
    page.screenshot(path=str(artifacts_dir / "1-pay-page.png"), full_page=True)
    page.click("#cancel")
    page.wait_for_url(f"{shop.url}/panier*")
    expect(page.locator("table.cart")).to_contain_text(name)
    expect(page.get_by_text("Paiement annulé")).to_be_visible()
    page.screenshot(path=str(artifacts_dir / "2-cart-again.png"), full_page=True)
    assert shop.product(art["slug"])["available"] == 1


def test_api_cancel_of_a_pending_order_releases_it_at_once(shop: Shop) -> None:
    """``POST /api/orders/session/<id>/cancel`` by its customer (a headless shop's cancel
    page): the session is expired at Stripe, the order expired and its unit released;
    another customer gets 404 and changes nothing."""
    (art,) = shop.products({"slug": "cancel-api", "name": "Api", "price": 5000, "stock": 1})
    owner, other = shop.customer(), shop.customer()
    sid = shop.checkout([{"id": art["id"], "type": "product", "quantity": 1}],
                        owner["token"]).json()["session_id"]
    url = f"{shop.url}/api/orders/session/{sid}/cancel"
    theirs = requests.post(url, headers={"Authorization": f"Bearer {other['token']}"},
                           timeout=30)
    assert theirs.status_code == 404 and shop.product(art["slug"])["available"] == 0
    mine = requests.post(url, headers={"Authorization": f"Bearer {owner['token']}"},
                         timeout=30)
    assert mine.status_code == 200, mine.text
    assert (mine.json()["order"]["status"], mine.json()["order"]["reservation"]) == (
        "expired", "released")
    assert shop.emulator.sdk().v1.checkout.sessions.retrieve(sid).status == "expired"
    assert shop.product(art["slug"])["available"] == 1
