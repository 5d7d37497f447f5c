"""Several accounts and live keys, as Stripe has them (``keystore.py``, ``control.py``,
``runtime.py``; README, section 'The Stripe emulator', "Accounts").

Each key pair belongs to an account and a mode; a key sees only its account's objects of
its mode (https://docs.stripe.com/keys), another's answer Stripe's 404
``resource_missing``, and events go to the owning account's endpoints only.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import stripe

from stripefleet.stripe_emulator import EmulatorError
from tests.stripe_emulator.conftest import (
    Receiver,
    RunningEmulator,
    session_params,
    wait_deliveries,
)


@pytest.fixture
def other(emulator: RunningEmulator) -> stripe.StripeClient:
    """An SDK client with the test key of a new account of the shared emulator."""
    return emulator.client(emulator.control.create_keys(account="new")["secret_key"])


def test_new_account_has_its_own_id_and_details(emulator: RunningEmulator) -> None:
    """``account=new`` with details: ``GET /v1/account`` answers that account."""
    pair = emulator.control.create_keys(account="new", name="Shop Two", country="US",
                                        email="two@example.com")
    assert pair["account"].startswith("acct_") and pair["livemode"] is False
    assert pair["secret_key"].startswith("sk_test_")
    account = emulator.client(pair["secret_key"]).v1.accounts.retrieve_current()
    assert account.id == pair["account"]
    assert account.settings.dashboard.display_name == "Shop Two"
    assert (account.country, account.default_currency, account.email) == (
        "US", "usd", "two@example.com")


def test_new_accounts_get_their_own_defaults(emulator: RunningEmulator) -> None:
    """Two new accounts without details: other ids, names and emails than the default's."""
    keys = [emulator.secret_key] + [emulator.control.create_keys(account="new")["secret_key"]
                                    for _ in range(2)]
    accounts = [emulator.client(k).v1.accounts.retrieve_current() for k in keys]
    assert len({a.id for a in accounts}) == 3
    assert len({a.settings.dashboard.display_name for a in accounts}) == 3
    assert len({a.email for a in accounts}) == 3
    assert accounts[0].settings.dashboard.display_name == "stripefleet emulator"


def test_default_account_is_the_first_pairs(emulator: RunningEmulator) -> None:
    """The keys file's first pair belongs to the default account; a pair made without
    ``account`` joins it."""
    default = emulator.keys[0]["account"]
    pair = emulator.control.create_keys()
    assert pair["account"] == default
    assert emulator.client(pair["secret_key"]).v1.accounts.retrieve_current().id == default
    assert emulator.client().v1.accounts.retrieve_current().id == default


def test_pair_added_to_an_account_sees_its_objects(emulator: RunningEmulator,
                                                   other: stripe.StripeClient) -> None:
    """``account=acct_...`` adds a pair to that account: it sees the account's sessions."""
    account = other.v1.accounts.retrieve_current().id
    session = other.v1.checkout.sessions.create(params=session_params())
    pair = emulator.control.create_keys(account=account)
    assert pair["account"] == account
    second = emulator.client(pair["secret_key"])
    assert second.v1.checkout.sessions.retrieve(session.id).id == session.id


def test_unknown_account_is_404(emulator: RunningEmulator) -> None:
    """A pair for an account that does not exist: 404 ``resource_missing``."""
    with pytest.raises(EmulatorError) as info:
        emulator.control.create_keys(account="acct_doesNotExist")
    assert (info.value.status, info.value.code) == (404, "resource_missing")


def test_account_details_need_account_new(emulator: RunningEmulator) -> None:
    """``name`` (or country, email, currency) without ``account=new``: 400."""
    with pytest.raises(EmulatorError) as info:
        emulator.control.create_keys(name="Shop")
    assert (info.value.status, info.value.error["param"]) == (400, "name")


def test_malformed_country_is_400(emulator: RunningEmulator) -> None:
    """``account=new`` with a country that is no two-letter code: 400 naming it."""
    with pytest.raises(EmulatorError) as info:
        emulator.control.create_keys(account="new", country="France")
    assert (info.value.status, info.value.error["param"]) == (400, "country")


