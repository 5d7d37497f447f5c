"""The Checkout Session's life follows ``SITE_RESERVATION_MINUTES`` within Stripe's
bounds (``expires_at`` 30 minutes to 24 hours after creation)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.site.shop.harness import Emulator, fresh_database, start_shop


@pytest.mark.parametrize("minutes", [30, 1440])
def test_session_expires_after_the_reservation_minutes(
        shop_db: str, emulator: Emulator, tmp_path: Path, minutes: int) -> None:
    """Both ends of the setting's range give a session Stripe accepts, ending about
    ``minutes`` from now, plus the 5-minute margin for clocks, within Stripe's 24 hours
    (the reservation ends with it)."""
    with fresh_database(shop_db, tmp_path) as url:
        site = start_shop(tmp_path, url, emulator,
                          env={"SITE_GUEST_CHECKOUT": "1",
                               "SITE_RESERVATION_MINUTES": str(minutes)})
        try:
            (art,) = site.products({"slug": "art", "name": "Art", "price": 100, "stock": 1})
            r = site.checkout([{"id": art["id"], "type": "product", "quantity": 1}])
            assert r.status_code == 200, r.text
            session = emulator.sdk().v1.checkout.sessions.retrieve(r.json()["session_id"])
            expected = min(minutes * 60 + 300, 24 * 3600 - 60)
            assert abs(session.expires_at - (time.time() + expected)) < 120
        finally:
            site.process.stop()
