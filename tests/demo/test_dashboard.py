"""``stripefleet/demo/dashboard.py``: what the demo calls to run the dashboard."""

from __future__ import annotations

from pathlib import Path

from stripefleet.demo import dashboard
from stripefleet.testing.fleet import FaultFleet


def test_start_register_push_and_stop(tmp_path: Path) -> None:
    """The demo's path: start serve with a generated owner, register sites, push a key
    through a dashboard rollout, read the recap; stopping leaves nothing running."""
    with FaultFleet(sites=2) as fleet:
        handle = dashboard.start_dashboard(tmp_path / "dash", api_key=fleet.api_key,
                                           env={"DASHBOARD_ENGINE_BACKOFF": "0"})
        try:
            assert len(handle.owner_password) >= 20 and handle.token.startswith("sfd_")
            assert dashboard.register_sites(handle, fleet.urls)["added"] == fleet.urls
            final = dashboard.push(handle, "stripe_secret_key", "sk_test_Demo123")
        finally:
            handle.process.stop()
        assert final["rollout"]["recap"]["changed"] == 2
        assert "sk_test_Demo123" not in str(final)
        assert "Demo123" not in handle.process.log_path.read_text(encoding="utf-8")
        assert [fleet.value(u, "stripe_secret_key") for u in fleet.urls] == ["sk_test_Demo123"] * 2
    assert handle.process.proc is not None and handle.process.proc.returncode is not None