def test_live_pair_makes_live_objects(emulator: RunningEmulator) -> None:
    """``mode=live``: an ``sk_live_``/``pk_live_`` pair; its sessions, payments and events
    have ``livemode: true``."""
    pair = emulator.control.create_keys(mode="live")
    assert pair["secret_key"].startswith("sk_live_")
    assert pair["publishable_key"].startswith("pk_live_")
    assert pair["livemode"] is True
    live = emulator.client(pair["secret_key"])
    session = live.v1.checkout.sessions.create(params=session_params())
    assert session.id.startswith("cs_live_") and session.livemode is True
    pi = emulator.control.pay(session.id)["payment_intent"]
    assert pi["livemode"] is True
    events = live.v1.events.list(params={"type": "checkout.session.completed"}).data
    assert events[0].livemode is True and events[0].data.object.id == session.id


def test_test_key_cannot_see_live_objects(emulator: RunningEmulator,
                                          client: stripe.StripeClient) -> None:
    """A live session is a 404 for a test key of the same account, with Stripe's hint."""
    live = emulator.client(emulator.control.create_keys(mode="live")["secret_key"])
    session = live.v1.checkout.sessions.create(params=session_params())
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.checkout.sessions.retrieve(session.id)
    assert (info.value.http_status, info.value.code) == (404, "resource_missing")
    assert "a similar object exists in live mode" in info.value.user_message
    listed = client.v1.checkout.sessions.list(params={"limit": 100}).data
    assert session.id not in [s.id for s in listed]


def test_other_accounts_session_is_404(client: stripe.StripeClient,
                                       other: stripe.StripeClient) -> None:
    """Another account's session: retrieve, line items and expire answer 404."""
    session = other.v1.checkout.sessions.create(params=session_params())
    calls = [lambda: client.v1.checkout.sessions.retrieve(session.id),
             lambda: client.v1.checkout.sessions.line_items.list(session.id),
             lambda: client.v1.checkout.sessions.expire(session.id)]
    for call in calls:
        with pytest.raises(stripe.InvalidRequestError) as info:
            call()
        assert (info.value.http_status, info.value.code) == (404, "resource_missing")
    assert other.v1.checkout.sessions.retrieve(session.id).status == "open"


def test_lists_hold_only_the_accounts_objects(emulator: RunningEmulator,
                                              client: stripe.StripeClient,
                                              other: stripe.StripeClient) -> None:
    """Sessions, PaymentIntents, refunds, events and endpoints of another account are in
    none of this account's lists."""
    session = other.v1.checkout.sessions.create(params=session_params())
    pi = emulator.control.pay(session.id)["payment_intent"]["id"]
    refund = other.v1.refunds.create(params={"payment_intent": pi})
    endpoint = other.v1.webhook_endpoints.create(params={
        "url": "http://127.0.0.1:9/hook", "enabled_events": ["*"]})
    mine = {
        "sessions": [s.id for s in client.v1.checkout.sessions.list(
            params={"limit": 100}).auto_paging_iter()],
        "payment_intents": [p.id for p in client.v1.payment_intents.list(
            params={"limit": 100}).auto_paging_iter()],
        "refunds": [r.id for r in client.v1.refunds.list(
            params={"limit": 100}).auto_paging_iter()],
        "events": [e.data.object.id for e in client.v1.events.list(
            params={"limit": 100}).auto_paging_iter()],
        "endpoints": [e.id for e in client.v1.webhook_endpoints.list(
            params={"limit": 100}).auto_paging_iter()],
    }
    theirs = {session.id, pi, refund.id, endpoint.id}
    assert not theirs & {i for ids in mine.values() for i in ids}
    assert [r.id for r in other.v1.refunds.list().data] == [refund.id]
    assert [p.id for p in other.v1.payment_intents.list().data] == [pi]


