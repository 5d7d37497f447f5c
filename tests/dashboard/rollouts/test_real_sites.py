"""Safe rollouts against real site processes (``stripefleet site serve``) pointed at the
Stripe emulator: a key pair rollout checked by each site's ``POST /api/test-stripe``,
and a secret key that passes the preflight but that the sites cannot use, halted at the
canary and rolled back (README, "The dashboard")."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests
from flask import Flask
from sqlalchemy import select

from stripefleet.common.processes import ManagedProcess, all_stopped, free_port, stripefleet_argv
from stripefleet.dashboard.extensions import db
from stripefleet.dashboard.sites.models import Site
from tests.dashboard.conftest import Account, add_user, import_sites
from tests.dashboard.rollouts.conftest import Emulator, Keys, new_keys

API_KEY = "fleet-test-api-key-0123456789"
PAIR = "key_pair"


@pytest.fixture(scope="module")
def real_sites(emulator: Emulator, tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[str]]:
    """Two ``site serve`` processes whose Stripe is the emulator (shared by the module:
    each test pushes keys of its own)."""
    root = tmp_path_factory.mktemp("real-sites")
    procs: list[ManagedProcess] = []
    urls = []
    with all_stopped(procs):
        for index in range(2):
            port = free_port()
            proc = ManagedProcess(
                stripefleet_argv("site", "serve", "--instance-dir", str(root / f"site{index}"),
                                 "--port", str(port)),
                env={"TEMPLATE_MASTER_API_KEY": API_KEY, "STRIPE_API_BASE": emulator.url},
                log_path=root / f"site{index}.log")
            procs.append(proc.start())
            url = f"http://127.0.0.1:{port}"
            proc.wait_http(f"{url}/api/health", timeout=60)
            urls.append(url)
        yield urls


def _dashboard(make_app: Any, emulator: Emulator, urls: list[str]) -> tuple[Flask, Account,
                                                                             list[str]]:
    app = make_app(TEMPLATE_MASTER_API_KEY=API_KEY, STRIPE_API_BASE=emulator.url)
    owner = add_user(app, "owner")
    import_sites(app.test_client(), owner, urls)
    return app, owner, sorted(urls, key=lambda u: u.split("//", 1)[1])


def _push_pair(app: Flask, owner: Account, keys: Keys, **options: Any) -> dict[str, Any]:
    resp = app.test_client().post("/api/rollouts", json={
        "setting": PAIR, "value": {"stripe_publishable_key": keys.publishable_key,
                                   "stripe_secret_key": keys.secret_key},
        "options": {"retries": 0, "pause_for_approval": False, **options}},
        headers=owner.headers)
    assert resp.status_code == 202, resp.json
    answer: dict[str, Any] = app.test_client().get(
        f"/api/rollouts/{resp.json['rollout']['id']}", headers=owner.headers).json
    return answer


def _stripe_pk(url: str) -> str:
    body: dict[str, Any] = requests.get(f"{url}/api/stripe-pk", timeout=10).json()
    return str(body["publishable_key"])


def test_key_pair_reaches_real_sites_checked_by_stripe(
        make_app: Any, emulator: Emulator, real_sites: list[str]) -> None:
    """A key pair rollout: the preflight records the key's account, each site saves both
    keys and its functional check (the site calls the emulator) answers that account;
    the dashboard stores it per site."""
    app, owner, order = _dashboard(make_app, emulator, real_sites)
    keys = new_keys(emulator, account="new")
    answer = _push_pair(app, owner, keys)
    rollout = answer["rollout"]
    assert rollout["state"] == "succeeded", answer["targets"]
    assert rollout["preflight"] == {"account_id": keys.account, "livemode": False}
    assert [t["functional"] for t in answer["targets"]] == ["ok", "ok"]
    with app.app_context():
        sites = {s.url: s for s in db.session.scalars(select(Site))}
        facts = [(sites[u].stripe_account_id, sites[u].functional_state) for u in order]
    assert facts == [(keys.account, "ok")] * 2
    assert [_stripe_pk(u) for u in order] == [keys.publishable_key] * 2


def test_key_the_sites_cannot_use_halts_at_the_canary_and_is_rolled_back(
        make_app: Any, emulator: Emulator, real_sites: list[str]) -> None:
    """A new pair whose secret key Stripe accepts at the preflight, then refuses
    (expired) when the canary site checks it: the canary fails ``api_key_expired``, the
    other site is never pushed, and the automatic rollback puts the previous pair back
    on the canary (its check passes again)."""
    app, owner, order = _dashboard(make_app, emulator, real_sites)
    old = new_keys(emulator, account="new")
    assert _push_pair(app, owner, old, batches=["100%"])["rollout"]["state"] == "succeeded"
    new = new_keys(emulator, account=old.account)
    expire = requests.post(f"{emulator.url}/_emulator/keys/expire",
                           data={"secret_key": new.secret_key, "after_requests": "1"},
                           timeout=10)
    assert expire.status_code == 200, expire.text
    answer = _push_pair(app, owner, new, rollback_on_halt=True)
    rollout = answer["rollout"]
    assert rollout["halt_reason"] == "threshold exceeded in batch 1: 1 of 1 failed (max 0%)"
    states = {t["url"]: (t["state"], t["error"]) for t in answer["targets"]}
    assert states[order[0]] == ("rolled_back", "api_key_expired")
    assert states[order[1]] == ("skipped", "halted_by_threshold")
    back = app.test_client().get(f"/api/rollouts/{rollout['rollback_rollout_id']}",
                                 headers=owner.headers).json
    assert back["rollout"]["state"] == "succeeded"
    assert [t["functional"] for t in back["targets"]] == ["ok"]
    assert [_stripe_pk(u) for u in order] == [old.publishable_key] * 2
    check = requests.post(f"{order[0]}/api/test-stripe", headers={"X-API-Key": API_KEY},
                          timeout=20)
    assert check.status_code == 200 and check.json()["account_id"] == old.account

