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


def headers(now: int) -> dict[str, str]:
    """Every kind of ``Stripe-Signature`` header, signed at ``now`` (made when a test
    runs: a header made at collection would go stale in a long session)."""
    good = sign(PAYLOAD, SECRET, now)
    v1 = good.split("v1=")[1]
    return {
        "valid": good,
        "valid, one of two v1 signatures": f"t={now},v1={'0' * 64},v1={v1}",
        "valid, with a v0 scheme too": f"{good},v0={'1' * 64}",
        "signed with another secret": sign(PAYLOAD, "whsec_someoneElse0123", now),
        "stale": sign(PAYLOAD, SECRET, now - TOLERANCE - 5),
        "just inside the tolerance": sign(PAYLOAD, SECRET, now - TOLERANCE + 30),
        "timestamp altered": f"t={now + 1},v1={v1}",
        "no timestamp": f"v1={v1}",
        "no v1 signature": f"t={now},v0={v1}",
        "empty": "",
        "garbage": "not a signature header",
        "upper-case hex": f"t={now},v1={v1.upper()}",
    }


KINDS = list(headers(0))


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("body", ["as signed", "tampered"])
def test_verdict_matches_construct_event(kind: str, body: str) -> None:
    header = headers(int(time.time()))[kind]
    payload = PAYLOAD if body == "as signed" else PAYLOAD.replace("cs_test_1", "cs_test_2")
    try:
        stripe.Webhook.construct_event(payload, header, SECRET, tolerance=TOLERANCE)
        sdk = True
    except stripe.SignatureVerificationError:
        sdk = False
    assert verifies(payload, header, SECRET) is sdk


def test_the_cases_cover_both_verdicts() -> None:
    """The table above holds headers the SDK accepts and headers it refuses."""
    verdicts = {name: verifies(PAYLOAD, h, SECRET)
                for name, h in headers(int(time.time())).items()}
    assert verdicts["valid"] and verdicts["just inside the tolerance"]
    assert not verdicts["stale"] and not verdicts["signed with another secret"]
