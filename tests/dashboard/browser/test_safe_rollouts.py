"""Safe rollouts on the dashboard's pages, in real Chromium (Playwright): a canary batch
paused for approval, then continued to the end; a batch over its failure threshold that
halts the rollout and rolls back what changed; the preflight's refusals beside the form
and in a dry run's table; the fleet page's Stripe account and functional check (README,
"The dashboard"; the troubleshooting guide: try one site first, notice failures, never
mix test and live).

Runs against ``dashboard serve`` (``browser/conftest.py``) and a fault fleet of fake
sites in this process (``stripefleet.testing.fleet``), each test with sites of its own
(a tag of its own selects them). Screenshots go to ``test-artifacts/<test>/``.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from stripefleet.common.keys import SECRET_KEY
from stripefleet.testing.fleet import FaultFleet
from tests.dashboard.conftest import PK, Stack
from tests.dashboard.test_pages import finished_state, logged_in_page
from tests.site.shop.harness import Emulator

pytestmark = pytest.mark.browser

#: Milliseconds Playwright waits for a rollout to reach a state (a slow shared machine).
WAIT_MS = 60000


def register(dashboard: Stack, fleet: FaultFleet, tag: str, names: list[str],
             env: str = "test") -> None:
    """Register the fleet's sites on the dashboard, named ``names`` (the order the
    dashboard lists them in, hence the batches' order) and tagged ``tag``."""
    lines = [f"{url} name={name} env={env} tags={tag}"
             for url, name in zip(fleet.urls, names, strict=True)]
    resp = requests.post(f"{dashboard.url}/api/sites/import", headers=dashboard.headers,
                         timeout=10, json={"text": "\n".join(lines)})
    assert resp.status_code == 200, resp.text


def fill_form(page: object, *, value: str, tag: str, batches: str, max_fail: str,
              pause: bool, rollback: bool) -> None:
    """Fill the New rollout form for a publishable key to the sites tagged ``tag``."""
    page.select_option("#setting", PK)  # type: ignore[attr-defined]
    page.fill("#value", value)  # type: ignore[attr-defined]
    page.check("input[name=targets][value=tag]")  # type: ignore[attr-defined]
    page.fill("input[name=tag]", tag)  # type: ignore[attr-defined]
    page.fill("#batches", batches)  # type: ignore[attr-defined]
    page.fill("#max-fail", max_fail)  # type: ignore[attr-defined]
    page.set_checked("#pause-for-approval", pause)  # type: ignore[attr-defined]
    page.set_checked("#rollback-on-halt", rollback)  # type: ignore[attr-defined]


@pytest.fixture
def baseline() -> str:
    """A publishable key the test's sites hold before its rollouts."""
    return f"pk_test_Base{secrets.token_hex(4)}"


@pytest.fixture
def tag() -> str:
    """A tag of this test's own, selecting only its sites."""
    return f"t{secrets.token_hex(3)}"


def hold_keys(fleet: FaultFleet, baseline: str) -> None:
    """Give each fake site ``baseline`` and a test secret key (so that its functional
    check, ``POST /api/test-stripe``, passes unless its behaviour says otherwise)."""
    for url in fleet.urls:
        fleet.set_value(url, PK, baseline)
        fleet.set_value(url, SECRET_KEY, f"sk_test_Held{secrets.token_hex(6)}")


@pytest.fixture
def healthy_fleet(baseline: str) -> Iterator[FaultFleet]:
    """Three healthy fake sites holding ``baseline`` and a test secret key."""
    with FaultFleet(sites=3) as fleet:
        hold_keys(fleet, baseline)
        yield fleet


