"""The engine's reads: verify (drift checks) and read_settings (backups)."""

from __future__ import annotations

import pytest

from stripefleet.propagation import SiteSnapshot, TargetResult, read_settings, verify
from tests.propagation.conftest import FAST, MakeFleet, targets

PK = "pk_test_reads123"


@pytest.mark.parametrize(("stored", "expected", "state", "error"), [
    (PK, PK, "ok", None),
    (PK, None, "ok", None),
    ("pk_test_other9", PK, "failed", "drift"),
    (None, PK, "failed", "not_configured"),
    (None, None, "failed", "not_configured"),
])
async def test_verify(make_fleet: MakeFleet, stored: str | None, expected: str | None,
                      state: str, error: str | None) -> None:
    """verify compares the site's fingerprint with the expected value's (or only checks
    that the setting is configured when none is expected)."""
    fleet = make_fleet(["ok"])
    if stored:
        fleet.set_value(fleet.urls[0], "stripe_publishable_key", stored)
    results: list[TargetResult] = []
    await verify(targets(fleet), "stripe_publishable_key", expected, options=FAST,
                 on_result=results.append)
    assert (results[0].state.value, results[0].error) == (state, error)
    assert fleet.puts(fleet.urls[0]) == 0


async def test_read_settings_snapshots(make_fleet: MakeFleet) -> None:
    """read_settings gives one snapshot per site: its settings, or the error."""
    fleet = make_fleet(["ok", "html", "unauthorized"])
    fleet.set_value(fleet.urls[0], "stripe_publishable_key", PK)
    snaps: dict[str, SiteSnapshot] = {}

    async def collect(snap: SiteSnapshot) -> None:
        snaps[snap.url] = snap

    await read_settings(targets(fleet), options=FAST, on_snapshot=collect)
    good = snaps[fleet.urls[0]]
    assert good.ok and good.settings["stripe_publishable_key"]["value"] == PK
    assert (snaps[fleet.urls[1]].ok, snaps[fleet.urls[1]].error) == (False, "bad_response")
    assert snaps[fleet.urls[2]].error == "invalid_api_key"
