"""The storefront in real Chromium (README, "Selling": "Pages"): catalogue, cart, the
emulator's pay page, the success page, and "Vendu" reaching a second open page without a
reload. Screenshots are kept in ``test-artifacts/<test>/``."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect, sync_playwright

from tests.conftest import CHROMIUM_ARGS
from tests.site.shop.harness import SUCCESS_CARD, Shop

pytestmark = pytest.mark.browser


@pytest.fixture
def browser(chromium_path: str) -> Iterator[Browser]:
    """Debian's Chromium driven by Playwright."""
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def test_buy_flow_sells_the_artwork_and_every_open_page_shows_vendu(
        shop: Shop, browser: Browser, artifacts_dir: Path) -> None:
    """Register, add the artwork to the cart, pay on the emulator's page: the success page
    turns to "paid", and a product page and a catalogue opened before show "Vendu"
    instead of the button, without a reload."""
    name = f"Nymphéas {uuid.uuid4().hex[:4]}"
    (art,) = shop.products({"slug": "nympheas", "name": name, "price": 250000, "stock": 1,
                            "description": "Huile sur toile"})
    watcher = browser.new_page()
    watcher.goto(f"{shop.url}/produits/{art['slug']}")
    watch_box = watcher.locator(f'[data-buy-for="{art["id"]}"]')
    expect(watch_box.get_by_role("button", name="Ajouter au panier")).to_be_visible()
    catalogue = browser.new_page()
    catalogue.goto(f"{shop.url}/")
    catalogue_box = catalogue.locator(f'[data-buy-for="{art["id"]}"]')
    expect(catalogue_box.get_by_role("button", name="Ajouter au panier")).to_be_visible()

    buyer = browser.new_page()
    buyer.goto(f"{shop.url}/compte/inscription")
    buyer.fill("input[name=email]", f"buyer-{uuid.uuid4().hex[:6]}@example.com")
    buyer.fill("input[name=password]", "correct horse")
    buyer.get_by_role("button", name="Créer un compte").click()
    expect(buyer.get_by_role("heading", name="Catalogue")).to_be_visible()
    buyer.screenshot(path=str(artifacts_dir / "1-catalogue.png"), full_page=True)

    card = buyer.locator(f'li[data-product-id="{art["id"]}"]')
    card.get_by_role("button", name="Ajouter au panier").click()
    expect(buyer.get_by_role("heading", name="Panier")).to_be_visible()
    expect(buyer.locator("table.cart")).to_contain_text(name)
    buyer.fill("input[name=firstName]", "Claude")
    buyer.screenshot(path=str(artifacts_dir / "2-cart.png"), full_page=True)
    buyer.get_by_role("button", name="Payer").click()

    buyer.wait_for_url(f"{shop.emulator.url}/pay/**")
    buyer.screenshot(path=str(artifacts_dir / "3-pay-page.png"), full_page=True)
    buyer.fill("#card-number", SUCCESS_CARD)
    buyer.click("#pay")

    buyer.wait_for_url(f"{shop.url}/commande/succes?session_id=*")
    expect(buyer.get_by_text("Paiement reçu : votre commande est confirmée.")).to_be_visible(
        timeout=15_000)
    buyer.screenshot(path=str(artifacts_dir / "4-success.png"), full_page=True)

    expect(watch_box.get_by_text("Vendu")).to_be_visible(timeout=10_000)
    expect(watch_box.get_by_role("button", name="Ajouter au panier")).to_be_hidden()
    watcher.screenshot(path=str(artifacts_dir / "5-second-page-vendu.png"), full_page=True)
    expect(catalogue_box.get_by_text("Vendu")).to_be_visible(timeout=10_000)
    catalogue.screenshot(path=str(artifacts_dir / "6-open-catalogue-vendu.png"),
                         full_page=True)
