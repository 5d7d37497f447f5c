"""Checkout works when the site's clock is behind Stripe's (README, "Selling":
Checkout): ``expires_at`` keeps a 5-minute margin over Stripe's 30-minute minimum, and
one refusal of ``expires_at`` is retried once with a later end, which the order's
reservation then follows.

Its own module: it moves the emulator's clock (Stripe's), for every session after it.
"""

from __future__ import annotations

import datetime as dt

from tests.site.shop.harness import Shop


def test_site_clock_a_minute_behind_stripe_still_checks_out(shop: Shop) -> None:
    """Stripe's clock 60 s ahead of the site's: the session is created (the margin
    absorbs it)."""
    (art,) = shop.products({"slug": "skew", "name": "Skew", "price": 1000, "stock": 1})
    shop.emulator.advance(60)
    r = shop.checkout([{"id": art["id"], "type": "product", "quantity": 1}])
    assert r.status_code == 200, r.text


def test_site_clock_ten_minutes_behind_stripe_is_retried_once(shop: Shop) -> None:
    """Stripe's clock 10 minutes ahead: Stripe refuses the first ``expires_at``, the site
    retries once with a later one, and the order's ``expires_at`` is the session's."""
    (art,) = shop.products({"slug": "skew10", "name": "Skew", "price": 1000, "stock": 1})
    shop.emulator.advance(10 * 60)
    r = shop.checkout([{"id": art["id"], "type": "product", "quantity": 1}])
    assert r.status_code == 200, r.text
    sid = r.json()["session_id"]
    session = shop.emulator.sdk().v1.checkout.sessions.retrieve(sid)
    expires = dt.datetime.fromisoformat(shop.order(sid)["expires_at"].replace("Z", "+00:00"))
    assert int(expires.timestamp()) == session.expires_at
