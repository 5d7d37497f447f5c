"""Fixtures of the safe rollouts' Chromium tests: ``dashboard serve`` and the Stripe
emulator.

``dashboard``: a real ``stripefleet dashboard serve`` (the web app and its worker child)
with an owner and a token, shared by the module, whose preflight asks the module's
``emulator`` (``STRIPE_API_BASE``); its sites are fault fleets that each test starts in
this process (``stripefleet.testing.fleet``: their functional check answers from the
keys they hold), so that no site process is needed. The ``Stack`` it returns has no
site URLs.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from stripefleet.common.processes import ManagedProcess, ProcessFailed, free_port, stripefleet_argv
from stripefleet.testing.fleet import DEFAULT_API_KEY
from tests.dashboard.conftest import PASSWORD, Stack, run_cli
from tests.site.shop.harness import Emulator, start_emulator


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    """A Stripe emulator for the module (the preflight's ``GET /v1/account``)."""
    emu = start_emulator(tmp_path_factory.mktemp("emulator"))
    try:
        yield emu
    finally:
        emu.process.stop()


@pytest.fixture(scope="module")
def dashboard(tmp_path_factory: pytest.TempPathFactory, emulator: Emulator) -> Iterator[Stack]:
    """``dashboard serve`` on a free port (again on another if it was taken), with an
    owner and a token; the fleet key is the fault fleets' key, Stripe the emulator."""
    root = tmp_path_factory.mktemp("dashboard")
    folder = root / "instance"
    email = "owner@example.org"
    run_cli("dashboard", "create-user", "--instance-dir", str(folder), "--email", email,
            "--role", "owner", "--password-stdin", stdin=PASSWORD + "\n")
    token = run_cli("dashboard", "create-token", "--instance-dir", str(folder),
                    "--email", email).strip()
    env = {"TEMPLATE_MASTER_API_KEY": DEFAULT_API_KEY, "DASHBOARD_ENGINE_BACKOFF": "0",
           "STRIPE_API_BASE": emulator.url}
    for attempt in range(3):
        port = free_port()
        proc = ManagedProcess(
            stripefleet_argv("--log-level", "INFO", "dashboard", "serve", "--instance-dir",
                             str(folder), "--port", str(port)),
            env=env, log_path=root / f"dashboard-{attempt}.log")
        proc.start()
        url = f"http://127.0.0.1:{port}"
        try:
            proc.wait_http(f"{url}/api/health", timeout=60)
        except ProcessFailed as exc:
            proc.stop()
            if attempt == 2 or "Address already in use" not in str(exc):
                raise
            continue
        try:
            yield Stack(url, folder, [], DEFAULT_API_KEY, email, token, proc)
        finally:
            proc.stop()
        return
