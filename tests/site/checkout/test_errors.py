"""Checkout when the site's Stripe set-up is missing or broken (README, "Selling": Checkout):
503 ``stripe_not_configured``, 502 ``stripe_auth_failed`` / ``stripe_unavailable`` with
the reservation released and the order failed, 401 without an account."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from stripefleet.common.processes import free_port
from tests.site.shop.harness import API_KEY, Emulator, Shop, fresh_database, start_shop

ITEM = {"type": "product", "quantity": 1}


@pytest.fixture
def bare(shop_db: str, emulator: Emulator, tmp_path: Path) -> Iterator[Shop]:
    """A site on a fresh database pointed at the emulator, with nothing pushed (accounts
    required)."""
    with fresh_database(shop_db, tmp_path) as url:
        site = start_shop(tmp_path, url, emulator, configure=False)
        yield site
        site.process.stop()


def test_checkout_without_account_is_401_unless_guest_checkout(bare: Shop) -> None:
    """Checkout requires an authenticated customer by default (the shop's Stripe
    configuration notes)."""
    (art,) = bare.products({"slug": "art", "name": "Art", "price": 100, "stock": 1})
    r = bare.checkout([{**ITEM, "id": art["id"]}])
    assert (r.status_code, r.json()["error"]) == (401, "authentication_required")


def test_no_secret_key_is_503_and_reserves_nothing(bare: Shop) -> None:
    """Without a secret key the site answers 503 ``stripe_not_configured``."""
    (art,) = bare.products({"slug": "art", "name": "Art", "price": 100, "stock": 1})
    r = bare.checkout([{**ITEM, "id": art["id"]}], bare.customer()["token"])
    assert (r.status_code, r.json()["error"]) == (503, "stripe_not_configured")
    assert bare.product(art["slug"])["available"] == 1


def _push(site: Shop, name: str, value: str) -> None:
    r = requests.put(f"{site.url}/api/export/settings/{name}", json={"value": value},
                     headers={"X-API-Key": API_KEY}, timeout=10)
    assert r.status_code == 200, r.text


def test_refused_key_is_502_auth_failed_and_releases_the_stock(bare: Shop) -> None:
    """A secret key Stripe refuses: 502 ``stripe_auth_failed``, the units come back."""
    _push(bare, "stripe_secret_key", "sk_test_unknownToTheEmulator123")
    (art,) = bare.products({"slug": "art", "name": "Art", "price": 100, "stock": 1})
    r = bare.checkout([{**ITEM, "id": art["id"]}], bare.customer()["token"])
    assert (r.status_code, r.json()["error"]) == (502, "stripe_auth_failed")
    assert bare.product(art["slug"])["available"] == 1


def test_unreachable_stripe_is_502_unavailable_and_releases_the_stock(
        shop_db: str, emulator: Emulator, tmp_path: Path) -> None:
    """Stripe unreachable (nothing listens at STRIPE_API_BASE): 502 ``stripe_unavailable``."""
    dead = Emulator(f"http://127.0.0.1:{free_port()}", emulator.secret_key,
                    emulator.publishable_key, emulator.process)
    with fresh_database(shop_db, tmp_path) as url:
        site = start_shop(tmp_path, url, dead, configure=False)
        _unreachable(site, emulator)


def _unreachable(site: Shop, emulator: Emulator) -> None:
    try:
        _push(site, "stripe_secret_key", emulator.secret_key)
        (art,) = site.products({"slug": "art", "name": "Art", "price": 100, "stock": 1})
        r = site.checkout([{**ITEM, "id": art["id"]}], site.customer()["token"])
        assert (r.status_code, r.json()["error"]) == (502, "stripe_unavailable")
        assert site.product(art["slug"])["available"] == 1
    finally:
        site.process.stop()