def test_canary_pauses_for_approval_then_continues_to_the_end(
        dashboard: Stack, chromium_path: str, artifacts_dir: Path, healthy_fleet: FaultFleet,
        baseline: str, tag: str) -> None:
    """A rollout with batches "1,100%" and a pause for approval pushes to one site (the
    canary), shows its result and waits with Continue / Halt; Continue pushes to the
    rest, the batches table showing each batch's progress, to ``succeeded``."""
    from playwright.sync_api import expect

    fleet = healthy_fleet
    register(dashboard, fleet, tag, [f"{tag}-a", f"{tag}-b", f"{tag}-c"])
    new_key = f"pk_test_Canary{secrets.token_hex(4)}"
    with logged_in_page(dashboard, chromium_path) as page:
        page.goto(f"{dashboard.url}/rollouts/new")
        fill_form(page, value=new_key, tag=tag, batches="1,100%", max_fail="0", pause=True,
                  rollback=False)
        page.screenshot(path=str(artifacts_dir / "1-new-rollout-form.png"), full_page=True)
        page.click("#start")

        expect(page.locator("#state")).to_have_text("awaiting_approval", timeout=WAIT_MS)
        expect(page.locator("#approval")).to_be_visible()
        expect(page.locator("#canary tbody tr")).to_have_count(1)
        expect(page.locator("#canary tbody tr[data-state=changed]")).to_have_count(1)
        expect(page.locator("#batches tbody tr")).to_have_count(2)
        expect(page.locator("#batches tbody tr[data-batch='0']")).to_have_attribute(
            "data-state", "done")
        expect(page.locator("#threshold")).to_contain_text("0")
        expect(page.locator("#halt")).to_be_hidden()
        page.screenshot(path=str(artifacts_dir / "2-awaiting-approval.png"), full_page=True)
        held = [fleet.value(url, PK) or "" for url in fleet.urls]
        assert sorted(held) == sorted([new_key, baseline, baseline])  # only the canary

        page.click("#approve")
        finished_state(page)
        expect(page.locator("#state")).to_have_text("succeeded")
        expect(page.locator("#approval")).to_be_hidden()
        expect(page.locator("#batches tbody tr[data-state=done]")).to_have_count(2)
        expect(page.locator("#recap")).to_contain_text("changed=3")
        expect(page.locator("#targets tbody tr[data-state=changed]")).to_have_count(3)
        page.screenshot(path=str(artifacts_dir / "3-continued-to-the-end.png"), full_page=True)
    assert all(fleet.value(url, PK) == new_key for url in fleet.urls)


def test_batch_over_threshold_halts_and_rolls_back(
        dashboard: Stack, chromium_path: str, artifacts_dir: Path, baseline: str,
        tag: str) -> None:
    """With a 0 % threshold, a site of the second batch whose keys do not work (its
    functional check: ``stripe_auth_failed``) halts the rollout (its reason shown) and
    the rollback it starts puts the previous key back on the sites it changed; the page
    links the rollback and shows its recap."""
    from playwright.sync_api import expect

    with FaultFleet(["ok", "ok", "stripe_auth_failed"]) as fleet:
        hold_keys(fleet, baseline)
        register(dashboard, fleet, tag, [f"{tag}-a", f"{tag}-b", f"{tag}-z-broken"])
        new_key = f"pk_test_Halt{secrets.token_hex(4)}"
        with logged_in_page(dashboard, chromium_path) as page:
            page.goto(f"{dashboard.url}/rollouts/new")
            fill_form(page, value=new_key, tag=tag, batches="1,100%", max_fail="0",
                      pause=False, rollback=True)
            page.click("#start")

            expect(page.locator("#state")).to_have_text("rolled_back", timeout=WAIT_MS)
            expect(page.locator("#halt-reason")).to_be_visible()
            expect(page.locator("#halt-reason")).not_to_be_empty()
            expect(page.locator("#rollback-link")).to_be_visible()
            expect(page.locator("#rollback-recap")).to_contain_text("rolled_back=2",
                                                                    timeout=WAIT_MS)
            failed = page.locator("#targets tbody tr[data-state=failed]")
            expect(failed).to_have_count(1)
            expect(failed).to_contain_text("stripe_auth_failed")
            expect(page.locator("#batches tbody tr")).to_have_count(2)
            page.screenshot(path=str(artifacts_dir / "1-halted-and-rolled-back.png"),
                            full_page=True)

            page.click("#rollback-link")
            finished_state(page)
            expect(page.locator("h1")).to_contain_text("rollback")
            expect(page.locator("#recap")).to_contain_text("rolled_back=2")
            page.screenshot(path=str(artifacts_dir / "2-the-rollback.png"), full_page=True)
        assert [fleet.value(url, PK) for url in fleet.urls[:2]] == [baseline, baseline]


