"""The dashboard's pages in real Chromium (Playwright): log in, import sites, dry run,
start the rollout, watch live progress to the recap, roll back. Screenshots go to
``test-artifacts/<test>/``. Runs against ``dashboard serve`` and real site processes.

Then the safe rollout's forms and buttons through Flask's test client (README, "The
dashboard"): who sees the key pair and the overrides, a refused form that keeps what
was typed but never a secret, the canary's Continue / Halt buttons. The safe rollouts
in Chromium, and the propagation button of the "New rollout" page, are in
``tests/dashboard/browser/`` (fault fleets whose sites hold a secret key, so that their
functional check passes)."""

from __future__ import annotations

import contextlib
import re
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient

from stripefleet.testing.fleet import FaultFleet
from tests.conftest import CHROMIUM_ARGS
from tests.dashboard.conftest import (
    PASSWORD,
    PK,
    Account,
    Stack,
    csrf_token,
    import_sites,
    login,
)
from tests.dashboard.test_cli import site_pk, wait_rollout

FINISHED = "succeeded, partially_failed, failed, halted, rolled_back"


def finished_state(page: object) -> None:
    page.wait_for_function(  # type: ignore[attr-defined]
        "s => s.split(', ').includes(document.getElementById('state').textContent)",
        arg=FINISHED, timeout=60000)


@contextlib.contextmanager
def logged_in_page(stack: Stack, chromium_path: str) -> Iterator[Any]:
    """A Chromium page logged in as the stack's owner; the browser closes on the way out."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.goto(f"{stack.url}/login")
            page.fill("input[name=email]", stack.owner_email)
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            yield page
        finally:
            browser.close()


@pytest.mark.browser
def test_operator_journey_in_chromium(stack: Stack, chromium_path: str,
                                      artifacts_dir: Path) -> None:
    """An owner logs in, imports the sites file, dry-runs a publishable key, starts the
    rollout, sees per-site rows and the recap appear without reloading, rolls back, and
    the sites hold their previous key again. (The functional check is off: these sites
    hold no secret key, so ``POST /api/test-stripe`` would refuse each push; the checks
    are in ``tests/dashboard/browser/``.)"""
    from playwright.sync_api import expect

    baseline = f"pk_test_Base{secrets.token_hex(4)}"
    resp = requests.post(f"{stack.url}/api/sites/import", headers=stack.headers, timeout=5,
                         json={"text": "\n".join(stack.site_urls)})
    resp.raise_for_status()
    first = requests.post(f"{stack.url}/api/rollouts", headers=stack.headers, timeout=5,
                          json={"setting": PK, "value": baseline,
                                "options": {"functional_verify": False}})
    wait_rollout(stack, first.json()["rollout"]["id"])
    new_key = f"pk_test_Browser{secrets.token_hex(4)}"

    with logged_in_page(stack, chromium_path) as page:
        expect(page.locator("h1")).to_contain_text("Fleet")

        page.fill("textarea[name=text]", "\n".join(stack.site_urls) + "\n")
        page.click("form[action$='/sites/import'] button[type=submit]")
        expect(page.locator(".flash.ok")).to_contain_text("already known")
        expect(page.locator("#sites tbody tr")).to_have_count(len(stack.site_urls))
        page.screenshot(path=str(artifacts_dir / "1-fleet.png"), full_page=True)

        page.click("text=New rollout")
        page.select_option("#setting", PK)
        page.fill("#value", new_key)
        page.uncheck("#functional-verify")
        page.click("#dry-run")
        finished_state(page)
        expect(page.locator("#targets tbody tr[data-state=would_change]")).to_have_count(2)
        page.screenshot(path=str(artifacts_dir / "2-dry-run.png"), full_page=True)
        assert all(site_pk(u) == baseline for u in stack.site_urls)  # a dry run reads only

        page.click("#start-push")
        expect(page.locator("h1")).to_contain_text("push")
        finished_state(page)
        expect(page.locator("#recap")).to_contain_text("changed=2")
        expect(page.locator("#targets tbody tr[data-state=changed]")).to_have_count(2)
        page.screenshot(path=str(artifacts_dir / "3-recap.png"), full_page=True)
        assert all(site_pk(u) == new_key for u in stack.site_urls)

        page.click("#rollback")
        expect(page.locator("h1")).to_contain_text("rollback")
        finished_state(page)
        expect(page.locator("#recap")).to_contain_text("rolled_back=2")
        page.screenshot(path=str(artifacts_dir / "4-rolled-back.png"), full_page=True)
        assert all(site_pk(u) == baseline for u in stack.site_urls)

        page.click("text=History")
        expect(page.locator("#history tbody tr").first).to_contain_text("rollback")
        page.click("text=Audit")
        expect(page.locator("#audit")).to_contain_text("rollout.roll_back")
        page.screenshot(path=str(artifacts_dir / "5-audit.png"), full_page=True)


# -- the safe rollout's pages, through Flask's test client --------------------------------


def _form_token(client: FlaskClient) -> str:
    return csrf_token(client, "/rollouts/new")


def test_new_rollout_form_offers_key_pair_and_overrides_to_owners_only(
        app: Flask, users: dict[str, Account]) -> None:
    """The form's key pair and its "allow mode mismatch" / "allow account change"
    overrides are an owner's; an operator sees the safety options without them."""
    pages = {}
    for role in ("operator", "owner"):
        client = app.test_client()
        login(client, users[role].email)
        pages[role] = client.get("/rollouts/new").get_data(as_text=True)
    for field in ('id="batches"', 'id="max-fail"', 'id="pause-for-approval"',
                  'id="rollback-on-halt"', 'id="functional-verify"'):
        assert field in pages["operator"] and field in pages["owner"]
    for owner_only in ('value="key_pair"', 'name="allow_mode_mismatch"',
                       'name="allow_account_change"'):
        assert owner_only in pages["owner"]
        assert owner_only not in pages["operator"]


