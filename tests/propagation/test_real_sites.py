"""The CLI and the engine against three real ``stripefleet site serve`` processes, whose
Stripe is an emulator (the functional check and the preflight call it)."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from stripefleet.common.keys import fingerprint
from stripefleet.common.processes import ManagedProcess, all_stopped, free_port, stripefleet_argv
from stripefleet.propagation import PushOptions, Target, TargetResult, propagate
from tests.propagation.conftest import start_emulator

API_KEY = "real-sites-api-key-0123456789"
#: The values pushed; the keys are made by the emulator when the sites start.
VALUES = {
    "stripe_publishable_key": "",
    "stripe_secret_key": "",
    "stripe_webhook_secret": "whsec_realSitesWebhook0123456789",
}
STRIPE_ENV: dict[str, str] = {}
ENV_OF = {"stripe_publishable_key": "STRIPE_PUBLISHABLE_KEY",
          "stripe_secret_key": "STRIPE_SECRET_KEY",
          "stripe_webhook_secret": "STRIPE_WEBHOOK_SECRET"}

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def real_sites(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[str]]:
    """Three real sites, each with its own SQLite database, for the whole module; their
    Stripe is an emulator, and each already holds one of its secret keys."""
    tmp = tmp_path_factory.mktemp("real-sites")
    emulator = start_emulator(tmp)
    pair = emulator.control.create_keys()
    VALUES["stripe_publishable_key"] = pair["publishable_key"]
    VALUES["stripe_secret_key"] = pair["secret_key"]
    STRIPE_ENV["STRIPE_API_BASE"] = emulator.url
    procs: list[ManagedProcess] = [emulator.process]
    urls: list[str] = []
    with all_stopped(procs):
        for i in range(3):
            port = free_port()
            proc = ManagedProcess(
                stripefleet_argv("site", "serve", "--port", str(port), "--instance-dir",
                                 str(tmp / f"site{i}")),
                env={"TEMPLATE_MASTER_API_KEY": API_KEY, "DATABASE_URL": "",
                     "STRIPEFLEET_ENCRYPTION_KEY": "", "STRIPE_API_BASE": emulator.url},
                log_path=tmp / f"site{i}.log")
            procs.append(proc.start())
            urls.append(f"http://127.0.0.1:{port}")
        for proc, url in zip(procs[1:], urls, strict=True):
            proc.wait_http(f"{url}/api/health", timeout=60)
            requests.put(f"{url}/api/export/settings/stripe_secret_key",
                         json={"value": VALUES["stripe_secret_key"]},
                         headers={"X-API-Key": API_KEY}, timeout=10).raise_for_status()
        yield urls


@pytest.fixture
def sites_file(real_sites: list[str], tmp_path: Path) -> Path:
    path = tmp_path / "sites.txt"
    path.write_text("# three real sites\n" + "\n".join(real_sites) + "\n")
    return path


def cli(*args: str, tmp_path: Path, env: dict[str, str] | None = None,
        api_key: str = API_KEY) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("STRIPE_")}
    clean.update({"TEMPLATE_MASTER_API_KEY": api_key, "STRIPEFLEET_HOME": str(tmp_path / "h"),
                  **STRIPE_ENV})
    return subprocess.run(stripefleet_argv(*args), env={**clean, **(env or {})},
                          capture_output=True, text=True, timeout=120)


def recap(proc: subprocess.CompletedProcess[str]) -> dict[str, int]:
    return dict(json.loads(proc.stdout.splitlines()[-1])["recap"])


def exported(url: str, setting: str) -> dict[str, object]:
    resp = requests.get(f"{url}/api/export/settings", headers={"X-API-Key": API_KEY}, timeout=10)
    entry = resp.json()["settings"][setting]
    assert isinstance(entry, dict)
    return entry


@pytest.mark.parametrize("setting", list(VALUES))
def test_push_then_verify_each_setting(real_sites: list[str], sites_file: Path, tmp_path: Path,
                                       setting: str) -> None:
    """push sets the setting on the three sites (changed, or ok when already set), the
    sites hold its fingerprint, verify agrees, and a second push changes nothing."""
    env = {ENV_OF[setting]: VALUES[setting]}
    first = cli("push", setting, "--sites-file", str(sites_file), "--json", tmp_path=tmp_path,
                env=env)
    assert first.returncode == 0, first.stdout + first.stderr
    assert recap(first)["changed"] + recap(first)["ok"] == 3
    lines = [json.loads(line) for line in first.stdout.splitlines()]
    checks = {o.get("functional") for o in lines if "url" in o and "state" in o}
    assert checks == ({None} if setting == "stripe_webhook_secret" else {"ok"})
    assert all(exported(u, setting)["fingerprint"] == fingerprint(VALUES[setting])
               for u in real_sites)
    again = cli("push", setting, "--sites-file", str(sites_file), "--json", tmp_path=tmp_path,
                env=env)
    assert again.returncode == 0 and recap(again)["ok"] == 3
    checked = cli("verify", setting, "--sites-file", str(sites_file), "--json",
                  tmp_path=tmp_path, env=env)
    assert checked.returncode == 0 and recap(checked)["ok"] == 3
    assert VALUES[setting] not in first.stdout + again.stdout + checked.stdout


def test_dry_run_changes_nothing(real_sites: list[str], sites_file: Path,
                                 tmp_path: Path) -> None:
    """A dry run reports would change and leaves every site as it was."""
    before = [exported(u, "stripe_publishable_key")["version"] for u in real_sites]
    proc = cli("push", "stripe_publishable_key", "--sites-file", str(sites_file), "--value",
               "pk_test_dryRunOnly999", "--dry-run", "--json", tmp_path=tmp_path)
    assert proc.returncode == 0 and recap(proc)["would_change"] == 3
    assert [exported(u, "stripe_publishable_key")["version"] for u in real_sites] == before


def test_backup_then_rollback(real_sites: list[str], sites_file: Path, tmp_path: Path) -> None:
    """After backup, push and rollback, every site serves the backed-up publishable key."""
    original = VALUES["stripe_publishable_key"]
    cli("push", "stripe_publishable_key", "--sites-file", str(sites_file), "--value", original,
        tmp_path=tmp_path)
    backup = tmp_path / "backup.json"
    assert cli("backup", "--sites-file", str(sites_file), "-o", str(backup),
               tmp_path=tmp_path).returncode == 0
    pushed = cli("push", "stripe_publishable_key", "--sites-file", str(sites_file), "--value",
                 "pk_test_replacement42", tmp_path=tmp_path)
    assert pushed.returncode == 0
    rolled = cli("rollback", str(backup), "--json", tmp_path=tmp_path)
    assert rolled.returncode == 0, rolled.stdout + rolled.stderr
    assert recap(rolled)["rolled_back"] == 3
    for url in real_sites:
        served = requests.get(f"{url}/api/stripe-pk", timeout=10).json()
        assert served["publishable_key"] == original


async def test_api_key_rotation_verified_with_new_key(real_sites: list[str]) -> None:
    """The engine rotates the fleet's API key, verifies with the new key, and rotates back."""
    new_key = "rotated-real-key-abcdefghij0123"
    options = PushOptions(timeout=10, rate=0)
    results: list[TargetResult] = []
    await propagate([Target(u, API_KEY) for u in real_sites],
                              "template_master_api_key", new_key, options=options,
                              on_result=results.append)
    back = await propagate([Target(u, new_key) for u in real_sites], "template_master_api_key",
                           API_KEY, options=options)
    assert [(r.state.value, r.error) for r in results] == [("changed", None)] * 3
    assert all(r.verified for r in results)
    assert back.counts["changed"] == 3
