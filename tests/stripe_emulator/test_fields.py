"""Every object the emulator answers has Stripe's fields, no more, no fewer, with Stripe's
types and nulls.

The field lists are ``stripe_fields.json``: the ``stripe`` SDK's resource classes for the
API version the emulator announces (``stripe_fields.py`` says how they are read and
which fields Stripe sends only in some answers). Answers are read as raw JSON, as a
client of Stripe's HTTP API sees them.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
import stripe

from stripefleet.stripe_emulator.config import API_VERSION
from tests.stripe_emulator import stripe_fields
from tests.stripe_emulator.conftest import RunningEmulator, session_params

FIELDS: dict[str, Any] = json.loads(stripe_fields.JSON_PATH.read_text(encoding="utf-8"))
OBJECTS: dict[str, Any] = FIELDS["objects"]

_TYPES: dict[str, Callable[[Any], bool]] = {
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "array": lambda v: isinstance(v, list),
    "hash": lambda v: isinstance(v, dict),
    "expandable": lambda v: isinstance(v, str | dict),
    "any": lambda v: True,
}


def _problems(obj: dict[str, Any], spec: dict[str, Any], where: str,
              sent: set[str]) -> list[str]:
    """What differs between ``obj`` and its field list (``sent``: the conditional fields
    this answer must carry)."""
    fields: dict[str, str] = spec["fields"]
    expected = (set(fields) - set(spec["conditional"])) | sent
    out = [f"{where}: missing {name}" for name in sorted(expected - set(obj))]
    out += [f"{where}: extra {name}" for name in sorted(set(obj) - expected)]
    for name, value in obj.items():
        kind = fields.get(name)
        if kind is None:
            continue
        base, _, null = kind.partition("|")
        if value is None and not null:
            out.append(f"{where}.{name}: null, but Stripe's type is {kind}")
        elif value is not None and not _TYPES[base](value):
            out.append(f"{where}.{name}: {type(value).__name__} {value!r:.40}, "
                       f"but Stripe's type is {kind}")
    return out


def _at(obj: Any, path: str) -> list[dict[str, Any]]:
    """The hashes at a dotted ``path`` (``a.b``; ``a[]``: each element), non-null ones."""
    nodes = [obj]
    for segment in path.split("."):
        each = segment.endswith("[]")
        segment = segment.removesuffix("[]")
        nxt: list[Any] = []
        for node in nodes:
            value = node.get(segment) if isinstance(node, dict) else None
            if value is None:
                continue
            nxt.extend(value if each else [value])
        nodes = nxt
    return [n for n in nodes if isinstance(n, dict)]


def assert_stripe_fields(obj: dict[str, Any], name: str, sent: set[str] | None = None,
                         nested_sent: dict[str, set[str]] | None = None) -> None:
    """``obj`` has exactly the fields of Stripe's ``name`` object, with their types.

    Args:
        obj: the answer (or a part of it).
        name: the object's name in ``stripe_fields.json``.
        sent: conditional fields this answer carries (``line_items`` when expanded).
        nested_sent: the same for nested hashes, by path.
    """
    spec = OBJECTS[name]
    problems = _problems(obj, spec, name, sent or set())
    for path, nested in spec["nested"].items():
        for node in _at(obj, path):
            problems += _problems(node, nested, f"{name}.{path}",
                                  (nested_sent or {}).get(path, set()))
    assert not problems, "\n".join(problems)


@pytest.fixture
def paid(emulator: RunningEmulator) -> dict[str, Any]:
    """A session paid with 4242..., refunded in part: ``{"session", "payment_intent",
    "refund"}`` as the control API and the API answered them."""
    session = emulator.http("POST", "/v1/checkout/sessions", data=_form()).json()
    result = emulator.control.pay(session["id"])
    refund = emulator.http("POST", "/v1/refunds", data={
        "payment_intent": result["payment_intent"]["id"], "amount": "100"}).json()
    return {"session": result["checkout_session"], "payment_intent":
            result["payment_intent"], "refund": refund}


def _form() -> dict[str, str]:
    """``session_params()`` form-encoded as the SDK sends it."""
    params = session_params()
    item = params["line_items"][0]
    return {
        "mode": "payment",
        "line_items[0][quantity]": str(item["quantity"]),
        "line_items[0][price_data][currency]": item["price_data"]["currency"],
        "line_items[0][price_data][unit_amount]": str(item["price_data"]["unit_amount"]),
        "line_items[0][price_data][product_data][name]": "Poster",
        "success_url": params["success_url"], "cancel_url": params["cancel_url"],
        "customer_email": params["customer_email"],
        "client_reference_id": params["client_reference_id"],
        "metadata[order_id]": "42",
    }


def test_field_list_is_the_installed_sdks() -> None:
    """``stripe_fields.json`` is what the installed SDK says (regenerate it after an SDK
    upgrade: ``python -m tests.stripe_emulator.stripe_fields``), for the API version the
    emulator announces."""
    assert stripe_fields.generate() == FIELDS
    assert FIELDS["source"]["api_version"] == API_VERSION == stripe.api_version


def test_check_reports_missing_extra_and_mistyped_fields() -> None:
    """The comparison fails on a missing field, an extra field, a null where Stripe's type
    has none, and a value of another type."""
    good = {"id": "we_1", "object": "webhook_endpoint", "deleted": True}
    assert_stripe_fields(good, "deleted_webhook_endpoint")
    for bad in ({"id": "we_1", "object": "webhook_endpoint"},
                {**good, "colour": "red"}, {**good, "id": None}, {**good, "deleted": "yes"}):
        with pytest.raises(AssertionError):
            assert_stripe_fields(bad, "deleted_webhook_endpoint")


def test_open_session_has_stripes_fields(emulator: RunningEmulator) -> None:
    """A new Checkout Session: every field of Stripe's, no ``line_items`` (includable)."""
    session = emulator.http("POST", "/v1/checkout/sessions", data=_form()).json()
    assert_stripe_fields(session, "checkout.session")