def test_preflight_refusal_beside_the_form_and_in_a_dry_run(
        dashboard: Stack, chromium_path: str, artifacts_dir: Path, healthy_fleet: FaultFleet,
        baseline: str, tag: str) -> None:
    """A live publishable key to test sites: Start is refused by the preflight, each
    refused site and its reason listed beside the form, which keeps what was typed and
    pushed nothing; a dry run of it shows the refusal on each target's row."""
    from playwright.sync_api import expect

    fleet = healthy_fleet
    register(dashboard, fleet, tag, [f"{tag}-a", f"{tag}-b", f"{tag}-c"])
    live_key = f"pk_live_Mix{secrets.token_hex(4)}"
    with logged_in_page(dashboard, chromium_path) as page:
        page.goto(f"{dashboard.url}/rollouts/new")
        fill_form(page, value=live_key, tag=tag, batches="1,100%", max_fail="0",
                  pause=False, rollback=False)
        page.click("#start")
        expect(page.locator("#refusals")).to_be_visible()
        expect(page.locator("#refused-sites tbody tr[data-code=mode_mismatch]")).to_have_count(3)
        expect(page.locator("#refused-sites")).to_contain_text(f"{tag}-a")
        expect(page.locator("#value")).to_have_value(live_key)
        expect(page.locator("#batches")).to_have_value("1,100%")
        expect(page.locator("input[name=tag]")).to_have_value(tag)
        page.screenshot(path=str(artifacts_dir / "1-preflight-refused.png"), full_page=True)
        assert all(fleet.value(url, PK) == baseline for url in fleet.urls)

        page.click("#dry-run")
        finished_state(page)
        expect(page.locator("#targets tbody tr[data-preflight=mode_mismatch]")).to_have_count(3)
        page.screenshot(path=str(artifacts_dir / "2-dry-run-refusals.png"), full_page=True)
    assert all(fleet.value(url, PK) == baseline for url in fleet.urls)


def _checked_sites(dashboard: Stack, urls: list[str]) -> dict[str, dict[str, object]]:
    """The sites at ``urls`` as ``GET /api/sites`` gives them, once a verification has
    stored a functional check for each (waits for the queued verification)."""
    deadline = time.monotonic() + 60
    while True:
        sites = requests.get(f"{dashboard.url}/api/sites", headers=dashboard.headers,
                             timeout=10).json()["sites"]
        mine = {s["url"]: s for s in sites if s["url"] in urls}
        if all(mine.get(url, {}).get("functional_state") for url in urls):
            return mine
        assert time.monotonic() < deadline, f"no functional check stored yet: {mine}"
        time.sleep(0.3)


