"""Test card numbers and what paying with each does (https://docs.stripe.com/testing).

The shop's Stripe configuration notes name two: ``4242 4242 4242 4242`` succeeds,
``4000 0000 0000 0002`` is declined. Any number that is not in this table gets Stripe's
``incorrect_number``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Card:
    """A test card.

    Attributes:
        brand: ``visa``, ``mastercard``.
        decline_code: None when the payment succeeds; otherwise Stripe's decline code.
        code: the error code of a declined payment (``card_declined``, ``expired_card``).
        message: the message Stripe shows for that decline.
    """

    brand: str
    decline_code: str | None = None
    code: str | None = None
    message: str | None = None


DECLINED = "Your card was declined."
INCORRECT_NUMBER = "Your card number is incorrect."

CARDS: dict[str, Card] = {
    "4242424242424242": Card("visa"),
    "4000056655665556": Card("visa"),
    "5555555555554444": Card("mastercard"),
    "4000000000000002": Card("visa", "generic_decline", "card_declined", DECLINED),
    "4000000000009995": Card("visa", "insufficient_funds", "card_declined",
                             "Your card has insufficient funds."),
    "4000000000000069": Card("visa", "expired_card", "expired_card",
                             "Your card has expired."),
}


def normalize(number: str) -> str:
    """The digits of a card number typed with spaces or dashes."""
    return "".join(ch for ch in number if ch not in " -\t")


def lookup(number: str) -> Card | None:
    """The test card for ``number`` (spaces and dashes ignored), or None."""
    return CARDS.get(normalize(number))
