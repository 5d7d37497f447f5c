"""The propagation commands as a real ``python -m stripefleet`` child process."""

from __future__ import annotations

import json
import os
import pty
import signal
import subprocess
from pathlib import Path

import pytest

from stripefleet.common.processes import stripefleet_argv
from tests.propagation.conftest import Emulator, MakeFleet

PK = "pk_test_subprocess0123"
SK = "sk_test_subprocessSecret0123"
FAST = ["--timeout", "0.5", "--retries", "1", "--backoff-base", "0", "--retry-after-cap", "0"]


def run(*args: str, home: Path, api_key: str | None = "fleet-test-api-key-0123456789",
        env: dict[str, str] | None = None, stdin: str | None = None
        ) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items()
             if not k.startswith("STRIPE_") and k != "TEMPLATE_MASTER_API_KEY"}
    clean["STRIPEFLEET_HOME"] = str(home)
    if api_key:
        clean["TEMPLATE_MASTER_API_KEY"] = api_key
    return subprocess.run(stripefleet_argv(*args), env={**clean, **(env or {})}, input=stdin,
                          capture_output=True, text=True, timeout=60)


@pytest.fixture
def sites(tmp_path: Path, make_fleet: MakeFleet) -> tuple[Path, list[str]]:
    fleet = make_fleet(["ok", "ok"])
    path = tmp_path / "sites.txt"
    path.write_text("\n".join(fleet.urls) + "\n")
    return path, fleet.urls


def test_push_exit_0_json_lines(sites: tuple[Path, list[str]], tmp_path: Path) -> None:
    """A successful push exits 0 and prints JSON lines: one per site, then the recap."""
    path, urls = sites
    proc = run("push", "stripe_publishable_key", "--sites-file", str(path), "--value", PK,
               "--json", *FAST, home=tmp_path / "home")
    assert proc.returncode == 0, proc.stderr
    objects = [json.loads(line) for line in proc.stdout.splitlines()]
    assert sorted(o["url"] for o in objects if "state" in o) == sorted(urls)
    assert objects[-1]["recap"]["changed"] == 2


def test_failure_exit_1(make_fleet: MakeFleet, tmp_path: Path) -> None:
    """A site that refuses the key makes the exit code 1."""
    fleet = make_fleet(["ok", "unauthorized"])
    path = tmp_path / "sites.txt"
    path.write_text("\n".join(fleet.urls))
    proc = run("push", "stripe_publishable_key", "--sites-file", str(path), "--value", PK,
               *FAST, home=tmp_path / "home")
    assert proc.returncode == 1
    assert proc.stdout.splitlines()[-1] == "ok=0 changed=1 failed=1 unreachable=0 skipped=0"


def test_secret_on_command_line_exit_2(sites: tuple[Path, list[str]], tmp_path: Path) -> None:
    """--value with a secret setting exits 2 and sends nothing."""
    path, _ = sites
    proc = run("push", "stripe_secret_key", "--sites-file", str(path), "--value", SK,
               home=tmp_path / "home")
    assert proc.returncode == 2 and "never on the command line" in proc.stderr
    assert SK not in proc.stdout


def test_secret_from_stdin_never_printed(make_fleet: MakeFleet, emulator: Emulator,
                                         tmp_path: Path) -> None:
    """A secret read from stdin is checked with Stripe, pushed, and appears in clear
    nowhere."""
    fleet = make_fleet(["ok", "ok"])
    secret = emulator.keys(fleet)["secret_key"]
    path = tmp_path / "sites.txt"
    path.write_text("\n".join(fleet.urls) + "\n")
    home = tmp_path / "home"
    proc = run("push", "stripe_secret_key", "--sites-file", str(path), "--value-stdin", "-v",
               *FAST, home=home, stdin=secret + "\n", env={"STRIPE_API_BASE": emulator.url})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert all(fleet.value(u, "stripe_secret_key") == secret for u in fleet.urls)
    assert secret not in proc.stdout + proc.stderr + (home / "history.jsonl").read_text()


def test_dry_run_exit_0_no_put(make_fleet: MakeFleet, tmp_path: Path) -> None:
    """A dry run exits 0 and sends no PUT."""
    fleet = make_fleet(["ok"])
    path = tmp_path / "sites.txt"
    path.write_text(fleet.urls[0])
    proc = run("push", "stripe_publishable_key", "--sites-file", str(path), "--value", PK,
               "--dry-run", home=tmp_path / "home")
    assert proc.returncode == 0 and "would change" in proc.stdout
    assert fleet.puts(fleet.urls[0]) == 0
    assert {r.method for r in fleet.requests(fleet.urls[0])} == {"GET"}


def test_verify_exit_1_on_drift(sites: tuple[Path, list[str]], tmp_path: Path) -> None:
    """verify exits 1 when a site does not hold the expected value."""
    path, _ = sites
    proc = run("verify", "stripe_publishable_key", "--sites-file", str(path), "--value", PK,
               home=tmp_path / "home")
    assert proc.returncode == 1 and "not_configured" in proc.stdout


def test_interrupt_exits_130_with_partial_recap(make_fleet: MakeFleet, tmp_path: Path) -> None:
    """Ctrl-C during a push stops it: exit 130, the recap of the sites that finished,
    and a history line marked interrupted."""
    fleet = make_fleet(["ok", "slow:4000"])  # each of its requests takes 4 s
    path = tmp_path / "sites.txt"
    path.write_text("\n".join(fleet.urls))
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if not k.startswith("STRIPE_")}
    env.update({"TEMPLATE_MASTER_API_KEY": fleet.api_key, "STRIPEFLEET_HOME": str(home)})
    proc = subprocess.Popen(
        stripefleet_argv("push", "stripe_publishable_key", "--sites-file", str(path), "--value",
                         PK, "--timeout", "60"),
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    first = proc.stdout.readline()  # the ok site (batch 1) is done; batch 2 is slow
    proc.send_signal(signal.SIGINT)
    rest, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert "changed" in first and "interrupted" in err
    assert rest.splitlines()[-1] == "ok=0 changed=1 failed=0 unreachable=0 skipped=0"
    assert json.loads((home / "history.jsonl").read_text())["interrupted"] is True


def test_progress_bar_on_a_terminal(sites: tuple[Path, list[str]], tmp_path: Path) -> None:
    """With stderr on a terminal, a progress bar is drawn there; stdout keeps one plain
    line per site and the recap."""
    path, urls = sites
    master, slave = pty.openpty()
    env = {k: v for k, v in os.environ.items() if not k.startswith("STRIPE_")}
    env.update({"TEMPLATE_MASTER_API_KEY": "fleet-test-api-key-0123456789",
                "STRIPEFLEET_HOME": str(tmp_path / "home")})
    proc = subprocess.Popen(
        stripefleet_argv("push", "stripe_publishable_key", "--sites-file", str(path), "--value",
                         PK), env=env, stdout=subprocess.PIPE, stderr=slave, text=True)
    os.close(slave)
    drawn = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        drawn += chunk
    out, _ = proc.communicate(timeout=30)
    os.close(master)
    assert proc.returncode == 0
    assert b"pushing stripe_publishable_key" in drawn
    assert sorted(line.split()[0] for line in out.splitlines()
                  if line.startswith("http")) == sorted(urls)
    assert out.splitlines()[-1] == "ok=0 changed=2 failed=0 unreachable=0 skipped=0"
