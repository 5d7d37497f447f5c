"""PaymentIntents and Charges: created when a Checkout Session is paid; read through the API.

Shapes: https://docs.stripe.com/api/payment_intents/object and
https://docs.stripe.com/api/charges/object, every field of the API version the emulator
announces (a Charge's ``refunds`` only when expanded, as Stripe's includable field).
Both belong to the account and mode of their Checkout Session.
"""

from __future__ import annotations

import copy
from typing import Any

from stripefleet.stripe_emulator.cards import Card
from stripefleet.stripe_emulator.ids import new_id, random_token
from stripefleet.stripe_emulator.lists import (
    PAGINATION_PARAMS,
    expand,
    expand_paths,
    list_object,
    paginate,
)
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
        "allowed_payment_method_types": None,
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
        "customer_account": None,
        "description": extra.get("description"),
        "excluded_payment_method_types": None,
        "hooks": None,
        "last_payment_error": None,
        "latest_charge": None,
        "livemode": session["livemode"],
        "managed_payments": None,
        "metadata": dict(extra.get("metadata") or {}),
        "next_action": None,
        "on_behalf_of": None,
        "payment_details": None,
        "payment_method": None,
        "payment_method_configuration_details": None,
        "payment_method_options": {"card": {"installments": None, "mandate_options": None,
                                            "network": None,
                                            "request_three_d_secure": "automatic"}},
        "payment_method_types": ["card"],
        "payment_record": None,
        "presentment_details": None,
        "processing": None,
        "receipt_email": extra.get("receipt_email") or session.get("customer_email"),
        "review": None,
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
    emu.own(pi, emu.owner(session["id"]))
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
        "application": None,
        "application_fee": None,
        "application_fee_amount": None,
        "authorization_code": None if failed else random_token(6).upper(),
        "balance_transaction": None if failed else new_id("txn_"),
        "billing_details": {"address": None, "email": pi["receipt_email"], "name": None,
                            "phone": None, "tax_id": None},
        "calculated_statement_descriptor": "STRIPEFLEET EMULATOR",
        "captured": not failed,
        "created": emu.now(),
        "currency": pi["currency"],
        "customer": None,
        "description": pi["description"],
        "disputed": False,
        "failure_balance_transaction": None,
        "failure_code": card.code,
        "failure_message": card.message,
        "fraud_details": {"stripe_report": None, "user_report": None},
        "level3": None,
        "livemode": pi["livemode"],
        "metadata": dict(pi["metadata"]),
        "on_behalf_of": None,
        "outcome": {
            "advice_code": "try_again_later" if failed else None,
            "network_advice_code": None,
            "network_decline_code": None,
            "network_status": "declined_by_network" if failed else "approved_by_network",
            "reason": card.decline_code,
            "risk_level": "normal",
            "risk_score": 32,
            "rule": None,
            "seller_message": "The bank did not return any further details with this decline."
            if failed else "Payment complete.",
            "type": "issuer_declined" if failed else "authorized",
        },
        "paid": not failed,
        "payment_intent": pi["id"],
        "payment_method": payment_method,
        "payment_method_details": {
            "card": _card_details(card, last4, pi["amount"], failed),
            "type": "card",
        },
        "presentment_details": None,
        "radar_options": {},
        "receipt_email": pi["receipt_email"],
        "receipt_number": None,
        "receipt_url": None,
        "refunded": False,
        "review": None,
        "shipping": None,
        "source": None,
        "source_transfer": None,
        "statement_descriptor": None,
        "statement_descriptor_suffix": None,
        "status": "failed" if failed else "succeeded",
        "transfer": None,
        "transfer_data": None,
        "transfer_group": None,
    }
    emu.state.charges[charge["id"]] = charge
    emu.own(charge, emu.owner(pi["id"]))
    return charge


def _card_details(card: Card, last4: str, amount: int, failed: bool) -> Obj:
    """``payment_method_details.card`` of a charge (https://docs.stripe.com/api/charges/object#charge_object-payment_method_details-card)."""
    return {
        "amount_authorized": None if failed else amount,
        "authorization_code": None,
        "brand": card.brand,
        "capture_before": None,
        "checks": {"address_line1_check": None, "address_postal_code_check": None,
                   "cvc_check": "pass"},
        "country": "US",
        "description": None,
        "electronic_commerce_indicator": None,
        "exp_month": 12,
        "exp_year": 2034,
        "extended_authorization": {"status": "disabled"},
        "fingerprint": random_token(16),
        "funding": "credit",
        "iin": None,
        "incremental_authorization": {"status": "unavailable"},
        "installments": None,
        "issuer": None,
        "last4": last4,
        "mandate": None,
        "moto": None,
        "multicapture": {"status": "unavailable"},
        "network": card.brand,
        "network_token": {"used": False},
        "network_transaction_id": None if failed else random_token(15),
        "overcapture": {"maximum_amount_capturable": amount, "status": "unavailable"},
        "regulated_status": "unregulated",
        "setup_credential_usage": None,
        "stored_credential_usage": None,
        "three_d_secure": None,
        "transaction_link_id": None,
        "wallet": None,
    }


def render_charge(emu: Emulator, charge: Obj, req: ApiRequest | None = None) -> Obj:
    """The Charge as the API shows it: ``expand[]=refunds`` adds its refunds list."""
    def refunds(_value: object) -> Obj:
        found = [copy.deepcopy(r) for r in reversed(emu.state.refunds.values())
                 if r["charge"] == charge["id"]]
        return list_object(found, f"/v1/charges/{charge['id']}/refunds")

    paths = expand_paths(req.params) if req is not None else []
    return expand(copy.deepcopy(charge), paths, {"refunds": refunds})


def render_payment_intent(emu: Emulator, pi: Obj, req: ApiRequest) -> Obj:
    """The PaymentIntent with ``expand[]=latest_charge`` applied."""
    return expand(copy.deepcopy(pi), expand_paths(req.params), {
        "latest_charge": lambda v: render_charge(emu, emu.state.charges[v]) if v else v,
    })


def retrieve_payment_intent(emu: Emulator, req: ApiRequest) -> Obj:
    """``GET /v1/payment_intents/{id}``.

    Raises:
        StripeError: 404 ``resource_missing`` (also for another account's).
    """
    req.params.allow({"expand", "client_secret"})
    pi = emu.lookup(emu.state.payment_intents, req.match["id"], req, "payment_intent")
    return render_payment_intent(emu, pi, req)


def list_payment_intents(emu: Emulator, req: ApiRequest) -> Obj:
    """``GET /v1/payment_intents``: the account's, newest first
    (https://docs.stripe.com/api/payment_intents/list)."""
    p = req.params
    p.allow({*PAGINATION_PARAMS, "created", "customer", "customer_account"})
    if p.has("customer") or p.has("customer_account"):
        intents: list[Obj] = []  # the emulator makes no customers
    else:
        intents = [pi for pi in emu.state.payment_intents.values() if emu.visible(pi, req)]
    return paginate(intents, p, "/v1/payment_intents", "payment_intent",
                    lambda pi: render_payment_intent(emu, pi, req))


def retrieve_charge(emu: Emulator, req: ApiRequest) -> Obj:
    """``GET /v1/charges/{id}`` (``expand[]=refunds``).

    Raises:
        StripeError: 404 ``resource_missing`` (also for another account's).
    """
    req.params.allow({"expand"})
    charge = emu.lookup(emu.state.charges, req.match["id"], req, "charge")
    return render_charge(emu, charge, req)