def test_completed_session_has_stripes_fields(paid: dict[str, Any],
                                              emulator: RunningEmulator) -> None:
    """A paid session, retrieved: Stripe's fields, ``customer_details`` whole."""
    session = emulator.http("GET", f"/v1/checkout/sessions/{paid['session']['id']}").json()
    assert session["customer_details"] is not None
    assert_stripe_fields(session, "checkout.session")


def test_expanded_session_adds_line_items_only(emulator: RunningEmulator) -> None:
    """``expand[]=line_items`` adds the includable ``line_items`` list, nothing else."""
    made = emulator.http("POST", "/v1/checkout/sessions", data=_form()).json()
    session = emulator.http("GET", f"/v1/checkout/sessions/{made['id']}",
                            data={"expand[]": "line_items"}).json()
    assert_stripe_fields(session, "checkout.session", {"line_items"})
    assert_stripe_fields(session["line_items"], "list")


def test_line_item_and_its_price_have_stripes_fields(emulator: RunningEmulator) -> None:
    """``/line_items``: a list of ``item`` objects, each with a ``price``."""
    made = emulator.http("POST", "/v1/checkout/sessions", data=_form()).json()
    items = emulator.http("GET", f"/v1/checkout/sessions/{made['id']}/line_items").json()
    assert_stripe_fields(items, "list")
    assert_stripe_fields(items["data"][0], "item")
    assert_stripe_fields(items["data"][0]["price"], "price")


def test_payment_intent_has_stripes_fields(paid: dict[str, Any],
                                           emulator: RunningEmulator) -> None:
    """A succeeded PaymentIntent, retrieved: every field of Stripe's."""
    pi = emulator.http("GET", f"/v1/payment_intents/{paid['payment_intent']['id']}").json()
    assert_stripe_fields(pi, "payment_intent")


def test_declined_payment_intent_has_stripes_fields(emulator: RunningEmulator) -> None:
    """A PaymentIntent after a decline (``last_payment_error`` set): Stripe's fields."""
    session = emulator.http("POST", "/v1/checkout/sessions", data=_form()).json()
    with pytest.raises(Exception):  # noqa: B017 (the decline)
        emulator.control.pay(session["id"], "4000000000000002")
    pi_id = emulator.http("GET", f"/v1/checkout/sessions/{session['id']}").json()[
        "payment_intent"]
    pi = emulator.http("GET", f"/v1/payment_intents/{pi_id}").json()
    assert pi["last_payment_error"]["code"] == "card_declined"
    assert_stripe_fields(pi, "payment_intent")


def test_charge_has_stripes_fields(paid: dict[str, Any], emulator: RunningEmulator) -> None:
    """The charge (``expand[]=latest_charge``): Stripe's fields, its card details whole."""
    pi = emulator.http("GET", f"/v1/payment_intents/{paid['payment_intent']['id']}",
                       data={"expand[]": "latest_charge"}).json()
    assert_stripe_fields(pi["latest_charge"], "charge")


