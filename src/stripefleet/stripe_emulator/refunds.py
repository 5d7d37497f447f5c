"""Refunds of a paid PaymentIntent (https://docs.stripe.com/api/refunds).

``POST /v1/refunds`` with ``payment_intent`` (or ``charge``), optional ``amount``
(default: what is left), ``reason`` and ``metadata``. Emits ``refund.created`` and
``charge.refunded`` (the Charge, with ``amount_refunded`` and ``refunded``). A refund
has every field of https://docs.stripe.com/api/refunds/object and belongs to the account
of the key that made it: only the account's own payments can be refunded, and only its
keys see the refund (``GET /v1/refunds[/{id}]``).
"""

from __future__ import annotations

import copy

from stripefleet.stripe_emulator.errors import StripeError
from stripefleet.stripe_emulator.ids import new_id
from stripefleet.stripe_emulator.lists import PAGINATION_PARAMS, paginate
from stripefleet.stripe_emulator.runtime import ApiRequest, Emulator
from stripefleet.stripe_emulator.state import Obj

REASONS = ("duplicate", "fraudulent", "requested_by_customer")


def create_refund(emu: Emulator, req: ApiRequest) -> Obj:
    """``POST /v1/refunds``.

    Raises:
        StripeError: 400 ``parameter_missing`` (neither ``payment_intent`` nor ``charge``),
            404 ``resource_missing``, 400 ``payment_intent_unexpected_state`` (not paid),
            400 ``charge_already_refunded``, 400 ``amount_too_large``.
    """
    p = req.params
    p.allow({"payment_intent", "charge", "amount", "reason", "metadata", "expand",
             "instructions_email"})
    pi_id, charge_id = p.string("payment_intent"), p.string("charge")
    if pi_id is None and charge_id is None:
        raise StripeError("One of the following params should be provided for this request: "
                          "payment_intent or charge.", code="parameter_missing",
                          param="payment_intent")
    if pi_id is not None:
        pi = emu.lookup(emu.state.payment_intents, pi_id, req, "payment_intent",
                        "payment_intent")
        if pi["status"] != "succeeded":
            raise StripeError(
                f"This PaymentIntent ({pi_id}) does not have a successful charge to refund.",
                code="payment_intent_unexpected_state", param="payment_intent")
        charge_id = pi["latest_charge"]
    assert charge_id is not None
    charge = emu.lookup(emu.state.charges, charge_id, req, "charge", "charge")
    if charge["status"] != "succeeded":
        raise StripeError(f"Charge {charge_id} has not succeeded and cannot be refunded.",
                          code="charge_not_refundable", param="charge")
    left = charge["amount"] - charge["amount_refunded"]
    if left <= 0:
        raise StripeError(f"Charge {charge_id} has already been refunded.",
                          code="charge_already_refunded")
    amount = p.integer("amount", minimum=1)
    if amount is None:
        amount = left
    if amount > left:
        raise StripeError(
            f"Refund amount ({amount}) is greater than unrefunded amount on charge ({left}).",
            code="amount_too_large", param="amount")
    refund: Obj = {
        "id": new_id("re_"),
        "object": "refund",
        "amount": amount,
        "balance_transaction": new_id("txn_"),
        "charge": charge_id,
        "created": emu.now(),
        "currency": charge["currency"],
        "customer": None,
        "customer_account": None,
        "description": None,
        "destination_details": {"card": {"reference": None, "reference_status": "pending",
                                         "reference_type": None, "type": "refund"},
                                "type": "card"},
        "failure_balance_transaction": None,
        "failure_reason": None,
        "instructions_email": p.string("instructions_email"),
        "metadata": p.metadata() or {},
        "next_action": None,
        "payment_intent": charge["payment_intent"],
        "payment_method": charge["payment_method"],
        "pending_reason": None,
        "presentment_details": None,
        "reason": p.string("reason", choices=REASONS),
        "receipt_number": None,
        "source_transfer_reversal": None,
        "status": "succeeded",
        "transfer_reversal": None,
    }
    emu.state.refunds[refund["id"]] = refund
    emu.own(refund, req.account)
    previous = {"amount_refunded": charge["amount_refunded"], "refunded": charge["refunded"]}
    charge["amount_refunded"] += amount
    charge["refunded"] = charge["amount_refunded"] >= charge["amount"]
    emu.dirty = True
    emu.emit("refund.created", refund, req)
    emu.emit("charge.refunded", charge, req, previous_attributes=previous)
    return copy.deepcopy(refund)


def retrieve_refund(emu: Emulator, req: ApiRequest) -> Obj:
    """``GET /v1/refunds/{id}``.

    Raises:
        StripeError: 404 ``resource_missing`` (also for another account's).
    """
    req.params.allow({"expand"})
    return copy.deepcopy(emu.lookup(emu.state.refunds, req.match["id"], req, "refund"))


def list_refunds(emu: Emulator, req: ApiRequest) -> Obj:
    """``GET /v1/refunds``: the account's, newest first, filtered by ``payment_intent``
    or ``charge`` (https://docs.stripe.com/api/refunds/list)."""
    p = req.params
    p.allow({*PAGINATION_PARAMS, "payment_intent", "charge", "created"})
    pi_id, charge_id = p.string("payment_intent"), p.string("charge")
    refunds = [r for r in emu.state.refunds.values()
               if emu.visible(r, req)
               and (pi_id is None or r["payment_intent"] == pi_id)
               and (charge_id is None or r["charge"] == charge_id)]
    return paginate(refunds, p, "/v1/refunds", "refund", copy.deepcopy)
