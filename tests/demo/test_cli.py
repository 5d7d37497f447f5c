"""``stripefleet demo``: it configures a real fleet (emulator, sites, dashboard), prints
the recaps, sells an artwork, and leaves no process behind, whether it ends by itself
(``--once``) or with Ctrl-C."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from stripefleet.common.processes import stripefleet_argv


def _env_values(env_file: Path) -> list[str]:
    """The keys in the demo's env file (not the emulator's URL, which the demo prints)."""
    return [line.split("=", 1)[1] for line in env_file.read_text().splitlines()
            if "=" in line and not line.startswith("STRIPE_API_BASE=")]


def _ports(output: str) -> list[int]:
    """The ports of every process the demo announced (emulator, sites, dashboard)."""
    pattern = r"(?:site \d+|Stripe emulator|dashboard): http://127\.0\.0\.1:(\d+)"
    return sorted({int(p) for p in re.findall(pattern, output)})


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


@pytest.mark.slow
def test_once_pushes_verifies_sells_and_stops_everything(tmp_path: Path) -> None:
    """--once: exit 0; each site's webhook secret pushed by the engine, the key pair by a
    dashboard rollout; the safety net: a key expiring after its preflight check fails
    the canary, the rollout halts after one site and rolls it back, then a good key
    goes out; all verified; the artwork bought and shown sold; the curl commands
    printed; no key in the output, none in the env file that differs per site; nothing
    still listening."""
    workdir = tmp_path / "demo"
    done = subprocess.run(stripefleet_argv("demo", "--sites", "3", "--once", "--workdir",
                                           str(workdir)),
                          capture_output=True, text=True, timeout=300)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert len(re.findall(r"rollout \d+ succeeded: ok=0 changed=3 failed=0", output)) == 2
    assert output.count("recap: ok=0 changed=3 failed=0 unreachable=0 skipped=0") == 1
    assert len(re.findall(r"ok=3 changed=0 failed=0", output)) == 3  # the verify step
    assert "halted: threshold exceeded in batch 1: 1 of 1 failed" in output
    assert re.search(r"rollout \d+ rolled_back: .*skipped=2 rolled_back=1", output)
    assert re.search(r"rollout \d+ succeeded: .*rolled_back=1", output)  # the rollback
    assert "STRIPE_WEBHOOK_SECRET" not in (workdir / "demo.env").read_text()
    assert "webhook received: order status paid" in output
    assert "Vendu (sold)" in output
    assert "curl -i http://127.0.0.1:" in output
    for value in _env_values(workdir / "demo.env"):
        assert value not in output
    ports = _ports(output)
    assert len(ports) == 5  # emulator, three sites, dashboard
    assert not any(_listening(p) for p in ports)


@pytest.mark.slow
def test_ctrl_c_stops_every_site(tmp_path: Path) -> None:
    """Serving until Ctrl-C: SIGINT stops the demo and every process it started."""
    log = tmp_path / "demo.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(stripefleet_argv("demo", "--sites", "2", "--workdir",
                                                 str(tmp_path / "demo")),
                                stdout=out, stderr=subprocess.STDOUT, text=True)
        try:
            deadline = time.monotonic() + 120
            while "Serving." not in log.read_text():
                assert proc.poll() is None, log.read_text()
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.2)
            ports = _ports(log.read_text())
            assert len(ports) == 4 and all(_listening(p) for p in ports)
            proc.send_signal(signal.SIGINT)
            assert proc.wait(timeout=60) == 0, log.read_text()
        finally:
            if proc.poll() is None:
                proc.kill()
    assert not any(_listening(p) for p in ports)
