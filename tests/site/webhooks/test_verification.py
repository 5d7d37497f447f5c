"""The site's signature check gives ``stripe.Webhook.construct_event``'s verdict on
every kind of header: it is the SDK's ``WebhookSignature.verify_header``, without the
Event object construct_event builds and the site would discard (services module doc)."""

from __future__ import annotations

import json
import time

import pytest
import stripe

from stripefleet.site.webhooks.services import TOLERANCE, verifies
from tests.site.shop.harness import sign

SECRET = "whsec_verificationTest0123456789"
PAYLOAD = json.dumps({"id": "evt_1", "object": "event", "type": "checkout.session.completed",
                      "data": {"object": {"id": "cs_test_1", "object": "checkout.session"}}})
NOW = int(time.time())
GOOD = sign(PAYLOAD, SECRET, NOW)
GOOD_V1 = GOOD.split("v1=")[1]

HEADERS = {
    "valid": GOOD,
    "valid, one of two v1 signatures": f"t={NOW},v1={'0' * 64},v1={GOOD_V1}",
    "valid, with a v0 scheme too": f"{GOOD},v0={'1' * 64}",
    "signed with another secret": sign(PAYLOAD, "whsec_someoneElse0123", NOW),
    "stale": sign(PAYLOAD, SECRET, NOW - TOLERANCE - 5),
    "just inside the tolerance": sign(PAYLOAD, SECRET, NOW - TOLERANCE + 30),
    "timestamp altered": f"t={NOW + 1},v1={GOOD_V1}",
    "no timestamp": f"v1={GOOD_V1}",
    "no v1 signature": f"t={NOW},v0={GOOD_V1}",
    "empty": "",
    "garbage": "not a signature header",
    "upper-case hex": f"t={NOW},v1={GOOD_V1.upper()}",
}


@pytest.mark.parametrize("header", list(HEADERS.values()), ids=list(HEADERS))
@pytest.mark.parametrize("body", ["as signed", "tampered"])
def test_verdict_matches_construct_event(header: str, body: str) -> None:
    payload = PAYLOAD if body == "as signed" else PAYLOAD.replace("cs_test_1", "cs_test_2")
    try:
        stripe.Webhook.construct_event(payload, header, SECRET, tolerance=TOLERANCE)
        sdk = True
    except stripe.SignatureVerificationError:
        sdk = False
    assert verifies(payload, header, SECRET) is sdk


def test_the_cases_cover_both_verdicts() -> None:
    """The table above holds headers the SDK accepts and headers it refuses."""
    verdicts = {name: verifies(PAYLOAD, h, SECRET) for name, h in HEADERS.items()}
    assert verdicts["valid"] and verdicts["just inside the tolerance"]
    assert not verdicts["stale"] and not verdicts["signed with another secret"]
