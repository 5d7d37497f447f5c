"""Paying a Checkout Session with a test card: the pay page and the control API share this.

Success (README, section 'The Stripe emulator', "Paying"): the session becomes
``complete``/``paid`` with a succeeded PaymentIntent; events ``payment_intent.created``
(first attempt), ``charge.succeeded``, ``payment_intent.succeeded``,
``checkout.session.completed``. Decline: a failed charge, the PaymentIntent back to
``requires_payment_method`` with ``last_payment_error``; events ``charge.failed``,
``payment_intent.payment_failed``; the session stays open.
A number that is no test card: Stripe's ``incorrect_number``, nothing recorded.
"""

from __future__ import annotations

from dataclasses import dataclass

from stripefleet.stripe_emulator import cards
from stripefleet.stripe_emulator.checkout import get_session
from stripefleet.stripe_emulator.errors import StripeError, doc_url
from stripefleet.stripe_emulator.ids import new_id
from stripefleet.stripe_emulator.payment_intents import new_charge, new_payment_intent
from stripefleet.stripe_emulator.runtime import Emulator
from stripefleet.stripe_emulator.state import Obj

SESSION_ID_PLACEHOLDER = "{CHECKOUT_SESSION_ID}"


@dataclass
class PayResult:
    """A successful payment.

    Attributes:
        session: the completed session.
        payment_intent: the succeeded PaymentIntent.
        redirect_url: ``success_url`` with ``{CHECKOUT_SESSION_ID}`` replaced (None
            when the session has no ``success_url``).
    """

    session: Obj
    payment_intent: Obj
    redirect_url: str | None


def success_redirect(session: Obj) -> str | None:
    """The session's ``success_url`` with its id in place of ``{CHECKOUT_SESSION_ID}``."""
    url = session.get("success_url")
    return url.replace(SESSION_ID_PLACEHOLDER, session["id"]) if url else None


def check_payable(emu: Emulator, session_id: str) -> Obj:
    """The session, when it can still be paid.

    Raises:
        StripeError: 404 ``resource_missing``; 400 ``checkout_session_expired`` or
            ``checkout_session_complete`` (codes of this emulator's control API).
    """
    session = get_session(emu, session_id)
    if session["status"] == "expired":
        raise StripeError("This Checkout Session has expired and can no longer be paid.",
                          code="checkout_session_expired")
    if session["status"] == "complete":
        raise StripeError("This Checkout Session is already complete.",
                          code="checkout_session_complete")
    return session


def pay(emu: Emulator, session_id: str, number: str) -> PayResult:
    """Pay a session with card ``number`` (spaces and dashes ignored).

    Returns:
        The :class:`PayResult` of a successful payment.

    Raises:
        StripeError: see :func:`check_payable`; 402 ``card_error`` ``incorrect_number``
            (no test card), or 402 ``card_error`` with the card's code and
            ``decline_code`` and the PaymentIntent (a decline, events emitted).
    """
    session = check_payable(emu, session_id)
    card = cards.lookup(number)
    if card is None:
        raise StripeError(cards.INCORRECT_NUMBER, status=402, type="card_error",
                          code="incorrect_number", param="card")
    digits = cards.normalize(number)
    pi = emu.state.payment_intents.get(session["payment_intent"] or "")
    if pi is None:
        pi = new_payment_intent(emu, session, emu.state.session_pi_data.get(session_id, {}))
        session["payment_intent"] = pi["id"]
        emu.emit("payment_intent.created", pi)
    payment_method = new_id("pm_")
    charge = new_charge(emu, pi, card, digits[-4:], payment_method)
    pi["latest_charge"] = charge["id"]
    emu.dirty = True
    if card.decline_code is not None:
        pi.update(status="requires_payment_method", last_payment_error={
            "charge": charge["id"], "code": card.code, "decline_code": card.decline_code,
            "doc_url": doc_url(card.code or "card_declined"),
            "message": card.message, "payment_method": {"id": payment_method,
                                                        "object": "payment_method",
                                                        "type": "card"},
            "type": "card_error",
        })
        emu.emit("charge.failed", charge)
        emu.emit("payment_intent.payment_failed", pi)
        raise StripeError(card.message or cards.DECLINED, status=402, type="card_error",
                          code=card.code, extra={"decline_code": card.decline_code,
                                                 "charge": charge["id"],
                                                 "payment_intent": dict(pi)})
    pi.update(status="succeeded", amount_received=pi["amount"], payment_method=payment_method,
              last_payment_error=None)
    session.update(status="complete", payment_status="paid", customer_details={
        "address": None, "business_name": None, "email": session.get("customer_email"),
        "individual_name": None, "name": None, "phone": None, "tax_exempt": "none",
        "tax_ids": [],
    })
    emu.emit("charge.succeeded", charge)
    emu.emit("payment_intent.succeeded", pi)
    emu.emit("checkout.session.completed", session)
    return PayResult(session, pi, success_redirect(session))