def test_charge_with_expanded_refunds_adds_refunds(paid: dict[str, Any],
                                                   emulator: RunningEmulator) -> None:
    """``expand[]=refunds`` on a charge adds the includable ``refunds`` list."""
    charge = emulator.http("GET", f"/v1/charges/{paid['refund']['charge']}",
                           data={"expand[]": "refunds"}).json()
    assert_stripe_fields(charge, "charge", {"refunds"})
    assert [r["id"] for r in charge["refunds"]["data"]] == [paid["refund"]["id"]]


def test_refund_has_stripes_fields(paid: dict[str, Any], emulator: RunningEmulator) -> None:
    """A refund as created and as retrieved: every field of Stripe's."""
    assert_stripe_fields(paid["refund"], "refund")
    assert_stripe_fields(emulator.http("GET", f"/v1/refunds/{paid['refund']['id']}").json(),
                         "refund")


def test_event_has_stripes_fields(paid: dict[str, Any], emulator: RunningEmulator) -> None:
    """An event (and the object in it): Stripe's fields; ``previous_attributes`` only on
    an event about a change (``charge.refunded``)."""
    events = emulator.http("GET", "/v1/events", data={"limit": "100"}).json()
    assert_stripe_fields(events, "list")
    by_type = {e["type"]: e for e in reversed(events["data"])}
    completed = by_type["checkout.session.completed"]
    assert_stripe_fields(completed, "event")
    assert_stripe_fields(completed["data"]["object"], "checkout.session")
    refunded = by_type["charge.refunded"]
    assert_stripe_fields(refunded, "event", nested_sent={"data": {"previous_attributes"}})
    assert_stripe_fields(refunded["data"]["object"], "charge")


def test_webhook_endpoint_has_stripes_fields(emulator: RunningEmulator) -> None:
    """An endpoint: ``secret`` in the create answer only; the deleted answer is
    ``{id, object, deleted}``."""
    made = emulator.http("POST", "/v1/webhook_endpoints", data={
        "url": "http://127.0.0.1:9/hook", "enabled_events[0]": "*"}).json()
    assert_stripe_fields(made, "webhook_endpoint", {"secret"})
    got = emulator.http("GET", f"/v1/webhook_endpoints/{made['id']}").json()
    assert_stripe_fields(got, "webhook_endpoint")
    listed = emulator.http("GET", "/v1/webhook_endpoints").json()
    assert_stripe_fields(listed, "list")
    deleted = emulator.http("DELETE", f"/v1/webhook_endpoints/{made['id']}").json()
    assert_stripe_fields(deleted, "deleted_webhook_endpoint")


def test_account_has_stripes_fields(emulator: RunningEmulator) -> None:
    """``GET /v1/account``: every field of Stripe's Account but Connect's."""
    assert_stripe_fields(emulator.http("GET", "/v1/account").json(), "account")


def test_balance_has_stripes_fields(paid: dict[str, Any], emulator: RunningEmulator) -> None:
    """``GET /v1/balance``: Stripe's fields (none of Connect's or Issuing's)."""
    assert_stripe_fields(emulator.http("GET", "/v1/balance").json(), "balance")


@pytest.mark.parametrize(("method", "path", "key", "data", "sent"), [
    ("GET", "/v1/checkout/sessions/cs_test_nope", None, None,
     {"code", "doc_url", "param", "request_log_url"}),
    ("GET", "/v1/balance", "sk_test_unknownKey1234", None, {"request_log_url"}),
    ("GET", "/v1/balance", "", None, {"request_log_url"}),
    ("POST", "/v1/checkout/sessions", None, {"mode": "payment"},
     {"code", "doc_url", "param", "request_log_url"}),
    ("GET", "/v1/nothing-here", None, None, set()),
], ids=["resource_missing", "unknown_key", "no_key", "parameter_missing", "unknown_url"])
def test_errors_have_stripes_fields(emulator: RunningEmulator, method: str, path: str,
                                    key: str | None, data: dict[str, str] | None,
                                    sent: set[str]) -> None:
    """An error hash carries Stripe's fields that are set, and no other."""
    body = emulator.http(method, path, key, data).json()
    assert set(body) == {"error"}
    assert_stripe_fields(body["error"], "error", sent)


def test_card_error_has_stripes_fields(emulator: RunningEmulator) -> None:
    """A declined payment's error (the control API's 402): Stripe's card error fields."""
    session = emulator.http("POST", "/v1/checkout/sessions", data=_form()).json()
    resp = emulator.http("POST", f"/_emulator/checkout/sessions/{session['id']}/pay",
                         data={"card": "4000000000000002"})
    assert resp.status_code == 402
    error = resp.json()["error"]
    assert_stripe_fields(error, "error",
                         {"code", "doc_url", "decline_code", "charge", "payment_intent"})
    assert_stripe_fields(error["payment_intent"], "payment_intent")
