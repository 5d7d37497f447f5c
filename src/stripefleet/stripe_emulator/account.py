"""``GET /v1/account`` and ``GET /v1/balance``: what a site calls to check a secret key.

Shapes: https://docs.stripe.com/api/accounts/object and
https://docs.stripe.com/api/balance/balance_object. The balance is the sum of
succeeded charges minus refunds, per currency, all of it ``available``.
"""

from __future__ import annotations

from collections import defaultdict

from stripefleet.stripe_emulator.runtime import ApiRequest, Emulator
from stripefleet.stripe_emulator.state import Obj

ACCOUNT_NAME = "stripefleet emulator"


def retrieve_account(emu: Emulator, req: ApiRequest) -> Obj:
    """``GET /v1/account``: the one emulated account."""
    req.params.allow({"expand"})
    return {
        "id": emu.state.account_id,
        "object": "account",
        "business_profile": {"mcc": None, "name": ACCOUNT_NAME, "support_email": None,
                             "support_phone": None, "support_url": None, "url": None},
        "business_type": None,
        "capabilities": {"card_payments": "active", "transfers": "active"},
        "charges_enabled": True,
        "controller": {"type": "account"},
        "country": "FR",
        "created": 0,
        "default_currency": "eur",
        "details_submitted": True,
        "email": None,
        "metadata": {},
        "payouts_enabled": True,
        "settings": {"dashboard": {"display_name": ACCOUNT_NAME, "timezone": "Etc/UTC"}},
        "type": "standard",
    }


def retrieve_balance(emu: Emulator, req: ApiRequest) -> Obj:
    """``GET /v1/balance``: net of succeeded charges and refunds, by currency (cents)."""
    req.params.allow({"expand"})
    totals: dict[str, int] = defaultdict(int)
    for charge in emu.state.charges.values():
        if charge["status"] == "succeeded" and charge["livemode"] == req.livemode:
            totals[charge["currency"]] += charge["amount"] - charge["amount_refunded"]
    if not totals:
        totals["eur"] = 0
    funds = [{"amount": amount, "currency": currency, "source_types": {"card": amount}}
             for currency, amount in sorted(totals.items())]
    return {
        "object": "balance",
        "available": funds,
        "livemode": req.livemode,
        "pending": [{"amount": 0, "currency": f["currency"], "source_types": {"card": 0}}
                    for f in funds],
    }