def test_other_accounts_payment_cannot_be_read_or_refunded(
        emulator: RunningEmulator, client: stripe.StripeClient,
        other: stripe.StripeClient) -> None:
    """Another account's PaymentIntent, charge and refund: 404; refunding it: 404."""
    session = other.v1.checkout.sessions.create(params=session_params())
    pi = emulator.control.pay(session.id)["payment_intent"]
    refund = other.v1.refunds.create(params={"payment_intent": pi["id"], "amount": 100})
    calls = [lambda: client.v1.payment_intents.retrieve(pi["id"]),
             lambda: client.v1.charges.retrieve(pi["latest_charge"]),
             lambda: client.v1.refunds.retrieve(refund.id),
             lambda: client.v1.refunds.create(params={"payment_intent": pi["id"]})]
    for call in calls:
        with pytest.raises(stripe.InvalidRequestError) as info:
            call()
        assert (info.value.http_status, info.value.code) == (404, "resource_missing")
    assert other.v1.refunds.retrieve(refund.id).amount == 100


def test_other_accounts_event_is_404(emulator: RunningEmulator, client: stripe.StripeClient,
                                     other: stripe.StripeClient) -> None:
    """An event about another account's session: 404 for this account's key."""
    session = other.v1.checkout.sessions.create(params=session_params())
    other.v1.checkout.sessions.expire(session.id)
    event = other.v1.events.list(params={"type": "checkout.session.expired"}).data[0]
    assert event.data.object.id == session.id
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.events.retrieve(event.id)
    assert info.value.code == "resource_missing"


def test_other_accounts_endpoint_cannot_be_read_changed_or_deleted(
        client: stripe.StripeClient, other: stripe.StripeClient) -> None:
    """Another account's webhook endpoint: retrieve, update and delete answer 404."""
    endpoint = other.v1.webhook_endpoints.create(params={
        "url": "http://127.0.0.1:9/hook", "enabled_events": ["*"]})
    calls = [lambda: client.v1.webhook_endpoints.retrieve(endpoint.id),
             lambda: client.v1.webhook_endpoints.update(endpoint.id,
                                                        params={"disabled": True}),
             lambda: client.v1.webhook_endpoints.delete(endpoint.id)]
    for call in calls:
        with pytest.raises(stripe.InvalidRequestError) as info:
            call()
        assert (info.value.http_status, info.value.code) == (404, "resource_missing")
    assert other.v1.webhook_endpoints.retrieve(endpoint.id).status == "enabled"


def test_events_go_to_the_owning_accounts_endpoints(
        emulator: RunningEmulator, receiver: Receiver, hook: str,
        other: stripe.StripeClient) -> None:
    """A payment of another account reaches its endpoint, not this account's."""
    mine = emulator.client().v1.webhook_endpoints.create(params={
        "url": receiver.url(f"{hook}_mine"), "enabled_events": ["checkout.session.completed"]})
    theirs = other.v1.webhook_endpoints.create(params={
        "url": receiver.url(hook), "enabled_events": ["checkout.session.completed"]})
    try:
        session = other.v1.checkout.sessions.create(params=session_params())
        emulator.control.pay(session.id)
        hit = receiver.wait(hook, 1)[0]
        event = stripe.Webhook.construct_event(hit.payload, hit.signature, theirs.secret)
        assert event.data.object.id == session.id
        attempts = wait_deliveries(emulator, 1, event_id=event.id)
        assert [a["endpoint_id"] for a in attempts] == [theirs.id]
        assert attempts[0]["account"] == other.v1.accounts.retrieve_current().id
        assert emulator.control.deliveries(endpoint_id=mine.id) == []
    finally:
        emulator.client().v1.webhook_endpoints.delete(mine.id)


def test_live_events_go_to_live_endpoints_only(
        emulator: RunningEmulator, receiver: Receiver, hook: str) -> None:
    """A live payment reaches the account's live endpoint, not its test endpoint."""
    live = emulator.client(emulator.control.create_keys(account="new", mode="live")[
        "secret_key"])
    account = live.v1.accounts.retrieve_current().id
    test = emulator.client(emulator.control.create_keys(account=account)["secret_key"])
    test_endpoint = test.v1.webhook_endpoints.create(params={
        "url": receiver.url(f"{hook}_test"), "enabled_events": ["*"]})
    live_endpoint = live.v1.webhook_endpoints.create(params={
        "url": receiver.url(hook), "enabled_events": ["checkout.session.completed"]})
    assert (live_endpoint.livemode, test_endpoint.livemode) == (True, False)
    emulator.control.pay(live.v1.checkout.sessions.create(params=session_params()).id)
    assert json.loads(receiver.wait(hook, 1)[0].payload)["livemode"] is True
    wait_deliveries(emulator, 1, endpoint_id=live_endpoint.id)
    assert emulator.control.deliveries(endpoint_id=test_endpoint.id) == []


