"""``stripefleet/demo/dashboard.py``: what the demo calls to run the dashboard."""

from __future__ import annotations

from pathlib import Path

from stripefleet.demo import dashboard
from stripefleet.demo.emulator import start_emulator
from stripefleet.testing.fleet import FaultFleet


def test_start_register_push_and_stop(tmp_path: Path) -> None:
    """The demo's path: start serve with a generated owner, register sites, push a
    secret key through a dashboard rollout (checked with the emulator, its canary
    approved), read the recap; stopping leaves nothing running."""
    emulator = start_emulator(tmp_path)
    secret = emulator.secret_key
    account = emulator.client().v1.accounts.retrieve_current().id
    try:
        with FaultFleet(sites=2) as fleet:
            fleet.accounts[secret] = account
            handle = dashboard.start_dashboard(
                tmp_path / "dash", api_key=fleet.api_key,
                env={"DASHBOARD_ENGINE_BACKOFF": "0", "STRIPE_API_BASE": emulator.url})
            states: list[str] = []
            try:
                assert len(handle.owner_password) >= 20 and handle.token.startswith("sfd_")
                assert dashboard.register_sites(handle, fleet.urls)["added"] == fleet.urls
                final = dashboard.push(handle, "stripe_secret_key", secret,
                                       on_state=lambda a: states.append(a["rollout"]["state"]))
            finally:
                handle.process.stop()
            assert final["rollout"]["recap"]["changed"] == 2
            assert "awaiting_approval" in states  # the canary waited, then was approved
            assert secret not in str(final)
            assert secret[8:] not in handle.process.log_path.read_text(encoding="utf-8")
            assert [fleet.value(u, "stripe_secret_key") for u in fleet.urls] == [secret] * 2
    finally:
        emulator.process.stop()
    assert handle.process.proc is not None and handle.process.proc.returncode is not None
