"""Fixtures of the functional check's tests: one Stripe emulator per module, and sites
(``stripefleet site serve`` processes, SQLite then PostgreSQL) pointed at it with
``STRIPE_API_BASE``, each with a key pair of its own made through the emulator's control
API."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests

from tests.site.conftest import RunningSite, StartSite
from tests.site.shop.harness import Emulator, start_emulator


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    """A Stripe emulator shared by the module (each test makes its own keys)."""
    emu = start_emulator(tmp_path_factory.mktemp("emulator"))
    yield emu
    emu.process.stop()


@dataclass
class Pair:
    """A key pair of the emulator and the account it belongs to."""

    secret_key: str
    publishable_key: str
    account: str


def new_pair(emulator: Emulator, **params: str) -> Pair:
    """A new key pair (``POST /_emulator/keys``); its account read back with the SDK."""
    r = requests.post(f"{emulator.url}/_emulator/keys", data=params, timeout=10)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    account = emulator.sdk().v1.accounts.retrieve_current(
        options={"api_key": body["secret_key"]})
    return Pair(body["secret_key"], body["publishable_key"], str(account.id))


@pytest.fixture
def pair(emulator: Emulator) -> Pair:
    """A fresh test-mode key pair of the emulator's default account."""
    return new_pair(emulator)


@pytest.fixture
def stripe_site(start_site: StartSite, emulator: Emulator) -> RunningSite:
    """A site on this test's database, its Stripe API the emulator, no key set yet."""
    return start_site(env={"STRIPE_API_BASE": emulator.url})


def check(site: RunningSite, *, api_key: str | None = "default") -> requests.Response:
    """``POST /api/test-stripe`` with the site's API key (or ``api_key``; None: none)."""
    key = site.api_key if api_key == "default" else api_key
    headers = {"X-API-Key": key} if key else {}
    return requests.post(f"{site.url}/api/test-stripe", headers=headers, timeout=30)