def test_balance_is_the_accounts_own(emulator: RunningEmulator,
                                     other: stripe.StripeClient) -> None:
    """A new account's balance counts only its own payments."""
    assert other.v1.balance.retrieve().available[0].amount == 0
    emulator.control.pay(other.v1.checkout.sessions.create(params=session_params()).id)
    assert other.v1.balance.retrieve().available[0].amount == 2500


def test_expire_by_form_answers_api_key_expired(emulator: RunningEmulator) -> None:
    """``POST /_emulator/keys/expire secret_key=...``: the key then answers 401
    ``api_key_expired``."""
    pair = emulator.control.create_keys(account="new")
    resp = emulator.http("POST", "/_emulator/keys/expire", "",
                         {"secret_key": pair["secret_key"]})
    assert resp.json() == {"secret_key": pair["secret_key"][:8] + "..."
                           + pair["secret_key"][-4:], "account": pair["account"],
                           "expired": True}
    with pytest.raises(stripe.AuthenticationError) as info:
        emulator.client(pair["secret_key"]).v1.accounts.retrieve_current()
    assert info.value.error.code == "api_key_expired"


def test_accounts_listing_masks_secret_keys(emulator: RunningEmulator) -> None:
    """``GET /_emulator/accounts``: each account with its pairs, secret keys masked."""
    pair = emulator.control.create_keys(account="new", mode="live")
    listed = {a["id"]: a for a in emulator.control.accounts()}
    keys = listed[pair["account"]]["keys"]
    assert [k["publishable_key"] for k in keys] == [pair["publishable_key"]]
    assert keys[0]["livemode"] is True
    assert pair["secret_key"] not in json.dumps(listed)
    assert emulator.keys[0]["account"] == next(iter(listed))


def test_keys_file_keeps_each_pairs_account(
        start_emulator: Callable[..., RunningEmulator]) -> None:
    """The keys file records every account and the account of each pair; a restart
    keeps them."""
    first = start_emulator()
    pair = first.control.create_keys(account="new", name="Shop Two", mode="live")
    saved = json.loads(first.keys_file.read_text())
    assert {k["secret_key"]: k["account"] for k in saved["keys"]}[pair["secret_key"]] == (
        pair["account"])
    assert [a["name"] for a in saved["accounts"]] == ["stripefleet emulator", "Shop Two"]
    first.process.stop()
    second = start_emulator()
    account = second.client(pair["secret_key"]).v1.accounts.retrieve_current()
    assert (account.id, account.settings.dashboard.display_name) == (pair["account"],
                                                                     "Shop Two")


def test_files_from_before_accounts_still_load(
        start_emulator: Callable[..., RunningEmulator], tmp_path: Path) -> None:
    """A keys file without accounts and a state file without owners (an older emulator):
    the pairs and objects belong to the default account, which keeps the old id."""
    state_file = tmp_path / "state.json"
    first = start_emulator("--state-file", str(state_file))
    session = first.client().v1.checkout.sessions.create(params=session_params())
    first.process.stop()
    keys: dict[str, Any] = json.loads(first.keys_file.read_text())
    old_keys = {"keys": [{k: v for k, v in pair.items() if k != "account"}
                         for pair in keys["keys"]]}
    first.keys_file.write_text(json.dumps(old_keys))
    state = json.loads(state_file.read_text())
    del state["owners"]
    state_file.write_text(json.dumps(state))

    second = start_emulator("--state-file", str(state_file))
    client = second.client(first.secret_key)
    assert client.v1.checkout.sessions.retrieve(session.id).id == session.id
    assert client.v1.accounts.retrieve_current().id == state["account_id"]
    assert second.keys[0]["account"] == state["account_id"]
