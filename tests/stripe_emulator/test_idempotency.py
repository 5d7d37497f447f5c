"""Idempotent requests through the SDK's ``idempotency_key`` option (``idempotency.py``)."""

from __future__ import annotations

import uuid

import pytest
import requests
import stripe

from tests.stripe_emulator.conftest import RunningEmulator, session_params


def test_same_key_same_params_replays_the_first_response(client: stripe.StripeClient) -> None:
    """The same key and parameters answer the first session again, not a new one."""
    key = str(uuid.uuid4())
    first = client.v1.checkout.sessions.create(params=session_params(),
                                               options={"idempotency_key": key})
    second = client.v1.checkout.sessions.create(params=session_params(),
                                                options={"idempotency_key": key})
    assert second.id == first.id
    assert second.last_response.headers.get("Idempotent-Replayed") == "true"


def test_same_key_other_params_is_an_idempotency_error(client: stripe.StripeClient) -> None:
    """The same key with other parameters: 400 ``idempotency_error``."""
    key = str(uuid.uuid4())
    client.v1.checkout.sessions.create(params=session_params(), options={"idempotency_key": key})
    with pytest.raises(stripe.IdempotencyError) as info:
        client.v1.checkout.sessions.create(params=session_params(client_reference_id="other"),
                                           options={"idempotency_key": key})
    assert info.value.http_status == 400
    assert key in info.value.user_message


def test_keys_are_scoped_to_the_secret_key(emulator: RunningEmulator) -> None:
    """Another secret key may use the same idempotency key for its own request."""
    key = str(uuid.uuid4())
    other = emulator.client(emulator.control.create_keys()["secret_key"])
    first = emulator.client().v1.checkout.sessions.create(
        params=session_params(), options={"idempotency_key": key})
    second = other.v1.checkout.sessions.create(params=session_params(),
                                               options={"idempotency_key": key})
    assert second.id != first.id


def test_refused_request_is_not_stored(client: stripe.StripeClient) -> None:
    """A request refused by validation can be retried with the same key, corrected."""
    key = str(uuid.uuid4())
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.checkout.sessions.create(params=session_params(mode=None) | {"mode": "x"},
                                           options={"idempotency_key": key})
    session = client.v1.checkout.sessions.create(params=session_params(),
                                                 options={"idempotency_key": key})
    assert session.status == "open"


def test_keys_are_forgotten_after_24_hours(client: stripe.StripeClient,
                                           emulator: RunningEmulator) -> None:
    """After 24 h on the emulator's clock the key starts afresh."""
    key = str(uuid.uuid4())
    first = client.v1.checkout.sessions.create(params=session_params(),
                                               options={"idempotency_key": key})
    emulator.control.advance_clock(24 * 3600 + 1)
    second = client.v1.checkout.sessions.create(params=session_params(),
                                                options={"idempotency_key": key})
    assert second.id != first.id


def test_a_post_without_key_is_not_replayed(emulator: RunningEmulator) -> None:
    """Without ``Idempotency-Key`` two identical POSTs create two sessions."""
    form = {"mode": "payment", "line_items[0][quantity]": "1",
            "line_items[0][price_data][currency]": "eur",
            "line_items[0][price_data][unit_amount]": "500",
            "line_items[0][price_data][product_data][name]": "Mug"}
    auth = (emulator.secret_key, "")
    ids = [requests.post(f"{emulator.url}/v1/checkout/sessions", data=form, auth=auth,
                         timeout=10).json()["id"] for _ in range(2)]
    assert ids[0] != ids[1]


async def test_async_replay(async_client: stripe.StripeClient) -> None:
    """The async client gets the replayed response too."""
    key = str(uuid.uuid4())
    sessions = async_client.v1.checkout.sessions
    first = await sessions.create_async(params=session_params(),
                                        options={"idempotency_key": key})
    second = await sessions.create_async(params=session_params(),
                                         options={"idempotency_key": key})
    assert first.id == second.id
