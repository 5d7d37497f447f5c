"""Paying a Checkout Session through the control API: outcomes and events (``payments.py``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import stripe

from stripefleet.stripe_emulator import EmulatorError
from tests.stripe_emulator.conftest import RunningEmulator, session_params


def event_types_for(client: stripe.StripeClient, object_ids: set[str]) -> list[str]:
    """Types of the events about any of ``object_ids``, oldest first."""
    events = client.v1.events.list(params={"limit": 100}).data
    return [e.type for e in reversed(events) if e.data.object.id in object_ids]


def test_success_completes_the_session(client: stripe.StripeClient,
                                       emulator: RunningEmulator,
                                       new_session: Callable[..., Any]) -> None:
    """4242...: session complete and paid, PaymentIntent succeeded for the total."""
    session = new_session()
    result = emulator.control.pay(session.id, "4242 4242 4242 4242")
    assert result["redirect_url"] == (
        f"http://127.0.0.1:9/success?session_id={session.id}")
    paid = client.v1.checkout.sessions.retrieve(session.id)
    assert (paid.status, paid.payment_status) == ("complete", "paid")
    pi = client.v1.payment_intents.retrieve(paid.payment_intent)
    assert pi.id.startswith("pi_")
    assert (pi.status, pi.amount, pi.amount_received, pi.currency) == ("succeeded", 2500,
                                                                      2500, "eur")


def test_success_emits_events(client: stripe.StripeClient, emulator: RunningEmulator,
                              new_session: Callable[..., Any]) -> None:
    """Success emits ``payment_intent.succeeded`` then ``checkout.session.completed``."""
    session = new_session()
    result = emulator.control.pay(session.id, "4242424242424242")
    types = event_types_for(client, {session.id, result["payment_intent"]["id"]})
    assert types == ["payment_intent.created", "payment_intent.succeeded",
                     "checkout.session.completed"]
    completed = client.v1.events.list(
        params={"type": "checkout.session.completed", "limit": 1}).data[0]
    assert completed.data.object.id == session.id
    assert completed.data.object.payment_status == "paid"
    assert completed.api_version == stripe.api_version
    assert completed.livemode is False
    assert completed.data.object.metadata.to_dict() == {"order_id": "42"}


def test_decline_keeps_the_session_open(client: stripe.StripeClient,
                                        emulator: RunningEmulator,
                                        new_session: Callable[..., Any]) -> None:
    """4000...0002: 402 ``card_declined``, ``payment_intent.payment_failed``, session open."""
    session = new_session()
    with pytest.raises(EmulatorError) as info:
        emulator.control.pay(session.id, "4000 0000 0000 0002")
    assert (info.value.status, info.value.code) == (402, "card_declined")
    assert info.value.error["decline_code"] == "generic_decline"
    again = client.v1.checkout.sessions.retrieve(session.id)
    assert (again.status, again.payment_status) == ("open", "unpaid")
    pi = client.v1.payment_intents.retrieve(again.payment_intent)
    assert pi.status == "requires_payment_method"
    assert pi.last_payment_error.code == "card_declined"
    assert "payment_intent.payment_failed" in event_types_for(client, {pi.id})


def test_decline_then_success_reuses_the_payment_intent(
        client: stripe.StripeClient, emulator: RunningEmulator,
        new_session: Callable[..., Any]) -> None:
    """After a decline the customer can pay with another card; one PaymentIntent."""
    session = new_session()
    with pytest.raises(EmulatorError):
        emulator.control.pay(session.id, "4000000000000002")
    first_pi = client.v1.checkout.sessions.retrieve(session.id).payment_intent
    result = emulator.control.pay(session.id, "4242424242424242")
    assert result["payment_intent"]["id"] == first_pi
    assert result["checkout_session"]["status"] == "complete"


def test_other_number_is_incorrect_number(client: stripe.StripeClient,
                                          emulator: RunningEmulator,
                                          new_session: Callable[..., Any]) -> None:
    """Any number that is no test card: ``incorrect_number``, nothing recorded."""
    session = new_session()
    with pytest.raises(EmulatorError) as info:
        emulator.control.pay(session.id, "1234 5678 9012 3456")
    assert info.value.code == "incorrect_number"
    assert info.value.error["message"] == "Your card number is incorrect."
    assert client.v1.checkout.sessions.retrieve(session.id).payment_intent is None


def test_paid_session_cannot_be_paid_again(emulator: RunningEmulator,
                                           new_session: Callable[..., Any]) -> None:
    """A complete session refuses a second payment."""
    session = new_session()
    emulator.control.pay(session.id)
    with pytest.raises(EmulatorError) as info:
        emulator.control.pay(session.id)
    assert info.value.code == "checkout_session_complete"


def test_expired_session_cannot_be_paid(client: stripe.StripeClient,
                                        emulator: RunningEmulator,
                                        new_session: Callable[..., Any]) -> None:
    """An expired session refuses payment."""
    session = new_session()
    client.v1.checkout.sessions.expire(session.id)
    with pytest.raises(EmulatorError) as info:
        emulator.control.pay(session.id)
    assert info.value.code == "checkout_session_expired"


def test_unknown_session_pay_is_404(emulator: RunningEmulator) -> None:
    """Paying an unknown session: 404 ``resource_missing``."""
    with pytest.raises(EmulatorError) as info:
        emulator.control.pay("cs_test_unknown")
    assert (info.value.status, info.value.code) == (404, "resource_missing")


def test_payment_intent_data_metadata_reaches_the_payment_intent(
        client: stripe.StripeClient, emulator: RunningEmulator,
        new_session: Callable[..., Any]) -> None:
    """``payment_intent_data[metadata]`` is the PaymentIntent's metadata, and the session
    is found again by ``payment_intent`` (how a site maps ``payment_intent.*`` events)."""
    session = new_session(payment_intent_data={"metadata": {"order_id": "77"}})
    pi = emulator.control.pay(session.id)["payment_intent"]
    assert pi["metadata"] == {"order_id": "77"}
    found = client.v1.checkout.sessions.list(params={"payment_intent": pi["id"]})
    assert [s.id for s in found.data] == [session.id]


async def test_async_retrieve_payment_intent_and_event(
        async_client: stripe.StripeClient, emulator: RunningEmulator) -> None:
    """The async client reads a PaymentIntent, its expanded charge and an event."""
    session = await async_client.v1.checkout.sessions.create_async(params=session_params())
    pi_id = emulator.control.pay(session.id)["payment_intent"]["id"]
    pi = await async_client.v1.payment_intents.retrieve_async(
        pi_id, params={"expand": ["latest_charge"]})
    assert (pi.status, pi.latest_charge.status) == ("succeeded", "succeeded")
    events = await async_client.v1.events.list_async(
        params={"type": "payment_intent.succeeded", "limit": 1})
    event = await async_client.v1.events.retrieve_async(events.data[0].id)
    assert event.data.object.id == pi_id