def test_fleet_page_shows_account_mode_and_failing_check_as_drift(
        dashboard: Stack, chromium_path: str, artifacts_dir: Path, baseline: str,
        tag: str) -> None:
    """After "Verify now", the fleet page shows per site the Stripe account and mode of
    its secret key and its last functional check; a site whose key Stripe refuses
    (``api_key_expired``) shows the failed check, and it as drift."""
    from playwright.sync_api import expect

    with FaultFleet(["ok", "api_key_expired"]) as fleet:
        hold_keys(fleet, baseline)
        register(dashboard, fleet, tag, [f"{tag}-a", f"{tag}-b"])
        with logged_in_page(dashboard, chromium_path) as page:
            page.click("text=Verify now")
            expect(page.locator(".flash.ok")).to_contain_text("Verification queued")
            sites = _checked_sites(dashboard, fleet.urls)
            page.reload()
            good = page.locator(f"#sites tr[data-site-id='{sites[fleet.urls[0]]['id']}']")
            bad = page.locator(f"#sites tr[data-site-id='{sites[fleet.urls[1]]['id']}']")
            expect(good.locator(".stripe-account")).to_contain_text(
                str(sites[fleet.urls[0]]["stripe_account_id"]))
            expect(good.locator(".stripe-account")).to_contain_text("test")
            expect(good.locator(".functional")).to_have_attribute("data-functional", "ok")
            expect(good.locator(".drift-cell")).to_have_text("none")
            expect(bad.locator(".functional")).to_have_attribute("data-functional", "failed")
            expect(bad.locator(".functional")).to_contain_text("api_key_expired")
            expect(bad.locator(".drift-cell .drift")).to_contain_text("keys not functional")
            page.screenshot(path=str(artifacts_dir / "fleet-functional-check.png"),
                            full_page=True)
    assert str(sites[fleet.urls[0]]["stripe_account_id"]).startswith("acct_")


def test_key_pair_form_switches_fields_and_defaults_and_forgets_secrets(
        dashboard: Stack, chromium_path: str, artifacts_dir: Path, healthy_fleet: FaultFleet,
        baseline: str, tag: str) -> None:
    """Choosing "key pair" swaps the value for the pair's inputs (the secrets as password
    inputs) and sets the secret keys' safety defaults (a pause and a rollback on halt,
    no failure allowed); a refused pair comes back with the publishable key and the
    options, the secret inputs empty."""
    from playwright.sync_api import expect

    register(dashboard, healthy_fleet, tag, [f"{tag}-a", f"{tag}-b", f"{tag}-c"])
    secret = f"sk_test_Typed{secrets.token_hex(6)}"
    public = f"pk_live_Typed{secrets.token_hex(4)}"
    with logged_in_page(dashboard, chromium_path) as page:
        page.goto(f"{dashboard.url}/rollouts/new")
        page.select_option("#setting", PK)
        expect(page.locator("#pause-for-approval")).not_to_be_checked()
        page.select_option("#setting", "key_pair")
        expect(page.locator("#value")).to_be_hidden()
        expect(page.locator("#pair-values")).to_be_visible()
        expect(page.locator("#pair-secret")).to_have_attribute("type", "password")
        expect(page.locator("#pair-webhook")).to_have_attribute("type", "password")
        expect(page.locator("#pause-for-approval")).to_be_checked()
        expect(page.locator("#rollback-on-halt")).to_be_checked()
        expect(page.locator("#max-fail")).to_have_value("0")
        page.fill("#pair-publishable", public)
        page.fill("#pair-secret", secret)
        page.check("input[name=targets][value=tag]")
        page.fill("input[name=tag]", tag)
        page.click("#start")

        expect(page.locator("#refusal-code")).to_have_text("pair_mode_mismatch")
        expect(page.locator("#setting")).to_have_value("key_pair")
        expect(page.locator("#pair-values")).to_be_visible()
        expect(page.locator("#pair-publishable")).to_have_value(public)
        expect(page.locator("#pair-secret")).to_have_value("")
        expect(page.locator("#pause-for-approval")).to_be_checked()
        assert secret not in page.content()
        page.screenshot(path=str(artifacts_dir / "key-pair-refused.png"), full_page=True)
    assert all(healthy_fleet.value(url, SECRET_KEY) != secret for url in healthy_fleet.urls)