def test_refused_key_pair_keeps_the_form_but_never_echoes_a_secret(
        app: Flask, users: dict[str, Account], fleet: FaultFleet) -> None:
    """A key pair refused (a live publishable key with a test secret key) shows the
    form again beside the refusal, with the publishable key, targets and options as
    they were (ticked or not), and neither the secret key nor the webhook secret
    anywhere in the page."""
    owner = users["owner"]
    client = app.test_client()
    import_sites(client, owner, fleet.urls)
    login(client, owner.email)
    secret = f"sk_test_Hidden{secrets.token_hex(6)}"
    webhook = f"whsec_Hidden{secrets.token_hex(6)}"
    public = f"pk_live_Shown{secrets.token_hex(4)}"
    resp = client.post("/rollouts/new", data={
        "csrf_token": _form_token(client), "setting": "key_pair", "action": "start",
        "pair_publishable_key": public, "pair_secret_key": secret,
        "pair_webhook_secret": webhook, "targets": "tag", "tag": "test",
        "batches": "1,50%", "max_fail_percentage": "5", "pause_for_approval": "1"})
    page = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert 'id="refusals"' in page and "pair_mode_mismatch" in page
    assert secret not in page and webhook not in page
    assert public in page and 'value="1,50%"' in page and 'value="test"' in page
    assert re.search(r'id="pause-for-approval"[^>]*checked', page)  # ticked: kept
    assert not re.search(r'id="functional-verify"[^>]*checked', page)  # unticked: kept
    assert client.get("/api/rollouts", headers=owner.headers).json["rollouts"] == []


def _awaiting(client: FlaskClient, owner: Account, fleet: FaultFleet) -> int:
    """A publishable key rollout to the fleet, paused after its one-site canary."""
    import_sites(client, owner, fleet.urls)
    resp = client.post("/api/rollouts", headers=owner.headers, json={
        "setting": PK, "value": f"pk_test_Pause{secrets.token_hex(4)}",
        "options": {"batches": [1, "100%"], "pause_for_approval": True}})
    assert resp.status_code == 202, resp.json
    rollout_id = int(resp.json["rollout"]["id"])
    state = client.get(f"/api/rollouts/{rollout_id}", headers=owner.headers).json
    assert state["rollout"]["state"] == "awaiting_approval", state["rollout"]
    return rollout_id


def test_approval_buttons_are_for_those_who_may_push(
        app: Flask, users: dict[str, Account], fleet: FaultFleet) -> None:
    """A rollout awaiting approval shows Continue / Halt to an operator (a publishable
    key), never to a viewer."""
    rollout_id = _awaiting(app.test_client(), users["owner"], fleet)
    pages = {}
    for role in ("viewer", "operator"):
        client = app.test_client()
        login(client, users[role].email)
        pages[role] = client.get(f"/rollouts/{rollout_id}").get_data(as_text=True)
    assert 'id="approve"' in pages["operator"] and 'id="halt-canary"' in pages["operator"]
    assert 'id="approve"' not in pages["viewer"] and 'id="halt-canary"' not in pages["viewer"]


def test_continue_button_runs_the_rest_and_is_audited(
        app: Flask, users: dict[str, Account], fleet: FaultFleet) -> None:
    """Continue (a CSRF-checked form) approves the canary: the rest of the sites are
    pushed (the test queue runs them at once) and the approval is in the audit log."""
    owner, operator = users["owner"], users["operator"]
    rollout_id = _awaiting(app.test_client(), owner, fleet)
    client = app.test_client()
    login(client, operator.email)
    resp = client.post(f"/rollouts/{rollout_id}/approve",
                       data={"csrf_token": csrf_token(client, f"/rollouts/{rollout_id}")})
    assert resp.status_code == 302
    assert resp.headers["Location"].endswith(f"/rollouts/{rollout_id}")
    state = client.get(f"/api/rollouts/{rollout_id}", headers=owner.headers).json["rollout"]
    assert state["state"] == "succeeded"
    events = client.get("/api/audit?action=rollout.approve", headers=owner.headers).json
    assert [e["actor"] for e in events["events"]] == [operator.email]


def test_halt_button_of_the_canary_halts_it(
        app: Flask, users: dict[str, Account], fleet: FaultFleet) -> None:
    """Halt on a rollout awaiting approval ends it ``halted``: the sites after the
    canary are skipped."""
    owner = users["owner"]
    rollout_id = _awaiting(app.test_client(), owner, fleet)
    client = app.test_client()
    login(client, users["operator"].email)
    resp = client.post(f"/rollouts/{rollout_id}/halt",
                       data={"csrf_token": csrf_token(client, f"/rollouts/{rollout_id}")})
    assert resp.status_code == 302
    data = client.get(f"/api/rollouts/{rollout_id}", headers=owner.headers).json
    assert data["rollout"]["state"] == "halted"
    assert data["progress"].get("skipped") == len(fleet.urls) - 1
