"""``stripefleet demo`` removes the temporary folder a killed demo left behind.

A demo killed with SIGKILL cannot clean up; its folder holds the fleet's API key, the
Stripe keys and each site's encryption key. Each folder has a pid file, and the next
demo removes the folders whose demo is dead, saying so (README, "The demo").
"""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import pytest

from stripefleet.common.processes import stripefleet_argv


@pytest.mark.slow
def test_next_demo_removes_a_killed_demos_folder(tmp_path: Path) -> None:
    """A demo SIGKILLed after printing its sites leaves its ``stripefleet-demo-*`` folder
    (with its pid file); the next ``demo --once`` removes it with a line naming it and
    runs to exit 0, while a folder whose demo still runs (here: this test's pid) is
    kept."""
    env = {**os.environ, "TMPDIR": str(tmp_path), "PYTHONUNBUFFERED": "1"}
    first = subprocess.Popen(stripefleet_argv("demo", "--sites", "1"), env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    seen: list[str] = []
    try:
        assert first.stdout is not None
        for line in first.stdout:
            seen.append(line)
            if "site 1: http://" in line:
                break
        else:
            raise AssertionError("the demo never printed its site:\n" + "".join(seen))
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
    stale = [p for p in tmp_path.glob("stripefleet-demo-*") if p.is_dir()]
    assert len(stale) == 1, seen
    assert (stale[0] / "demo.pid").read_text().split()[0] == str(first.pid)
    alive = tmp_path / "stripefleet-demo-alive"
    alive.mkdir()
    (alive / "demo.pid").write_text(f"{os.getpid()} -\n")

    second = subprocess.run(stripefleet_argv("demo", "--sites", "1", "--once"), env=env,
                            capture_output=True, text=True, timeout=300)
    out = second.stdout + second.stderr
    assert second.returncode == 0, out
    assert f"removed {stale[0]}" in out and f"pid {first.pid}" in out
    assert not stale[0].exists()
    assert alive.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["stripefleet-demo-alive"]
