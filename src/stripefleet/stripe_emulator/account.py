"""``GET /v1/account`` and ``GET /v1/balance``: what a site calls to check a secret key.

Both answer for the account of the secret key used (README, section 'The Stripe
emulator', "Accounts"). Shapes: https://docs.stripe.com/api/accounts/object (a Standard
account with its own Dashboard, fully onboarded: charges and payouts enabled, nothing
due) and https://docs.stripe.com/api/balance/balance_object. The balance is the sum of
the account's succeeded charges of the key's mode minus refunds, per currency, all of
it ``available``.
"""

from __future__ import annotations

from collections import defaultdict

from stripefleet.stripe_emulator.keystore import Account
from stripefleet.stripe_emulator.runtime import ApiRequest, Emulator
from stripefleet.stripe_emulator.state import Obj


def _requirements() -> Obj:
    """Nothing due (https://docs.stripe.com/api/accounts/object#account_object-requirements)."""
    return {"alternatives": [], "current_deadline": None, "currently_due": [],
            "disabled_reason": None, "errors": [], "eventually_due": [], "past_due": [],
            "pending_verification": []}


def account_object(account: Account) -> Obj:
    """The Account object of an emulated account (every field of Stripe's reference)."""
    return {
        "id": account.id,
        "object": "account",
        "business_profile": {
            "annual_revenue": None, "estimated_worker_count": None, "mcc": None,
            "minority_owned_business_designation": None, "monthly_estimated_revenue": None,
            "name": account.name, "product_description": None,
            "specified_commercial_transactions_act_url": None, "support_address": None,
            "support_email": account.email, "support_phone": None, "support_url": None,
            "url": None,
        },
        "business_type": None,
        "capabilities": {"card_payments": "active", "transfers": "active"},
        "charges_enabled": True,
        "controller": {"type": "account"},
        "country": account.country,
        "created": account.created,
        "default_currency": account.default_currency,
        "details_submitted": True,
        "email": account.email,
        "external_accounts": {"object": "list", "data": [], "has_more": False,
                              "url": f"/v1/accounts/{account.id}/external_accounts"},
        "future_requirements": _requirements(),
        "groups": None,
        "metadata": {},
        "payouts_enabled": True,
        "requirements": _requirements(),
        "settings": {
            "branding": {"icon": None, "logo": None, "primary_color": None,
                         "secondary_color": None},
            "card_payments": {"decline_on": {"avs_failure": False, "cvc_failure": False},
                              "statement_descriptor_prefix": None,
                              "statement_descriptor_prefix_kana": None,
                              "statement_descriptor_prefix_kanji": None},
            "dashboard": {"display_name": account.name, "timezone": "Etc/UTC"},
            "payments": {"statement_descriptor": account.name.upper()[:22],
                         "statement_descriptor_kana": None,
                         "statement_descriptor_kanji": None},
            "payouts": {"debit_negative_balances": True,
                        "schedule": {"delay_days": 7, "interval": "daily"},
                        "statement_descriptor": None},
        },
        "tos_acceptance": {"date": account.created, "ip": "127.0.0.1",
                           "service_agreement": "full", "user_agent": None},
        "type": "standard",
    }


def retrieve_account(emu: Emulator, req: ApiRequest) -> Obj:
    """``GET /v1/account``: the account of the secret key used."""
    req.params.allow({"expand"})
    account = emu.keys.account(req.account) or emu.keys.default_account
    return account_object(account)


def retrieve_balance(emu: Emulator, req: ApiRequest) -> Obj:
    """``GET /v1/balance``: net of the account's succeeded charges and refunds in the
    key's mode, by currency (smallest unit)."""
    req.params.allow({"expand"})
    totals: dict[str, int] = defaultdict(int)
    for charge in emu.state.charges.values():
        if charge["status"] == "succeeded" and emu.visible(charge, req):
            totals[charge["currency"]] += charge["amount"] - charge["amount_refunded"]
    if not totals:
        account = emu.keys.account(req.account) or emu.keys.default_account
        totals[account.default_currency] = 0
    funds = [{"amount": amount, "currency": currency, "source_types": {"card": amount}}
             for currency, amount in sorted(totals.items())]
    return {
        "object": "balance",
        "available": funds,
        "livemode": req.livemode,
        "pending": [{"amount": 0, "currency": f["currency"], "source_types": {"card": 0}}
                    for f in funds],
    }
