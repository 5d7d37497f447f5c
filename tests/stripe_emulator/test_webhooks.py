"""Signed webhook deliveries: verified by the SDK, retried, duplicated on resend, off the
request path, out of order on demand (``webhooks.py``)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

import pytest
import stripe

from stripefleet.stripe_emulator import EmulatorError
from tests.stripe_emulator.conftest import (
    Receiver,
    RunningEmulator,
    session_params,
    wait_deliveries,
)


def paid_session(emulator: RunningEmulator, new_session: Callable[..., Any]) -> Any:
    """A session paid with 4242..., returned as created."""
    session = new_session()
    emulator.control.pay(session.id)
    return session


def test_delivery_verifies_with_construct_event(
        emulator: RunningEmulator, receiver: Receiver, hook: str,
        endpoint: Callable[..., Any], new_session: Callable[..., Any]) -> None:
    """Each delivery's ``Stripe-Signature`` verifies with the endpoint's secret."""
    created = endpoint(["checkout.session.completed", "payment_intent.succeeded"])
    assert created.secret.startswith("whsec_")
    session = paid_session(emulator, new_session)
    hits = receiver.wait(hook, 2)
    events = [stripe.Webhook.construct_event(h.payload, h.signature, created.secret)
              for h in hits]
    assert sorted(e.type for e in events) == ["checkout.session.completed",
                                              "payment_intent.succeeded"]
    completed = next(e for e in events if e.type == "checkout.session.completed")
    assert completed.data.object.id == session.id
    assert completed.id.startswith("evt_")


def test_a_wrong_secret_fails_verification(
        emulator: RunningEmulator, receiver: Receiver, hook: str,
        endpoint: Callable[..., Any], new_session: Callable[..., Any]) -> None:
    """The signature is bound to the endpoint's secret: another secret is refused."""
    endpoint(["checkout.session.completed"])
    paid_session(emulator, new_session)
    hit = receiver.wait(hook, 1)[0]
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(hit.payload, hit.signature, "whsec_someoneElse")


def test_only_enabled_events_are_delivered(
        emulator: RunningEmulator, receiver: Receiver, hook: str,
        endpoint: Callable[..., Any], new_session: Callable[..., Any]) -> None:
    """An endpoint gets the types it enabled, nothing else."""
    created = endpoint(["payment_intent.payment_failed"])
    session = new_session()
    emulator.control.pay(session.id, "4242424242424242")
    declined = new_session()
    with pytest.raises(EmulatorError):
        emulator.control.pay(declined.id, "4000000000000002")
    hits = receiver.wait(hook, 1)
    attempts = wait_deliveries(emulator, 1, endpoint_id=created.id)
    assert [a["event_type"] for a in attempts] == ["payment_intent.payment_failed"]
    assert [json.loads(h.payload)["type"] for h in hits] == ["payment_intent.payment_failed"]


def test_failed_delivery_is_retried_and_recorded(
        emulator: RunningEmulator, receiver: Receiver, hook: str,
        endpoint: Callable[..., Any], new_session: Callable[..., Any]) -> None:
    """Two 500s, then 200: three attempts recorded with their statuses; event acknowledged."""
    created = endpoint(["checkout.session.completed"])
    receiver.plan(hook, 500, 503)
    paid_session(emulator, new_session)
    hits = receiver.wait(hook, 3)
    assert [h.status for h in hits] == [500, 503, 200]
    event_id = json.loads(hits[0].payload)["id"]
    assert {json.loads(h.payload)["id"] for h in hits} == {event_id}
    attempts = wait_deliveries(emulator, 3, event_id=event_id, endpoint_id=created.id)
    assert [(a["attempt"], a["status"], a["succeeded"]) for a in attempts] == [
        (1, 500, False), (2, 503, False), (3, 200, True)]
    client = emulator.client()
    assert client.v1.events.retrieve(event_id).pending_webhooks == 0


def test_retries_stop_after_max_attempts(
        emulator: RunningEmulator, receiver: Receiver, hook: str,
        endpoint: Callable[..., Any], new_session: Callable[..., Any]) -> None:
    """An endpoint that always fails gets ``--max-attempts`` (4) attempts, then no more."""
    created = endpoint(["checkout.session.completed"])
    receiver.plan(hook, 500, 500, 500, 500, 500, 500)
    paid_session(emulator, new_session)
    event_id = json.loads(receiver.wait(hook, 4)[0].payload)["id"]
    wait_deliveries(emulator, 4, event_id=event_id)
    # A barrier: a later event to the same endpoint arrives after any fifth attempt would.
    with receiver.cond:
        receiver.plans[hook].clear()
    paid_session(emulator, new_session)
    receiver.wait(hook, 5)
    wait_deliveries(emulator, 5, endpoint_id=created.id)
    attempts = emulator.control.deliveries(event_id=event_id, endpoint_id=created.id)
    assert [a["attempt"] for a in attempts] == [1, 2, 3, 4]
    assert emulator.client().v1.events.retrieve(event_id).pending_webhooks == 1