def test_propagation_button_starts_a_checked_rollout(
        dashboard: Stack, chromium_path: str, artifacts_dir: Path, healthy_fleet: FaultFleet,
        tag: str) -> None:
    """The propagation button of the "New rollout" page asks for the key (a prompt),
    calls POST /admin/stripe/propagate with the page's CSRF token and lands on the new
    rollout's page, which runs with the publishable key's defaults (canary first, the
    functional check on) to ``succeeded`` on every enabled site."""
    from playwright.sync_api import expect

    for site in requests.get(f"{dashboard.url}/api/sites", headers=dashboard.headers,
                             timeout=10).json()["sites"]:
        if site["enabled"]:  # the button pushes to every enabled site: only this test's
            requests.post(f"{dashboard.url}/api/sites/{site['id']}/disable",
                          headers=dashboard.headers, timeout=10).raise_for_status()
    register(dashboard, healthy_fleet, tag, [f"{tag}-a", f"{tag}-b", f"{tag}-c"])
    key = f"pk_test_Button{secrets.token_hex(4)}"
    with logged_in_page(dashboard, chromium_path) as page:
        page.goto(f"{dashboard.url}/rollouts/new")
        page.once("dialog", lambda dialog: dialog.accept(key))
        page.click("#stripe-propagate-btn")
        page.wait_for_url(re.compile(r".*/rollouts/\d+$"))
        finished_state(page)
        expect(page.locator("#state")).to_have_text("succeeded")
        # the default batches, [1, "10%", "100%"], of 3 sites: 1, 1 and the last 1
        expect(page.locator("#batches tbody tr[data-state=done]")).to_have_count(3)
        page.screenshot(path=str(artifacts_dir / "propagation-button.png"), full_page=True)
    assert all(healthy_fleet.value(url, PK) == key for url in healthy_fleet.urls)


def test_key_pair_shows_its_account_and_waits_for_the_owner(
        dashboard: Stack, emulator: Emulator, chromium_path: str, artifacts_dir: Path,
        healthy_fleet: FaultFleet, tag: str) -> None:
    """A key pair (the emulator's test keys) with its defaults: the page shows the
    account and mode the preflight found, pauses after the canary for the owner, and
    Continue pushes both keys to every site, each site's functional check answering
    that account."""
    from playwright.sync_api import expect

    fleet = healthy_fleet
    pair = requests.post(f"{emulator.url}/_emulator/keys", data={"account": "new"},
                         timeout=10).json()
    fleet.accounts[pair["secret_key"]] = pair["account"]
    register(dashboard, fleet, tag, [f"{tag}-a", f"{tag}-b", f"{tag}-c"])
    with logged_in_page(dashboard, chromium_path) as page:
        page.goto(f"{dashboard.url}/rollouts/new")
        page.select_option("#setting", "key_pair")
        page.fill("#pair-publishable", pair["publishable_key"])
        page.fill("#pair-secret", pair["secret_key"])
        page.check("input[name=targets][value=tag]")
        page.fill("input[name=tag]", tag)
        page.fill("#batches", "1,100%")
        page.click("#start")

        expect(page.locator("#state")).to_have_text("awaiting_approval", timeout=WAIT_MS)
        expect(page.locator("#preflight")).to_contain_text(pair["account"])
        expect(page.locator("#preflight")).to_contain_text("test mode")
        expect(page.locator("#canary tbody tr")).to_contain_text(pair["account"])
        assert pair["secret_key"] not in page.content()
        page.screenshot(path=str(artifacts_dir / "1-pair-awaiting-the-owner.png"),
                        full_page=True)
        page.click("#approve")
        finished_state(page)
        expect(page.locator("#state")).to_have_text("succeeded")
        expect(page.locator("#recap")).to_contain_text("changed=3")
        page.screenshot(path=str(artifacts_dir / "2-pair-succeeded.png"), full_page=True)
    assert all(fleet.value(url, SECRET_KEY) == pair["secret_key"] for url in fleet.urls)
    assert all(fleet.value(url, PK) == pair["publishable_key"] for url in fleet.urls)
