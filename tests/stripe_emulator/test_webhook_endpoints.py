"""Webhook endpoints CRUD through the SDK (``webhook_endpoints.py``;
https://docs.stripe.com/api/webhook_endpoints)."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
import stripe

from tests.stripe_emulator.conftest import (
    Receiver,
    RunningEmulator,
    session_params,
    wait_deliveries,
)

URL = "http://127.0.0.1:9/api/webhook/stripe/"


def make(client: stripe.StripeClient, **extra: object) -> stripe.WebhookEndpoint:
    return client.v1.webhook_endpoints.create(params={
        "url": URL, "enabled_events": ["checkout.session.completed"], **extra})


def test_create_answers_the_secret_once(client: stripe.StripeClient) -> None:
    """Create answers ``whsec_...``; retrieve and list never show it."""
    created = make(client)
    assert created.id.startswith("we_")
    assert created.secret.startswith("whsec_")
    assert (created.url, created.status) == (URL, "enabled")
    got = client.v1.webhook_endpoints.retrieve(created.id)
    assert "secret" not in got
    listed = client.v1.webhook_endpoints.list(params={"limit": 100})
    assert all("secret" not in e for e in listed.data)
    assert created.id in [e.id for e in listed.data]


def test_update_changes_url_events_and_status(client: stripe.StripeClient) -> None:
    """Update sets ``url``, ``enabled_events`` and ``disabled``."""
    created = make(client)
    updated = client.v1.webhook_endpoints.update(created.id, params={
        "url": URL + "v2", "enabled_events": ["*"], "disabled": True})
    assert (updated.url, updated.enabled_events, updated.status) == (URL + "v2", ["*"],
                                                                     "disabled")


def test_delete_then_retrieve_is_404(client: stripe.StripeClient) -> None:
    """Delete answers ``deleted: true``; the endpoint is gone."""
    created = make(client)
    deleted = client.v1.webhook_endpoints.delete(created.id)
    assert deleted.deleted is True
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.webhook_endpoints.retrieve(created.id)
    assert info.value.code == "resource_missing"


@pytest.mark.parametrize(("params", "param"), [
    ({"enabled_events": ["*"]}, "url"),
    ({"url": URL}, "enabled_events"),
    ({"url": "ftp://x", "enabled_events": ["*"]}, "url"),
    ({"url": URL, "enabled_events": ["Not An Event"]}, "enabled_events[0]"),
])
def test_invalid_create_is_400(client: stripe.StripeClient, params: dict[str, object],
                               param: str) -> None:
    """Missing url or events, a non-HTTP URL, a malformed event type: 400 with ``param``."""
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.webhook_endpoints.create(params=params)
    assert info.value.param == param


async def test_async_crud(async_client: stripe.StripeClient) -> None:
    """The async client creates, lists, updates and deletes."""
    endpoints = async_client.v1.webhook_endpoints
    created = await endpoints.create_async(params={"url": URL, "enabled_events": ["*"]})
    assert (await endpoints.retrieve_async(created.id)).id == created.id
    await endpoints.update_async(created.id, params={"description": "shop"})
    assert (await endpoints.retrieve_async(created.id)).description == "shop"
    assert (await endpoints.delete_async(created.id)).deleted is True


@pytest.fixture
def own_client(emulator: RunningEmulator) -> stripe.StripeClient:
    """A client of a new account: its endpoint list holds only what the test makes."""
    return emulator.client(emulator.control.create_keys(account="new")["secret_key"])


def test_list_paginates_both_ways(own_client: stripe.StripeClient) -> None:
    """``limit``, ``starting_after`` and ``ending_before`` walk the endpoints newest first."""
    made = [make(own_client, description=f"e{i}").id for i in range(5)]
    newest = made[::-1]
    endpoints = own_client.v1.webhook_endpoints
    first = endpoints.list(params={"limit": 2})
    assert ([e.id for e in first.data], first.has_more) == (newest[:2], True)
    second = endpoints.list(params={"limit": 2, "starting_after": newest[1]})
    assert [e.id for e in second.data] == newest[2:4]
    last = endpoints.list(params={"limit": 2, "starting_after": newest[3]})
    assert ([e.id for e in last.data], last.has_more) == (newest[4:], False)
    back = endpoints.list(params={"limit": 2, "ending_before": newest[4]})
    assert [e.id for e in back.data] == newest[2:4]
    assert back.url == "/v1/webhook_endpoints"


def test_update_sets_description_and_metadata(client: stripe.StripeClient) -> None:
    """Update sets ``description`` and merges ``metadata`` (an empty value removes a key)."""
    created = make(client, metadata={"site": "a", "team": "ops"})
    updated = client.v1.webhook_endpoints.update(created.id, params={
        "description": "shop a", "metadata": {"site": "b", "team": ""}})
    assert updated.description == "shop a"
    assert updated.metadata.to_dict() == {"site": "b"}
    assert "secret" not in updated


def test_disable_then_enable_sets_status(client: stripe.StripeClient) -> None:
    """``disabled=true`` makes the status ``disabled``; ``disabled=false`` ``enabled``."""
    created = make(client)
    endpoints = client.v1.webhook_endpoints
    assert endpoints.update(created.id, params={"disabled": True}).status == "disabled"
    assert endpoints.retrieve(created.id).status == "disabled"
    assert endpoints.update(created.id, params={"disabled": False}).status == "enabled"


def test_delete_answers_the_deleted_object(client: stripe.StripeClient) -> None:
    """Delete answers exactly ``{"id", "object": "webhook_endpoint", "deleted": true}``."""
    created = make(client)
    deleted = client.v1.webhook_endpoints.delete(created.id)
    assert deleted.to_dict() == {"id": created.id, "object": "webhook_endpoint",
                                 "deleted": True}


def test_deleting_twice_is_404(client: stripe.StripeClient) -> None:
    """A deleted endpoint cannot be deleted again: 404 ``resource_missing``."""
    created = make(client)
    client.v1.webhook_endpoints.delete(created.id)
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.webhook_endpoints.delete(created.id)
    assert (info.value.http_status, info.value.code) == (404, "resource_missing")


@pytest.mark.parametrize("change", ["disable", "delete"])
def test_retries_stop_when_the_endpoint_is_disabled_or_deleted(
        start_emulator: Callable[..., RunningEmulator], receiver: Receiver, hook: str,
        change: str) -> None:
    """A failed delivery waiting for its retry is not retried once its endpoint is
    disabled or deleted."""
    emu = start_emulator("--retry-delay", "0.5")
    client = emu.client()
    endpoint = client.v1.webhook_endpoints.create(params={
        "url": receiver.url(hook), "enabled_events": ["checkout.session.completed"]})
    receiver.plan(hook, 500)
    emu.control.pay(client.v1.checkout.sessions.create(params=session_params()).id)
    wait_deliveries(emu, 1, endpoint_id=endpoint.id)
    if change == "disable":
        client.v1.webhook_endpoints.update(endpoint.id, params={"disabled": True})
    else:
        client.v1.webhook_endpoints.delete(endpoint.id)
    time.sleep(1.5)
    assert [a["attempt"] for a in emu.control.deliveries(endpoint_id=endpoint.id)] == [1]
    assert len(receiver.hits[hook]) == 1
