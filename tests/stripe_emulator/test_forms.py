"""Stripe's bracket form encoding, decoded as the SDK encodes it (``forms.py``)."""

from __future__ import annotations

from urllib.parse import parse_qsl

import pytest
from stripe._encode import _api_encode

from stripefleet.stripe_emulator.errors import StripeError
from stripefleet.stripe_emulator.forms import Params, decode


def sdk_pairs(params: dict) -> list[tuple[str, str]]:
    """The pairs the SDK puts on the wire for ``params`` (its own encoder)."""
    return [(k, str(v)) for k, v in _api_encode(params)]


def test_decode_inverts_the_sdk_encoding() -> None:
    """Nested hashes, indexed lists and booleans come back as the SDK's caller gave them."""
    params = {
        "mode": "payment",
        "line_items": [
            {"price_data": {"currency": "eur", "unit_amount": 1250,
                            "product_data": {"name": "Poster"}}, "quantity": 2},
            {"price_data": {"currency": "eur", "unit_amount": 99,
                            "product_data": {"name": "Card"}}, "quantity": 1},
        ],
        "metadata": {"order_id": "42"},
        "expand": ["line_items", "payment_intent"],
    }
    decoded = decode(sdk_pairs(params))
    assert decoded["line_items"][1]["price_data"]["product_data"]["name"] == "Card"
    assert decoded["line_items"][0]["quantity"] == "2"
    assert decoded["metadata"] == {"order_id": "42"}
    assert decoded["expand"] == ["line_items", "payment_intent"]


def test_decode_orders_list_items_by_index_not_by_arrival() -> None:
    """``a[1]`` before ``a[0]`` still gives ``[a0, a1]``; ``expand[]`` appends."""
    decoded = decode(parse_qsl("a[1]=second&a[0]=first&expand[]=x&expand[]=y"))
    assert decoded == {"a": ["first", "second"], "expand": ["x", "y"]}


@pytest.mark.parametrize("query", ["a[b=1", "a=1&a[b]=2", "a[b]=1&a=2"])
def test_decode_refuses_malformed_keys(query: str) -> None:
    """A malformed key, or one used as both value and hash, is a 400."""
    with pytest.raises(StripeError) as info:
        decode(parse_qsl(query))
    assert info.value.status == 400


@pytest.mark.parametrize(("value", "code"), [
    ("12x", "parameter_invalid_integer"),
    ("", "parameter_invalid_integer"),
])
def test_int_reports_stripe_codes(value: str, code: str) -> None:
    """A non-integer gets ``parameter_invalid_integer`` with the full bracket param."""
    p = Params({"quantity": value}, "line_items[0]")
    with pytest.raises(StripeError) as info:
        p.integer("quantity")
    assert (info.value.code, info.value.param) == (code, "line_items[0][quantity]")


def test_missing_required_parameter_is_parameter_missing() -> None:
    """A required parameter that is absent gets ``parameter_missing``."""
    with pytest.raises(StripeError) as info:
        Params({}).string("mode", required=True)
    assert (info.value.code, info.value.param) == ("parameter_missing", "mode")


def test_unknown_parameter_is_refused() -> None:
    """A parameter the endpoint does not know gets ``parameter_unknown``, as at Stripe."""
    with pytest.raises(StripeError) as info:
        Params({"mode": "payment", "colour": "red"}).allow({"mode"})
    assert (info.value.code, info.value.param) == ("parameter_unknown", "colour")