def test_resend_delivers_a_duplicate(
        emulator: RunningEmulator, receiver: Receiver, hook: str,
        endpoint: Callable[..., Any], new_session: Callable[..., Any]) -> None:
    """``resend`` delivers the same event id again, recorded as a resend."""
    created = endpoint(["checkout.session.completed"])
    paid_session(emulator, new_session)
    first = receiver.wait(hook, 1)[0]
    event_id = json.loads(first.payload)["id"]
    assert emulator.control.resend(event_id)["queued"] == 1
    second = receiver.wait(hook, 2)[1]
    assert stripe.Webhook.construct_event(second.payload, second.signature,
                                          created.secret).id == event_id
    attempts = wait_deliveries(emulator, 2, event_id=event_id)
    assert [a["resend"] for a in attempts] == [False, True]


def test_slow_endpoint_does_not_block_the_api(
        emulator: RunningEmulator, receiver: Receiver, hook: str,
        endpoint: Callable[..., Any], new_session: Callable[..., Any]) -> None:
    """The API answers while the endpoint still holds the delivery (delivery is off the
    request path): the payment's answer comes before the delivery is recorded."""
    endpoint(["checkout.session.completed"])
    release = threading.Event()
    receiver.plan(hook, ("hold", release))
    try:
        session = new_session()
        result = emulator.control.pay(session.id)
        assert result["status"] == "succeeded"
        client = emulator.client()
        assert client.v1.checkout.sessions.retrieve(session.id).status == "complete"
        event = client.v1.events.list(
            params={"type": "checkout.session.completed", "limit": 1}).data[0]
        assert emulator.control.deliveries(event_id=event.id) == []
    finally:
        release.set()
    receiver.wait(hook, 1)


def test_disabled_endpoint_gets_nothing(
        emulator: RunningEmulator, receiver: Receiver, hook: str,
        endpoint: Callable[..., Any], new_session: Callable[..., Any]) -> None:
    """An endpoint updated with ``disabled=true`` receives no delivery."""
    client = emulator.client()
    off = endpoint(["checkout.session.completed"], name=f"{hook}_off")
    client.v1.webhook_endpoints.update(off.id, params={"disabled": True})
    on = endpoint(["checkout.session.completed"])
    paid_session(emulator, new_session)
    receiver.wait(hook, 1)
    wait_deliveries(emulator, 1, endpoint_id=on.id)
    assert emulator.control.deliveries(endpoint_id=off.id) == []


def test_timeout_is_retried(start_emulator: Callable[..., RunningEmulator],
                            receiver: Receiver, hook: str) -> None:
    """An endpoint slower than ``--delivery-timeout`` fails the attempt; the retry succeeds."""
    emu = start_emulator("--delivery-timeout", "0.3", "--retry-delay", "0")
    client = emu.client()
    client.v1.webhook_endpoints.create(params={
        "url": receiver.url(hook), "enabled_events": ["checkout.session.completed"]})
    receiver.plan(hook, ("sleep", 1.0))
    session = client.v1.checkout.sessions.create(params=session_params())
    emu.control.pay(session.id)
    receiver.wait(hook, 2)
    attempts = wait_deliveries(emu, 2)
    assert [(a["status"], a["succeeded"]) for a in attempts] == [(None, False), (200, True)]
    assert "timed out" in attempts[0]["error"]


def test_shuffled_deliveries_arrive_out_of_order(
        start_emulator: Callable[..., RunningEmulator], receiver: Receiver,
        hook: str) -> None:
    """With ``--shuffle-deliveries`` events arrive in another order than they were made."""
    emu = start_emulator("--shuffle-deliveries", "--shuffle-window", "1")
    client = emu.client()
    client.v1.webhook_endpoints.create(params={"url": receiver.url(hook),
                                               "enabled_events": ["*"]})
    session = client.v1.checkout.sessions.create(params=session_params())
    emu.control.pay(session.id)
    made = [e.id for e in reversed(client.v1.events.list(params={"limit": 100}).data)]
    hits = receiver.wait(hook, len(made))
    received = [json.loads(h.payload)["id"] for h in hits]
    assert sorted(received) == sorted(made)
    assert received != made
