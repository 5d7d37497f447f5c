"""Checkout Sessions through the SDK, sync and async (``checkout.py``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import stripe

from tests.stripe_emulator.conftest import RunningEmulator, session_params


def test_create_answers_stripe_shape(emulator: RunningEmulator,
                                     new_session: Callable[..., Any]) -> None:
    """A new session: ``cs_test_`` id, open, unpaid, totals in cents, the pay page URL."""
    session = new_session()
    assert session.id.startswith("cs_test_")
    assert session.object == "checkout.session"
    assert (session.status, session.payment_status, session.mode) == ("open", "unpaid",
                                                                      "payment")
    assert (session.amount_subtotal, session.amount_total, session.currency) == (2500, 2500,
                                                                                "eur")
    assert session.url == f"{emulator.url}/pay/{session.id}"
    assert session.livemode is False
    assert session.payment_intent is None
    assert session.metadata.to_dict() == {"order_id": "42"}
    assert (session.customer_email, session.client_reference_id) == ("john@example.com",
                                                                     "order-42")
    assert session.expires_at - session.created == 24 * 3600


def test_retrieve_returns_the_created_session(client: stripe.StripeClient,
                                              new_session: Callable[..., Any]) -> None:
    """Retrieve gives back what create answered."""
    session = new_session()
    assert client.v1.checkout.sessions.retrieve(session.id).to_dict() == session.to_dict()


def test_retrieve_unknown_session_is_404(client: stripe.StripeClient) -> None:
    """An unknown id: 404 ``resource_missing`` -> ``stripe.InvalidRequestError``."""
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.checkout.sessions.retrieve("cs_test_nope")
    assert (info.value.http_status, info.value.code) == (404, "resource_missing")


def test_line_items_list(client: stripe.StripeClient, new_session: Callable[..., Any]) -> None:
    """``/line_items`` lists ``item`` objects with price, quantity and amounts."""
    session = new_session(line_items=[
        {"price_data": {"currency": "eur", "unit_amount": 1000,
                        "product_data": {"name": "Lamp"}}, "quantity": 3},
        {"price_data": {"currency": "eur", "unit_amount": 250,
                        "product_data": {"name": "Bulb"}}, "quantity": 1},
    ])
    items = client.v1.checkout.sessions.line_items.list(session.id)
    assert [(i.description, i.quantity, i.amount_total) for i in items.data] == [
        ("Lamp", 3, 3000), ("Bulb", 1, 250)]
    assert items.data[0].price.unit_amount == 1000
    assert session.amount_total == 3250


def test_retrieve_with_expanded_line_items(client: stripe.StripeClient,
                                          new_session: Callable[..., Any]) -> None:
    """``expand=["line_items"]`` embeds the line items list in the session."""
    session = new_session()
    got = client.v1.checkout.sessions.retrieve(session.id, params={"expand": ["line_items"]})
    assert got.line_items.data[0].description == "Poster"


def test_list_paginates_newest_first(client: stripe.StripeClient,
                                     new_session: Callable[..., Any]) -> None:
    """``limit`` and ``starting_after`` walk the list newest first; ``has_more`` is right."""
    made = [new_session(client_reference_id=f"page-{i}").id for i in range(5)]
    first = client.v1.checkout.sessions.list(params={"limit": 2})
    assert [s.id for s in first.data] == made[::-1][:2]
    assert first.has_more is True
    second = client.v1.checkout.sessions.list(
        params={"limit": 2, "starting_after": first.data[-1].id})
    assert [s.id for s in second.data] == made[::-1][2:4]
    seen = [s.id for s in client.v1.checkout.sessions.list(params={"limit": 3})
            .auto_paging_iter()]
    assert seen[:5] == made[::-1]
    assert len(seen) == len(set(seen))


def test_list_filters_by_status(client: stripe.StripeClient,
                                new_session: Callable[..., Any]) -> None:
    """``status=expired`` lists only expired sessions."""
    session = new_session()
    client.v1.checkout.sessions.expire(session.id)
    expired = client.v1.checkout.sessions.list(params={"status": "expired", "limit": 100})
    assert session.id in [s.id for s in expired.data]
    assert {s.status for s in expired.data} == {"expired"}


def test_expire_through_the_api(client: stripe.StripeClient,
                                new_session: Callable[..., Any]) -> None:
    """``POST .../expire`` makes an open session ``expired`` and emits the event."""
    session = new_session()
    expired = client.v1.checkout.sessions.expire(session.id)
    assert expired.status == "expired"
    events = client.v1.events.list(params={"type": "checkout.session.expired", "limit": 100})
    assert session.id in [e.data.object.id for e in events.data]


def test_expire_twice_is_refused(client: stripe.StripeClient,
                                 new_session: Callable[..., Any]) -> None:
    """An expired session cannot be expired again: 400."""
    session = new_session()
    client.v1.checkout.sessions.expire(session.id)
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.checkout.sessions.expire(session.id)
    assert "status of \"expired\"" in info.value.user_message


@pytest.mark.parametrize(("offset", "accepted"), [
    (29 * 60, False), (30 * 60 + 60, True), (23 * 3600, True), (24 * 3600 + 60, False),
])
def test_expires_at_bounds(client: stripe.StripeClient, emulator: RunningEmulator,
                           offset: int, accepted: bool) -> None:
    """``expires_at`` is accepted only between 30 minutes and 24 hours from now."""
    expires_at = emulator.control.clock()["now"] + offset
    params = session_params(expires_at=expires_at)
    if accepted:
        assert client.v1.checkout.sessions.create(params=params).expires_at == expires_at
    else:
        with pytest.raises(stripe.InvalidRequestError) as info:
            client.v1.checkout.sessions.create(params=params)
        assert info.value.param == "expires_at"


def _without(path: str) -> dict[str, Any]:
    params = session_params()
    node: Any = params
    *parents, last = path.split(".")
    for part in parents:
        node = node[int(part)] if part.isdigit() else node[part]
    del node[last]
    return params


@pytest.mark.parametrize(("params", "code", "param"), [
    (_without("mode"), "parameter_missing", "mode"),
    (_without("line_items"), "parameter_missing", "line_items"),
    (_without("line_items.0.quantity"), "parameter_missing", "line_items[0][quantity]"),
    (_without("line_items.0.price_data.currency"), "parameter_missing",
     "line_items[0][price_data][currency]"),
    (session_params(line_items=[{"price_data": {"currency": "eur", "unit_amount": 100,
                                                "product_data": {"description": "x"}},
                                 "quantity": 1}]), "parameter_missing",
     "line_items[0][price_data][product_data][name]"),
    (session_params(line_items=[{"price_data": {"currency": "eur", "unit_amount": "12.5",
                                                "product_data": {"name": "x"}},
                                 "quantity": 1}]),
     "parameter_invalid_integer", "line_items[0][price_data][unit_amount]"),
    (session_params(expires_at="soon"), "parameter_invalid_integer", "expires_at"),
    (session_params(success_url="not a url"), "url_invalid", "success_url"),
    (session_params(customer_email="nobody"), "email_invalid", "customer_email"),
    (session_params(colour="red"), "parameter_unknown", "colour"),
], ids=["mode", "line_items", "quantity", "currency", "name", "unit_amount", "expires_at",
        "success_url", "email", "unknown"])
def test_invalid_parameters_get_stripe_errors(client: stripe.StripeClient,
                                              params: dict[str, Any], code: str,
                                              param: str) -> None:
    """Missing or malformed parameters: 400 with Stripe's ``code`` and ``param``."""
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.checkout.sessions.create(params=params)
    assert (info.value.http_status, info.value.code, info.value.param) == (400, code, param)


async def test_async_create_retrieve_and_list(async_client: stripe.StripeClient) -> None:
    """The async client creates, retrieves and lists sessions."""
    sessions = async_client.v1.checkout.sessions
    session = await sessions.create_async(params=session_params())
    got = await sessions.retrieve_async(session.id)
    assert got.id == session.id
    listed = await sessions.list_async(params={"limit": 1})
    assert listed.data[0].id == session.id
    items = await sessions.line_items.list_async(session.id)
    assert items.data[0].quantity == 2
    assert (await sessions.expire_async(session.id)).status == "expired"
