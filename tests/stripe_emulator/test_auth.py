"""API key authentication through the SDK: its exceptions for each refusal (``auth.py``)."""

from __future__ import annotations

import pytest
import requests
import stripe

from tests.stripe_emulator.conftest import RunningEmulator


def test_secret_key_as_bearer_is_accepted(client: stripe.StripeClient) -> None:
    """The SDK's ``Authorization: Bearer sk_test_...`` reaches the account."""
    assert client.v1.accounts.retrieve_current().object == "account"


def test_secret_key_as_basic_auth_user_is_accepted(emulator: RunningEmulator) -> None:
    """``curl -u sk_test_...:`` (HTTP basic, key as user name, no password) works."""
    resp = requests.get(f"{emulator.url}/v1/balance", auth=(emulator.secret_key, ""),
                        timeout=10)
    assert resp.status_code == 200
    assert resp.json()["object"] == "balance"


def test_unknown_key_raises_authentication_error(emulator: RunningEmulator) -> None:
    """An unknown key: 401, Stripe's body, ``stripe.AuthenticationError``; key masked."""
    bad = "sk_test_" + "x" * 30 + "wxyz"
    with pytest.raises(stripe.AuthenticationError) as info:
        emulator.client(bad).v1.balance.retrieve()
    assert info.value.http_status == 401
    assert info.value.error.type == "invalid_request_error"
    assert info.value.error.code is None  # Stripe sends no code for an unknown key
    assert bad not in str(info.value.json_body)
    assert "sk_test_...wxyz" in info.value.user_message


def test_missing_key_is_401(emulator: RunningEmulator) -> None:
    """A request without any key answers 401 with a message saying how to send one."""
    resp = requests.get(f"{emulator.url}/v1/balance", timeout=10)
    assert resp.status_code == 401
    assert "Bearer" in resp.json()["error"]["message"]


def test_expired_key_raises_api_key_expired(emulator: RunningEmulator) -> None:
    """A secret key expired through the control API answers ``api_key_expired``."""
    pair = emulator.control.create_keys()
    sdk = emulator.client(pair["secret_key"])
    assert sdk.v1.balance.retrieve().object == "balance"
    emulator.control.expire_key(pair["secret_key"])
    with pytest.raises(stripe.AuthenticationError) as info:
        sdk.v1.balance.retrieve()
    assert info.value.error.code == "api_key_expired"


def test_a_key_expires_after_the_requests_it_was_given(emulator: RunningEmulator) -> None:
    """``after_requests=1``: the key passes one more call (a preflight), then answers
    ``api_key_expired`` (a key that expires between a check and its use)."""
    pair = emulator.control.create_keys()
    sdk = emulator.client(pair["secret_key"])
    answer = emulator.control.expire_key(pair["secret_key"], after_requests=1)
    assert answer["expired"] is False and answer["uses_left"] == 1
    assert sdk.v1.accounts.retrieve_current().object == "account"
    with pytest.raises(stripe.AuthenticationError) as info:
        sdk.v1.accounts.retrieve_current()
    assert info.value.error.code == "api_key_expired"


def test_publishable_key_on_secret_endpoint_is_refused(emulator: RunningEmulator) -> None:
    """A publishable key: 403 ``secret_key_required`` -> ``stripe.PermissionError``."""
    with pytest.raises(stripe.PermissionError) as info:
        emulator.client(emulator.publishable_key).v1.checkout.sessions.list()
    assert info.value.error.code == "secret_key_required"
    assert "publishable API key" in info.value.user_message


async def test_async_client_raises_authentication_error(emulator: RunningEmulator) -> None:
    """The async client (aiohttp) maps the 401 to ``stripe.AuthenticationError`` too."""
    http_client = stripe.AIOHTTPClient()
    sdk = stripe.StripeClient("sk_test_unknownKey1234567890", http_client=http_client,
                              base_addresses={"api": emulator.url}, max_network_retries=0)
    try:
        with pytest.raises(stripe.AuthenticationError):
            await sdk.v1.balance.retrieve_async()
    finally:
        await http_client.close_async()


def test_created_keys_have_stripe_formats(emulator: RunningEmulator) -> None:
    """Keys made by the control API match seed 002_'s formats and are written to the file."""
    from stripefleet.common.keys import PUBLISHABLE_KEY, SECRET_KEY, normalize_value

    pair = emulator.control.create_keys()
    assert normalize_value(SECRET_KEY, pair["secret_key"]).startswith("sk_test_")
    assert normalize_value(PUBLISHABLE_KEY, pair["publishable_key"]).startswith("pk_test_")
    assert pair["secret_key"] in [k["secret_key"] for k in emulator.keys]
