"""``POST /api/webhook/stripe/`` (alias ``/api/webhooks/stripe``): signed events from a
real emulator change orders and stock exactly once (README, "Selling": Webhooks)."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import pytest
import requests

from tests.site.shop.harness import DECLINED_CARD, Shop, sign


def _buy(shop: Shop, stock: int = 1, quantity: int = 1,
         token: str | None = None) -> tuple[dict[str, Any], str]:
    """A product and a pending order for it (a guest's unless ``token`` is given)."""
    (art,) = shop.products({"slug": "art", "name": "Art", "price": 9900, "stock": stock})
    r = shop.checkout([{"id": art["id"], "type": "product", "quantity": quantity}], token)
    assert r.status_code == 200, r.text
    return art, r.json()["session_id"]


def test_paid_session_marks_the_order_paid_and_the_artwork_sold(shop: Shop) -> None:
    """Register, checkout, pay on the emulator: the signed webhook makes the order paid
    and the unique artwork sold (``inStock`` false, ``soldOut`` true)."""
    art, sid = _buy(shop, token=shop.customer()["token"])
    assert shop.emulator.pay(sid).status_code == 200
    order = shop.wait_order(sid, lambda o: o["status"] != "pending")
    assert (order["status"], order["reservation"]) == ("paid", "sold")
    product = shop.product(art["slug"])
    assert (product["inStock"], product["soldOut"]) == (False, True)


def test_declined_card_records_the_failure_and_keeps_the_reservation(shop: Shop) -> None:
    """A declined attempt is recorded on the order; the order stays pending, the stock
    stays reserved, and a later successful payment still marks it paid."""
    art, sid = _buy(shop)
    assert shop.emulator.pay(sid, DECLINED_CARD).status_code == 402
    order = shop.wait_order(sid, lambda o: o["payment_error"] is not None)
    assert order["status"] == "pending" and order["payment_error"]
    assert shop.product(art["slug"])["available"] == 0
    assert shop.emulator.pay(sid).status_code == 200
    assert shop.wait_order(sid, lambda o: o["status"] == "paid")["status"] == "paid"


def test_duplicate_deliveries_change_nothing(shop: Shop) -> None:
    """Resent events (the emulator's resend) leave one sale: sold stays at the quantity."""
    art, sid = _buy(shop, stock=5, quantity=2)
    shop.emulator.pay(sid)
    shop.wait_order(sid, lambda o: o["status"] == "paid")
    events = shop.emulator.events_for(sid)
    for event in events:
        shop.emulator.resend(event["id"])
    completed = next(e for e in events if e["type"] == "checkout.session.completed")
    deadline = time.monotonic() + 20
    while len([d for d in shop.emulator.deliveries(event_id=completed["id"])
               if d["succeeded"]]) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    product = shop.product(art["slug"])
    assert (product["available"], shop.order(sid)["status"]) == (3, "paid")


def test_second_post_of_an_event_answers_duplicate(shop: Shop) -> None:
    """The inbox keys on the event id: the same signed event again is acknowledged as a
    duplicate."""
    _, sid = _buy(shop)
    shop.emulator.pay(sid)
    # Not the order's status: payment_intent.succeeded, delivered alongside, may pay it
    # while this event is still on its way (then the post below would be its first).
    shop.wait_delivered("checkout.session.completed", sid)
    event = next(e for e in shop.emulator.events_for(sid)
                 if e["type"] == "checkout.session.completed")
    payload = json.dumps(event)
    r = shop.post_event(payload, sign(payload, shop.webhook_secret))
    assert (r.status_code, r.json()["status"]) == (200, "duplicate")


def _forged_completion(shop: Shop, sid: str) -> str:
    session = shop.emulator.sdk().v1.checkout.sessions.retrieve(sid).to_dict()
    session.update(status="complete", payment_status="paid")
    return json.dumps({"id": f"evt_{uuid.uuid4().hex[:24]}", "object": "event",
                       "type": "checkout.session.completed", "livemode": False,
                       "created": int(time.time()), "data": {"object": session}})


@pytest.mark.parametrize("signature", ["forged", "stale", "missing", "garbage"])
def test_bad_signature_is_400_and_changes_nothing(shop: Shop, signature: str) -> None:
    """A forged, stale (over 300 s), missing or malformed signature: 400, order unpaid."""
    art, sid = _buy(shop)
    payload = _forged_completion(shop, sid)
    header = {"forged": sign(payload, "whsec_notTheSitesSecret"),
              "stale": sign(payload, shop.webhook_secret, int(time.time()) - 301),
              "missing": None, "garbage": "t=abc,v1=zz"}[signature]
    r = shop.post_event(payload, header)
    assert (r.status_code, r.json()["error"]) == (400, "invalid_signature")
    assert shop.order(sid)["status"] == "pending"
    assert shop.product(art["slug"])["soldOut"] is False


def test_alias_path_accepts_signed_events(shop: Shop) -> None:
    """The webhook and stock notes' ``/api/webhooks/stripe`` is the same receiver."""
    _, sid = _buy(shop)
    payload = _forged_completion(shop, sid)
    r = requests.post(f"{shop.url}/api/webhooks/stripe", data=payload.encode(),
                      headers={"Stripe-Signature": sign(payload, shop.webhook_secret),
                               "Content-Type": "application/json"}, timeout=10)
    assert (r.status_code, r.json()["status"]) == (200, "processed")
    assert shop.order(sid)["status"] == "paid"


def test_event_for_another_sites_session_is_ignored(shop: Shop) -> None:
    """One Stripe account can serve several sites: a session this site did not create is
    acknowledged (200) and recorded as ignored."""
    session = {"id": f"cs_test_{uuid.uuid4().hex}", "object": "checkout.session",
               "payment_status": "paid", "amount_total": 100, "currency": "eur",
               "metadata": {"order_id": "1", "order_ref": uuid.uuid4().hex,
                            "site": "another-site"}}
    payload = json.dumps({"id": f"evt_{uuid.uuid4().hex[:24]}", "object": "event",
                          "type": "checkout.session.completed",
                          "data": {"object": session}})
    r = shop.post_event(payload, sign(payload, shop.webhook_secret))
    assert (r.status_code, r.json()["status"]) == (200, "ignored")


def test_amount_mismatch_flags_the_order_instead_of_paying_it(shop: Shop) -> None:
    """An event whose amount differs from the order's is not taken as a payment."""
    _, sid = _buy(shop)
    event = json.loads(_forged_completion(shop, sid))
    event["data"]["object"]["amount_total"] = 1
    payload = json.dumps(event)
    assert shop.post_event(payload, sign(payload, shop.webhook_secret)).status_code == 200
    order = shop.order(sid)
    assert order["status"] == "pending"
    assert order["review_reason"].startswith("amount_mismatch")


def test_late_failure_never_undoes_a_paid_order(shop: Shop) -> None:
    """``async_payment_failed`` after the payment leaves the order paid and the sale."""
    art, sid = _buy(shop)
    shop.emulator.pay(sid)
    shop.wait_order(sid, lambda o: o["status"] == "paid")
    event = json.loads(_forged_completion(shop, sid))
    event["type"] = "checkout.session.async_payment_failed"
    payload = json.dumps(event)
    assert shop.post_event(payload, sign(payload, shop.webhook_secret)).status_code == 200
    assert shop.order(sid)["status"] == "paid"
    assert shop.product(art["slug"])["soldOut"] is True


def test_refund_marks_the_paid_order_refunded(shop: Shop) -> None:
    """``charge.refunded`` (a refund through the SDK) moves ``paid -> refunded``."""
    _, sid = _buy(shop)
    shop.emulator.pay(sid)
    order = shop.wait_order(sid, lambda o: o["status"] == "paid")
    intent = shop.emulator.sdk().v1.checkout.sessions.retrieve(sid).payment_intent
    shop.emulator.sdk().v1.refunds.create(params={"payment_intent": intent})
    order = shop.wait_order(sid, lambda o: o["status"] == "refunded")
    assert order["status"] == "refunded"


@pytest.mark.parametrize("kind", ["checkout.session.completed", "payment_intent.succeeded"])
def test_concurrent_deliveries_of_one_event_process_it_once(shop: Shop, kind: str) -> None:
    """Ten simultaneous deliveries of the same event id: one ``processed``, nine
    ``duplicate``, one sale."""
    from concurrent.futures import ThreadPoolExecutor

    art, sid = _buy(shop, stock=3)
    event = json.loads(_forged_completion(shop, sid))
    if kind == "payment_intent.succeeded":
        session = event["data"]["object"]
        event["data"]["object"] = {
            "id": f"pi_{uuid.uuid4().hex[:24]}", "object": "payment_intent",
            "amount": session["amount_total"], "amount_received": session["amount_total"],
            "currency": session["currency"], "status": "succeeded",
            "metadata": session["metadata"]}
    event["type"] = kind
    payload = json.dumps(event)
    header = sign(payload, shop.webhook_secret)
    with ThreadPoolExecutor(max_workers=10) as pool:
        answers = list(pool.map(lambda _: shop.post_event(payload, header), range(10)))
    statuses = sorted(a.json()["status"] for a in answers)
    assert statuses == ["duplicate"] * 9 + ["processed"]
    assert shop.order(sid)["status"] == "paid"
    assert (shop.product(art["slug"])["available"], shop.product(art["slug"])["stock"]) == (2, 3)


def test_event_signed_with_the_previous_secret_is_accepted_after_a_rotation(
        shop: Shop) -> None:
    """During a rotation, events Stripe signed with the previous webhook signing secret
    still verify (the current and the previous secret are both tried)."""
    from tests.site.shop.harness import API_KEY

    _, sid = _buy(shop)
    old = shop.webhook_secret
    new = f"whsec_rotated{uuid.uuid4().hex}"
    for value in (new, old):  # rotate, then back, so the module's endpoint keeps working
        r = requests.put(f"{shop.url}/api/export/settings/stripe_webhook_secret",
                         json={"value": value}, headers={"X-API-Key": API_KEY}, timeout=10)
        assert r.status_code == 200
        payload = _forged_completion(shop, sid)
        previous = old if value == new else new
        assert shop.post_event(payload, sign(payload, previous)).status_code == 200


def test_malformed_event_is_400_kept_on_the_inbox_row_and_shown(shop: Shop) -> None:
    """A signed event its handler cannot read (no ``data.object.id``) answers 400
    ``malformed_event`` on every delivery, never 500; it is kept once in the inbox as
    ``malformed`` with the reason, shown to the owner."""
    import re

    event_id = f"evt_broken{uuid.uuid4().hex[:12]}"
    payload = json.dumps({"id": event_id, "object": "event",
                          "type": "checkout.session.expired",
                          "data": {"object": {"object": "checkout.session"}}})
    for _ in range(2):
        r = shop.post_event(payload, sign(payload, shop.webhook_secret))
        assert (r.status_code, r.json()["error"]) == (400, "malformed_event")
    email = f"owner-{uuid.uuid4().hex[:6]}@example.com"
    assert shop.cli("create-owner", "--email", email, "--password-stdin",
                    stdin="owner-password\n").returncode == 0
    page = shop.browser_login(email, "owner-password").get(
        f"{shop.url}/admin/evenements", timeout=10).text
    row = re.search(rf"{event_id}.*?</tr>", page, re.S)
    assert row is not None
    assert "malformed" in row.group(0) and "data.object.id" in row.group(0)


@pytest.mark.parametrize(("outcome", "status", "available"), [
    ("checkout.session.async_payment_succeeded", "paid", 0),
    ("checkout.session.async_payment_failed", "failed", 1),
])
def test_unpaid_completion_waits_for_the_async_payment(
        shop: Shop, outcome: str, status: str, available: int) -> None:
    """``completed`` with ``payment_status`` ``unpaid`` (a delayed method) leaves the order
    pending; the async outcome then pays it, or fails it and gives the stock back."""
    art, sid = _buy(shop)
    event = json.loads(_forged_completion(shop, sid))
    event["data"]["object"]["payment_status"] = "unpaid"
    payload = json.dumps(event)
    assert shop.post_event(payload, sign(payload, shop.webhook_secret)).status_code == 200
    assert shop.order(sid)["status"] == "pending"
    event.update(id=f"evt_{uuid.uuid4().hex[:24]}", type=outcome)
    event["data"]["object"]["payment_status"] = "paid" if status == "paid" else "unpaid"
    payload = json.dumps(event)
    assert shop.post_event(payload, sign(payload, shop.webhook_secret)).status_code == 200
    assert shop.order(sid)["status"] == status
    assert shop.product(art["slug"])["available"] == available
