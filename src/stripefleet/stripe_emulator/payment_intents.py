"""PaymentIntents and Charges: created when a Checkout Session is paid; read through the API.

Shapes: https://docs.stripe.com/api/payment_intents/object and
https://docs.stripe.com/api/charges/object (the fields a site reads).
"""

from __future__ import annotations

import copy
from typing import Any

from stripefleet.stripe_emulator.cards import Card
from stripefleet.stripe_emulator.errors import resource_missing
from stripefleet.stripe_emulator.ids import new_id, random_token
from stripefleet.stripe_emulator.lists import expand, expand_paths
from stripefleet.stripe_emulator.runtime import ApiRequest, Emulator
from stripefleet.stripe_emulator.state import Obj


def new_payment_intent(emu: Emulator, session: Obj, extra: dict[str, Any]) -> Obj:
    """A PaymentIntent for a session's total, status ``requires_payment_method``."""
    pi_id = new_id("pi_")
    pi: Obj = {
        "id": pi_id,
        "object": "payment_intent",
        "amount": session["amount_total"],
        "amount_capturable": 0,
        "amount_details": {"tip": {}},
        "amount_received": 0,
        "application": None,
        "application_fee_amount": None,
        "automatic_payment_methods": None,
        "canceled_at": None,
        "cancellation_reason": None,
        "capture_method": "automatic_async",
        "client_secret": f"{pi_id}_secret_{random_token(24)}",
        "confirmation_method": "automatic",
        "created": emu.now(),
        "currency": session["currency"],
        "customer": None,
        "description": extra.get("description"),
        "last_payment_error": None,
        "latest_charge": None,
        "livemode": session["livemode"],
        "metadata": dict(extra.get("metadata") or {}),
        "next_action": None,
        "on_behalf_of": None,
        "payment_method": None,
        "payment_method_options": {"card": {"request_three_d_secure": "automatic"}},
        "payment_method_types": ["card"],
        "processing": None,
        "receipt_email": extra.get("receipt_email") or session.get("customer_email"),
        "setup_future_usage": None,
        "shipping": None,
        "source": None,
        "statement_descriptor": None,
        "statement_descriptor_suffix": None,
        "status": "requires_payment_method",
        "transfer_data": None,
        "transfer_group": None,
    }
    emu.state.payment_intents[pi_id] = pi
    return pi


def new_charge(emu: Emulator, pi: Obj, card: Card, last4: str, payment_method: str) -> Obj:
    """A Charge of ``pi`` with ``card``: ``succeeded``, or ``failed`` for a declining card."""
    failed = card.decline_code is not None
    charge: Obj = {
        "id": new_id("ch_"),
        "object": "charge",
        "amount": pi["amount"],
        "amount_captured": 0 if failed else pi["amount"],
        "amount_refunded": 0,
        "balance_transaction": None if failed else new_id("txn_"),
        "billing_details": {"address": None, "email": pi["receipt_email"], "name": None,
                            "phone": None},
        "captured": not failed,
        "created": emu.now(),
        "currency": pi["currency"],
        "customer": None,
        "description": pi["description"],
        "disputed": False,
        "failure_code": card.code,
        "failure_message": card.message,
        "livemode": pi["livemode"],
        "metadata": dict(pi["metadata"]),
        "outcome": {
            "network_status": "declined_by_network" if failed else "approved_by_network",
            "reason": card.decline_code,
            "risk_level": "normal",
            "seller_message": "The bank did not return any further details with this decline."
            if failed else "Payment complete.",
            "type": "issuer_declined" if failed else "authorized",
        },
        "paid": not failed,
        "payment_intent": pi["id"],
        "payment_method": payment_method,
        "payment_method_details": {
            "card": {"brand": card.brand, "country": "US", "exp_month": 12,
                     "exp_year": 2034, "funding": "credit", "last4": last4},
            "type": "card",
        },
        "receipt_email": pi["receipt_email"],
        "receipt_url": None,
        "refunded": False,
        "status": "failed" if failed else "succeeded",
    }
    emu.state.charges[charge["id"]] = charge
    return charge


def render_payment_intent(emu: Emulator, pi: Obj, req: ApiRequest) -> Obj:
    """The PaymentIntent with ``expand[]=latest_charge`` applied."""
    return expand(copy.deepcopy(pi), expand_paths(req.params), {
        "latest_charge": lambda v: copy.deepcopy(emu.state.charges.get(v)) if v else v,
    })


def retrieve_payment_intent(emu: Emulator, req: ApiRequest) -> Obj:
    """``GET /v1/payment_intents/{id}``.

    Raises:
        StripeError: 404 ``resource_missing``.
    """
    req.params.allow({"expand", "client_secret"})
    pi = emu.state.payment_intents.get(req.match["id"])
    if pi is None:
        raise resource_missing("payment_intent", req.match["id"])
    return render_payment_intent(emu, pi, req)


def retrieve_charge(emu: Emulator, req: ApiRequest) -> Obj:
    """``GET /v1/charges/{id}``.

    Raises:
        StripeError: 404 ``resource_missing``.
    """
    req.params.allow({"expand"})
    charge = emu.state.charges.get(req.match["id"])
    if charge is None:
        raise resource_missing("charge", req.match["id"])
    return copy.deepcopy(charge)
