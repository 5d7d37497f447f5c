"""``POST /api/test-stripe`` and what ``GET /api/health/stripe`` shows of it, against
real site processes (SQLite and PostgreSQL) whose Stripe is a real emulator.

Source of each rule: README, "A site" (the troubleshooting guide: a key must be "not
only saved but also functional"; never mix test and live).
"""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid

import requests

from stripefleet.common.keys import fingerprint
from stripefleet.common.processes import free_port
from tests.site.conftest import RunningSite, StartSite
from tests.site.shop.harness import Emulator, sign
from tests.site.stripe_check.conftest import Pair, check, new_pair

#: A well-formed secret key Stripe (the emulator) has never issued.
BOGUS_SK = "sk_test_51BoGuSkEyNeVeRiSsUeD0123456789abcdwxyz"


def _error(resp: requests.Response, status: int, code: str) -> None:
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert body["success"] is False and body["error"] == code, body
    assert body["message"]


def _parse(value: str) -> dt.datetime:
    assert value.endswith("Z"), value
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


def test_a_working_key_answers_its_account_and_modes(stripe_site: RunningSite,
                                                     pair: Pair) -> None:
    """With the emulator's pair set, 200 gives the key's account, test mode, the key's
    fingerprint, the publishable key's mode, consistency and the check's time (UTC)."""
    stripe_site.set("stripe_secret_key", pair.secret_key)
    stripe_site.set("stripe_publishable_key", pair.publishable_key)
    before = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    resp = check(stripe_site)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert {k: v for k, v in body.items() if k != "checked_at"} == {
        "success": True, "account_id": pair.account, "livemode": False,
        "secret_key_fingerprint": fingerprint(pair.secret_key),
        "publishable_key_mode": "test", "mode_consistent": True,
        "last_webhook_verified_at": None,
    }
    assert _parse(body["checked_at"]) >= before


def test_the_answer_never_holds_the_secret_key(stripe_site: RunningSite, pair: Pair) -> None:
    """Neither the success answer nor a failure's holds the secret key, and the site's
    log never does either."""
    stripe_site.set("stripe_secret_key", pair.secret_key)
    ok = check(stripe_site)
    stripe_site.set("stripe_secret_key", BOGUS_SK)
    refused = check(stripe_site)
    assert (ok.status_code, refused.status_code) == (200, 502)
    for text in (ok.text, refused.text):
        assert pair.secret_key not in text and BOGUS_SK not in text
    log = stripe_site.log_text()
    assert pair.secret_key not in log and BOGUS_SK not in log


def test_no_secret_key_is_409(stripe_site: RunningSite) -> None:
    """A site without a secret key answers 409 ``secret_key_not_configured``."""
    stripe_site.set("stripe_publishable_key", "pk_test_51OnlyPublishable0123")
    _error(check(stripe_site), 409, "secret_key_not_configured")


def test_a_wrong_api_key_is_401(stripe_site: RunningSite) -> None:
    """The endpoint needs the fleet's ``X-API-Key``, as the settings API."""
    _error(check(stripe_site, api_key="not-the-fleet-key-0000"), 401, "invalid_api_key")
    _error(check(stripe_site, api_key=None), 401, "invalid_api_key")


def test_a_key_stripe_does_not_know_is_stripe_auth_failed(stripe_site: RunningSite) -> None:
    """A well-formed key Stripe refuses (401) is 502 ``stripe_auth_failed``."""
    stripe_site.set("stripe_secret_key", BOGUS_SK)
    _error(check(stripe_site), 502, "stripe_auth_failed")


def test_an_expired_key_is_api_key_expired(stripe_site: RunningSite, pair: Pair,
                                           emulator: Emulator) -> None:
    """A key expired on Stripe's side (the emulator's control API) is 502
    ``api_key_expired``, not the generic ``stripe_auth_failed``."""
    stripe_site.set("stripe_secret_key", pair.secret_key)
    assert check(stripe_site).status_code == 200
    r = requests.post(f"{emulator.url}/_emulator/keys/{pair.secret_key}/expire", timeout=10)
    assert r.status_code == 200, r.text
    _error(check(stripe_site), 502, "api_key_expired")


def test_an_unreachable_stripe_is_503_with_retry_after(start_site: StartSite,
                                                       pair: Pair) -> None:
    """When Stripe does not answer (nothing listens at ``STRIPE_API_BASE``), 503
    ``stripe_unreachable`` with a ``Retry-After`` in seconds."""
    site = start_site(env={"STRIPE_API_BASE": f"http://127.0.0.1:{free_port()}"})
    site.set("stripe_secret_key", pair.secret_key)
    resp = check(site)
    _error(resp, 503, "stripe_unreachable")
    assert int(resp.headers["Retry-After"]) > 0


def test_keys_of_different_modes_are_not_mode_consistent(stripe_site: RunningSite,
                                                         pair: Pair) -> None:
    """A test secret key with a live publishable key: the check passes (the secret key
    works) but says ``mode_consistent`` false and the publishable key's mode."""
    stripe_site.set("stripe_secret_key", pair.secret_key)
    stripe_site.set("stripe_publishable_key", "pk_live_51LiveLookingKey0123456789")
    body = check(stripe_site).json()
    assert (body["success"], body["livemode"]) == (True, False)
    assert (body["publishable_key_mode"], body["mode_consistent"]) == ("live", False)


