"""The dashboard's pages in real Chromium (Playwright): log in, import sites, dry run,
start the rollout, watch live progress to the recap, roll back. Screenshots go to
``test-artifacts/<test>/``. Runs against ``dashboard serve`` and real site processes."""

from __future__ import annotations

import contextlib
import re
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.conftest import CHROMIUM_ARGS
from tests.dashboard.conftest import PASSWORD, PK, Stack
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
    the sites hold their previous key again."""
    from playwright.sync_api import expect

    baseline = f"pk_test_Base{secrets.token_hex(4)}"
    resp = requests.post(f"{stack.url}/api/sites/import", headers=stack.headers, timeout=5,
                         json={"text": "\n".join(stack.site_urls)})
    resp.raise_for_status()
    first = requests.post(f"{stack.url}/api/rollouts", headers=stack.headers, timeout=5,
                          json={"setting": PK, "value": baseline})
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


@pytest.mark.browser
def test_propagation_button_starts_a_rollout_in_chromium(stack: Stack, chromium_path: str,
                                                         artifacts_dir: Path) -> None:
    """The propagation button of the "New rollout" page asks for the key (a prompt),
    calls POST /admin/stripe/propagate with the page's CSRF token, and lands on the new
    rollout's page."""
    from playwright.sync_api import expect

    requests.post(f"{stack.url}/api/sites/import", headers=stack.headers, timeout=5,
                  json={"text": "\n".join(stack.site_urls)}).raise_for_status()
    key = f"pk_test_Button{secrets.token_hex(4)}"
    with logged_in_page(stack, chromium_path) as page:
        page.goto(f"{stack.url}/rollouts/new")
        page.once("dialog", lambda dialog: dialog.accept(key))
        page.click("#stripe-propagate-btn")
        page.wait_for_url(re.compile(r".*/rollouts/\d+$"))
        finished_state(page)
        expect(page.locator("#state")).to_have_text("succeeded")
        page.screenshot(path=str(artifacts_dir / "propagation-button.png"), full_page=True)
    assert all(site_pk(u) == key for u in stack.site_urls)
