"""The application factory and what every API answer carries (``app.py``)."""

from __future__ import annotations

from pathlib import Path

import requests
from aiohttp.test_utils import TestClient, TestServer

from stripefleet.stripe_emulator.app import create_app
from stripefleet.stripe_emulator.config import API_VERSION, EmulatorConfig
from stripefleet.stripe_emulator.keystore import KeyStore
from stripefleet.stripe_emulator.runtime import Emulator
from stripefleet.stripe_emulator.state import EmulatorState, StateFile
from tests.stripe_emulator.conftest import RunningEmulator


async def test_create_app_serves_in_process(tmp_path: Path) -> None:
    """``create_app`` builds a working app from an :class:`Emulator`; nothing runs before."""
    keys = KeyStore(tmp_path / "keys.json")
    emu = Emulator(EmulatorConfig(keys_file=keys.path), EmulatorState(), keys, StateFile(None))
    keys.load_or_create(emu.now())
    async with TestClient(TestServer(create_app(emu))) as http:
        health = await http.get("/_emulator/health")
        assert (await health.json())["api_version"] == API_VERSION
        resp = await http.get("/v1/balance",
                              headers={"Authorization": f"Bearer {keys.pairs[0].secret_key}"})
        assert resp.status == 200
    assert emu.enqueue is None  # the deliverer stopped with the app


def test_answers_carry_request_id_and_version(emulator: RunningEmulator) -> None:
    """Every API answer has a ``Request-Id`` (``req_...``) and the ``Stripe-Version``."""
    resp = requests.get(f"{emulator.url}/v1/balance", auth=(emulator.secret_key, ""),
                        timeout=10)
    assert resp.headers["Request-Id"].startswith("req_")
    assert resp.headers["Stripe-Version"] == API_VERSION


def test_unknown_path_is_stripe_404(emulator: RunningEmulator) -> None:
    """An unknown ``/v1`` path answers 404 with Stripe's error body naming the path."""
    resp = requests.get(f"{emulator.url}/v1/customers", auth=(emulator.secret_key, ""),
                        timeout=10)
    assert resp.status_code == 404
    error = resp.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert "GET: /v1/customers" in error["message"]
