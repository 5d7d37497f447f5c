"""``stripefleet demo``: it configures a real fleet, prints the recap, and leaves no
process behind, whether it ends by itself (``--once``) or with Ctrl-C."""

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
    return [line.split("=", 1)[1] for line in env_file.read_text().splitlines() if "=" in line]


def _ports(output: str) -> list[int]:
    return sorted({int(p) for p in re.findall(r"site \d+: http://127\.0\.0\.1:(\d+)", output)})


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


@pytest.mark.slow
def test_once_pushes_verifies_and_stops_every_site(tmp_path: Path) -> None:
    """--once: exit 0, each setting changed on every site and verified, the curl
    commands printed, no secret in the output, and no site still listening."""
    workdir = tmp_path / "demo"
    done = subprocess.run(stripefleet_argv("demo", "--sites", "3", "--once", "--workdir",
                                           str(workdir)),
                          capture_output=True, text=True, timeout=180)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert output.count("recap: ok=0 changed=3 failed=0 unreachable=0 skipped=0") == 3
    assert len(re.findall(r"ok=3 changed=0 failed=0", output)) == 3  # the verify step
    assert "curl -i http://127.0.0.1:" in output
    for value in _env_values(workdir / "demo.env"):
        assert value not in output
    ports = _ports(output)
    assert len(ports) == 3
    assert not any(_listening(p) for p in ports)


@pytest.mark.slow
def test_ctrl_c_stops_every_site(tmp_path: Path) -> None:
    """Serving until Ctrl-C: SIGINT stops the demo and every site process with it."""
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
            assert ports and all(_listening(p) for p in ports)
            proc.send_signal(signal.SIGINT)
            assert proc.wait(timeout=60) == 0, log.read_text()
        finally:
            if proc.poll() is None:
                proc.kill()
    assert not any(_listening(p) for p in ports)
