"""Webhook endpoints CRUD through the SDK (``webhook_endpoints.py``)."""

from __future__ import annotations

import pytest
import stripe

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
