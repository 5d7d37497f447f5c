"""``GET /v1/events`` filters and ``GET /v1/events/{id}`` (``events.py``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import stripe

from tests.stripe_emulator.conftest import Receiver, RunningEmulator, wait_deliveries


def test_retrieve_event(client: stripe.StripeClient, emulator: RunningEmulator,
                        new_session: Callable[..., Any]) -> None:
    """An event has Stripe's fields: ``evt_`` id, type, created, data.object, request."""
    session = new_session()
    client.v1.checkout.sessions.expire(session.id)
    listed = client.v1.events.list(params={"type": "checkout.session.expired", "limit": 1})
    event = client.v1.events.retrieve(listed.data[0].id)
    assert event.id.startswith("evt_")
    assert (event.object, event.type, event.livemode) == ("event", "checkout.session.expired",
                                                          False)
    assert event.data.object.id == session.id
    assert event.request.id.startswith("req_")
    assert isinstance(event.created, int)


def test_list_filters_by_type_and_wildcard(client: stripe.StripeClient,
                                           emulator: RunningEmulator,
                                           new_session: Callable[..., Any]) -> None:
    """``type`` filters exactly; ``checkout.session.*`` matches every session event."""
    emulator.control.pay(new_session().id)
    exact = client.v1.events.list(params={"type": "payment_intent.succeeded"})
    assert exact.data and {e.type for e in exact.data} == {"payment_intent.succeeded"}
    wild = client.v1.events.list(params={"type": "checkout.session.*", "limit": 100})
    assert wild.data and all(e.type.startswith("checkout.session.") for e in wild.data)


def test_list_paginates(client: stripe.StripeClient, emulator: RunningEmulator,
                        new_session: Callable[..., Any]) -> None:
    """``limit`` and ``starting_after`` walk events newest first without repeats."""
    for _ in range(3):
        emulator.control.pay(new_session().id)
    page = client.v1.events.list(params={"limit": 4})
    nxt = client.v1.events.list(params={"limit": 4, "starting_after": page.data[-1].id})
    assert page.has_more is True
    assert not {e.id for e in page.data} & {e.id for e in nxt.data}
    assert page.data[-1].created >= nxt.data[0].created


def test_delivery_success_filter(client: stripe.StripeClient, emulator: RunningEmulator,
                                 receiver: Receiver, hook: str,
                                 endpoint: Callable[..., Any],
                                 new_session: Callable[..., Any]) -> None:
    """``delivery_success=false`` lists an event its endpoint never acknowledged;
    ``true`` lists one that was delivered."""
    failing = endpoint(["checkout.session.completed"], name=f"{hook}_down")
    receiver.plan(f"{hook}_down", *[500] * 4)
    emulator.control.pay(new_session().id)
    event = client.v1.events.list(params={"type": "checkout.session.completed",
                                          "limit": 1}).data[0]
    wait_deliveries(emulator, 4, event_id=event.id, endpoint_id=failing.id)
    undelivered = client.v1.events.list(params={"delivery_success": False, "limit": 100})
    assert event.id in [e.id for e in undelivered.data]
    client.v1.webhook_endpoints.delete(failing.id)
    ok = endpoint(["payment_intent.succeeded"])
    emulator.control.pay(new_session().id)
    succeeded = client.v1.events.list(params={"type": "payment_intent.succeeded",
                                              "limit": 1}).data[0]
    wait_deliveries(emulator, 1, event_id=succeeded.id, endpoint_id=ok.id)
    delivered = client.v1.events.list(params={"delivery_success": True, "limit": 100})
    assert succeeded.id in [e.id for e in delivered.data]
    assert event.id not in [e.id for e in delivered.data]


def test_unknown_event_is_404(client: stripe.StripeClient) -> None:
    """An unknown event id: 404 ``resource_missing``."""
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.events.retrieve("evt_unknown")
    assert info.value.code == "resource_missing"


async def test_async_list_events(async_client: stripe.StripeClient) -> None:
    """The async client lists events."""
    events = await async_client.v1.events.list_async(params={"limit": 1})
    assert events.object == "list"
