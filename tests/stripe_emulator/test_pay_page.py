"""The hosted pay page in real Chromium (Playwright): success, decline, cancel, expiry
(``pay_page.py``). Plain sync tests: Playwright's sync API cannot run inside an event loop.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import stripe
from playwright.sync_api import Page, expect, sync_playwright

from tests.conftest import CHROMIUM_ARGS
from tests.stripe_emulator.conftest import Receiver, session_params

pytestmark = pytest.mark.browser


@pytest.fixture
def page(chromium_path: str) -> Iterator[Page]:
    """A fresh Chromium page."""
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        try:
            yield browser.new_page(viewport={"width": 1100, "height": 760})
        finally:
            browser.close()


@pytest.fixture
def shop_session(client: stripe.StripeClient, receiver: Receiver) -> Any:
    """A session whose success and cancel URLs are real pages of the test's receiver."""
    return client.v1.checkout.sessions.create(params=session_params(
        line_items=[
            {"price_data": {"currency": "eur", "unit_amount": 4500,
                            "product_data": {"name": "Oil painting"}}, "quantity": 1},
            {"price_data": {"currency": "eur", "unit_amount": 350,
                            "product_data": {"name": "Gift wrap"}}, "quantity": 2},
        ],
        success_url=f"{receiver.base_url}/landing/success?session_id={{CHECKOUT_SESSION_ID}}",
        cancel_url=f"{receiver.base_url}/landing/cancel",
    ))


def test_pay_with_4242_redirects_to_success(page: Page, client: stripe.StripeClient,
                                            shop_session: Any, receiver: Receiver,
                                            artifacts_dir: Path) -> None:
    """The page shows the items and total; 4242... pays and lands on ``success_url`` with
    the session id; the session is then complete and paid."""
    page.goto(shop_session.url)
    expect(page.locator(".line-item")).to_have_count(2)
    expect(page.locator("#line-items")).to_contain_text("Oil painting")
    expect(page.locator("#total")).to_have_text("€52.00")
    page.fill("#card-number", "4242 4242 4242 4242")
    page.screenshot(path=str(artifacts_dir / "pay-page-filled.png"), full_page=True)
    page.click("#pay")
    page.wait_for_url(f"{receiver.base_url}/landing/success?session_id={shop_session.id}")
    expect(page.locator("#landing")).to_have_text("success")
    page.screenshot(path=str(artifacts_dir / "after-success.png"))
    session = client.v1.checkout.sessions.retrieve(shop_session.id)
    assert (session.status, session.payment_status) == ("complete", "paid")


@pytest.mark.parametrize(("card", "message"), [
    ("4000 0000 0000 0002", "Your card was declined."),
    ("4111 1111 1111 1112", "Your card number is incorrect."),
], ids=["declined", "incorrect_number"])
def test_refused_card_shows_stripe_message(page: Page, client: stripe.StripeClient,
                                           shop_session: Any, artifacts_dir: Path,
                                           card: str, message: str) -> None:
    """A declined card or a wrong number shows Stripe's message; the session stays open."""
    page.goto(shop_session.url)
    page.fill("#card-number", card)
    page.click("#pay")
    expect(page.locator("#card-error")).to_have_text(message)
    page.screenshot(path=str(artifacts_dir / "refused.png"), full_page=True)
    assert page.url == shop_session.url
    assert client.v1.checkout.sessions.retrieve(shop_session.id).status == "open"


def test_cancel_returns_to_cancel_url(page: Page, client: stripe.StripeClient,
                                      shop_session: Any, receiver: Receiver) -> None:
    """Cancel goes back to ``cancel_url``; the session stays open."""
    page.goto(shop_session.url)
    page.click("#cancel")
    page.wait_for_url(f"{receiver.base_url}/landing/cancel")
    assert client.v1.checkout.sessions.retrieve(shop_session.id).status == "open"


def test_expired_session_offers_no_payment(page: Page, client: stripe.StripeClient,
                                           shop_session: Any, artifacts_dir: Path) -> None:
    """An expired session's page says so and has no Pay button."""
    client.v1.checkout.sessions.expire(shop_session.id)
    page.goto(shop_session.url)
    expect(page.locator("#expired")).to_contain_text("expired")
    expect(page.locator("#pay")).to_have_count(0)
    page.screenshot(path=str(artifacts_dir / "expired.png"))


def test_unknown_session_is_a_404_page(page: Page, client: stripe.StripeClient,
                                       shop_session: Any) -> None:
    """An unknown session id answers a 404 page."""
    response = page.goto(shop_session.url.replace(shop_session.id, "cs_test_unknown"))
    assert response is not None and response.status == 404
    expect(page.locator("#unknown")).to_be_visible()