def test_without_a_publishable_key_the_modes_are_consistent(stripe_site: RunningSite,
                                                            pair: Pair) -> None:
    """No publishable key: ``publishable_key_mode`` null and ``mode_consistent`` true."""
    stripe_site.set("stripe_secret_key", pair.secret_key)
    body = check(stripe_site).json()
    assert (body["publishable_key_mode"], body["mode_consistent"]) == (None, True)


def test_a_live_key_answers_livemode(stripe_site: RunningSite, emulator: Emulator) -> None:
    """A live pair (the emulator's ``mode=live``) answers ``livemode`` true, consistent
    with its live publishable key."""
    live = new_pair(emulator, mode="live")
    assert live.secret_key.startswith("sk_live_")
    stripe_site.set("stripe_secret_key", live.secret_key)
    stripe_site.set("stripe_publishable_key", live.publishable_key)
    body = check(stripe_site).json()
    assert (body["account_id"], body["livemode"]) == (live.account, True)
    assert (body["publishable_key_mode"], body["mode_consistent"]) == ("live", True)


def test_the_eleventh_check_in_a_minute_is_rate_limited(stripe_site: RunningSite,
                                                        pair: Pair) -> None:
    """Ten checks a minute per client pass; the eleventh is 429 ``rate_limited`` with
    ``Retry-After`` (each check spends Stripe's rate limit)."""
    stripe_site.set("stripe_secret_key", pair.secret_key)
    statuses = [check(stripe_site).status_code for _ in range(10)]
    assert statuses == [200] * 10
    resp = check(stripe_site)
    _error(resp, 429, "rate_limited")
    assert 0 < int(resp.headers["Retry-After"]) <= 60


def test_the_last_verified_webhook_is_the_inbox_newest_event(stripe_site: RunningSite,
                                                              pair: Pair) -> None:
    """``last_webhook_verified_at`` is null with an empty inbox, then the time the site
    stored its newest signed event."""
    secret = "whsec_StripeCheckTest0123456789"
    stripe_site.set("stripe_secret_key", pair.secret_key)
    stripe_site.set("stripe_webhook_secret", secret)
    assert check(stripe_site).json()["last_webhook_verified_at"] is None
    before = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    payload = json.dumps({"id": f"evt_{uuid.uuid4().hex[:16]}", "object": "event",
                          "type": "customer.created", "livemode": False,
                          "created": int(time.time()),
                          "data": {"object": {"id": "cus_1", "object": "customer"}}})
    r = requests.post(f"{stripe_site.url}/api/webhook/stripe/", data=payload.encode(),
                      headers={"Content-Type": "application/json",
                               "Stripe-Signature": sign(payload, secret)}, timeout=10)
    assert r.status_code == 200, r.text
    after = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1)
    verified = check(stripe_site).json()["last_webhook_verified_at"]
    assert verified is not None and before <= _parse(verified) <= after


def test_health_shows_nothing_before_any_check(stripe_site: RunningSite, pair: Pair) -> None:
    """``GET /api/health/stripe`` has ``account_id`` and ``checked_at`` null until the
    first check, even with a key set (it never calls Stripe itself)."""
    stripe_site.set("stripe_secret_key", pair.secret_key)
    body = stripe_site.get("/api/health/stripe").json()
    assert (body["account_id"], body["checked_at"], body["check_outcome"]) == (None, None, None)


def test_health_shows_the_last_check(stripe_site: RunningSite, pair: Pair) -> None:
    """After a check, health gives its account, mode, time and outcome."""
    stripe_site.set("stripe_secret_key", pair.secret_key)
    checked = check(stripe_site).json()
    body = stripe_site.get("/api/health/stripe").json()
    assert body["account_id"] == checked["account_id"] == pair.account
    assert body["checked_at"] == checked["checked_at"]
    assert (body["livemode"], body["check_outcome"]) == (False, "ok")


def test_health_keeps_the_account_after_a_failed_check(stripe_site: RunningSite, pair: Pair,
                                                       emulator: Emulator) -> None:
    """A failed check of the same key updates ``checked_at`` and ``check_outcome`` but
    keeps the account the key belongs to."""
    stripe_site.set("stripe_secret_key", pair.secret_key)
    first = check(stripe_site).json()
    requests.post(f"{emulator.url}/_emulator/keys/{pair.secret_key}/expire",
                  timeout=10).raise_for_status()
    assert check(stripe_site).status_code == 502
    body = stripe_site.get("/api/health/stripe").json()
    assert (body["account_id"], body["check_outcome"]) == (pair.account, "api_key_expired")
    assert _parse(body["checked_at"]) >= _parse(first["checked_at"])


def test_health_forgets_the_account_when_the_key_changes(stripe_site: RunningSite,
                                                         pair: Pair) -> None:
    """Once another secret key is pushed, the checked account (the old key's) is no
    longer shown: ``account_id`` null until the new key is checked."""
    stripe_site.set("stripe_secret_key", pair.secret_key)
    assert check(stripe_site).status_code == 200
    stripe_site.set("stripe_secret_key", BOGUS_SK)
    assert stripe_site.get("/api/health/stripe").json()["account_id"] is None
