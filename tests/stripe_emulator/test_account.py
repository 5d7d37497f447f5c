"""``GET /v1/account`` and ``GET /v1/balance`` through the SDK (``account.py``)."""

from __future__ import annotations

import stripe


def test_account_retrieve(client: stripe.StripeClient) -> None:
    """The account has an ``acct_`` id and can take card payments."""
    account = client.v1.accounts.retrieve_current()
    assert account.id.startswith("acct_")
    assert account.charges_enabled is True


def test_balance_retrieve(client: stripe.StripeClient) -> None:
    """The balance is a ``balance`` object in test mode with integer amounts."""
    balance = client.v1.balance.retrieve()
    assert balance.object == "balance"
    assert balance.livemode is False
    assert all(isinstance(f.amount, int) for f in balance.available)


async def test_balance_retrieve_async(async_client: stripe.StripeClient) -> None:
    """The async client reads the balance too."""
    balance = await async_client.v1.balance.retrieve_async()
    assert balance.object == "balance"
