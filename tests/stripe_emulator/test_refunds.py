"""Refunds of a paid PaymentIntent; ``charge.refunded`` (``refunds.py``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import stripe

from tests.stripe_emulator.conftest import RunningEmulator


@pytest.fixture
def paid_pi(emulator: RunningEmulator, new_session: Callable[..., Any]) -> str:
    """The id of a PaymentIntent paid for 2500 cents."""
    session = new_session()
    return str(emulator.control.pay(session.id)["payment_intent"]["id"])


def test_full_refund_emits_charge_refunded(client: stripe.StripeClient, paid_pi: str) -> None:
    """A refund without amount refunds everything; ``charge.refunded`` carries the charge."""
    refund = client.v1.refunds.create(params={"payment_intent": paid_pi})
    assert refund.id.startswith("re_")
    assert (refund.amount, refund.status, refund.payment_intent) == (2500, "succeeded",
                                                                    paid_pi)
    event = client.v1.events.list(params={"type": "charge.refunded", "limit": 1}).data[0]
    charge = event.data.object
    assert (charge.object, charge.id, charge.payment_intent) == ("charge", refund.charge,
                                                                 paid_pi)
    assert (charge.amount_refunded, charge.refunded) == (2500, True)


def test_partial_refunds_add_up(client: stripe.StripeClient, paid_pi: str) -> None:
    """Two partial refunds; a third above what is left is ``amount_too_large``."""
    client.v1.refunds.create(params={"payment_intent": paid_pi, "amount": 1000})
    client.v1.refunds.create(params={"payment_intent": paid_pi, "amount": 1000})
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.refunds.create(params={"payment_intent": paid_pi, "amount": 1000})
    assert (info.value.code, info.value.param) == ("amount_too_large", "amount")


def test_refunding_twice_is_refused(client: stripe.StripeClient, paid_pi: str) -> None:
    """A fully refunded charge: ``charge_already_refunded``."""
    client.v1.refunds.create(params={"payment_intent": paid_pi})
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.refunds.create(params={"payment_intent": paid_pi})
    assert info.value.code == "charge_already_refunded"


def test_unpaid_payment_intent_cannot_be_refunded(client: stripe.StripeClient,
                                                  emulator: RunningEmulator,
                                                  new_session: Callable[..., Any]) -> None:
    """A PaymentIntent after a decline has no successful charge: 400."""
    session = new_session()
    with pytest.raises(Exception):  # noqa: B017 (the decline)
        emulator.control.pay(session.id, "4000000000000002")
    pi = client.v1.checkout.sessions.retrieve(session.id).payment_intent
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.refunds.create(params={"payment_intent": pi})
    assert info.value.code == "payment_intent_unexpected_state"


def test_refund_needs_a_payment_intent(client: stripe.StripeClient) -> None:
    """Neither ``payment_intent`` nor ``charge``: ``parameter_missing``."""
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.refunds.create(params={"amount": 100})
    assert info.value.code == "parameter_missing"


async def test_async_refund(async_client: stripe.StripeClient, paid_pi: str) -> None:
    """The async client refunds and reads the refund back."""
    refund = await async_client.v1.refunds.create_async(params={"payment_intent": paid_pi})
    got = await async_client.v1.refunds.retrieve_async(refund.id)
    assert got.amount == 2500
