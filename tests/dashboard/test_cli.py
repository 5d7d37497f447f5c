"""``stripefleet/dashboard/cli.py``: users, tokens, sites import (click's runner), and
``dashboard serve`` as a real process driving real site processes."""

from __future__ import annotations

import os
import re
import signal
import time
from pathlib import Path
from typing import Any

import pytest
import requests
from click.testing import CliRunner

from stripefleet.common.processes import ManagedProcess, free_port, stripefleet_argv
from stripefleet.dashboard.cli import dashboard
from tests.dashboard.conftest import PASSWORD, PK, Stack

FINISHED = ("succeeded", "partially_failed", "failed", "halted", "rolled_back")


def invoke(*args: str, stdin: str | None = None) -> Any:
    return CliRunner().invoke(dashboard, list(args), input=stdin, catch_exceptions=False)


def test_create_user_token_and_import(tmp_path: Path) -> None:
    """create-user reads the password from stdin, create-token prints a token, sites
    import adds the file's sites; all on the same --instance-dir."""
    folder = str(tmp_path / "inst")
    made = invoke("create-user", "--instance-dir", folder, "--email", "A@Example.org",
                  "--role", "operator", "--password-stdin", stdin=PASSWORD + "\n")
    assert made.exit_code == 0 and PASSWORD not in made.output
    token = invoke("create-token", "--instance-dir", folder, "--email", "a@example.org")
    assert re.fullmatch(r"sfd_[\w-]{40,}\n", token.output)
    sites = tmp_path / "sites.txt"
    sites.write_text("https://a.fr\n# x\nhttps://b.fr env=prod\n", encoding="utf-8")
    imported = invoke("sites", "import", "--instance-dir", folder, str(sites))
    assert imported.output.strip() == "2 added, 0 already known"


@pytest.mark.parametrize("flags", [[], ["--password-stdin", "--generate-password"]])
def test_create_user_needs_exactly_one_password_source(tmp_path: Path, flags: list[str]) -> None:
    """Passwords never come from the command line: one of the two flags, not both."""
    result = CliRunner().invoke(dashboard, ["create-user", "--instance-dir", str(tmp_path),
                                            "--email", "a@b.fr", "--role", "viewer", *flags])
    assert result.exit_code == 2


def test_create_user_refuses_weak_password(tmp_path: Path) -> None:
    """A short password exits 1 with ``weak_password``."""
    result = CliRunner().invoke(dashboard, ["create-user", "--instance-dir", str(tmp_path),
                                            "--email", "a@b.fr", "--role", "viewer",
                                            "--password-stdin"], input="short\n")
    assert result.exit_code == 1 and "weak_password" in result.output


def test_generate_password_prints_it_once(tmp_path: Path) -> None:
    """--generate-password prints the generated password on stdout (for the demo)."""
    result = CliRunner().invoke(dashboard, ["create-user", "--instance-dir", str(tmp_path),
                                            "--email", "a@b.fr", "--role", "owner",
                                            "--generate-password"])
    assert result.exit_code == 0 and len(result.stdout.strip()) >= 20


def wait_rollout(stack: Stack, rollout_id: int) -> dict[str, Any]:
    """Poll the served API until the rollout is finished (bounded)."""
    for _ in range(600):
        answer = requests.get(f"{stack.url}/api/rollouts/{rollout_id}", headers=stack.headers,
                              timeout=5).json()
        if answer["rollout"]["state"] in FINISHED:
            return answer
        time.sleep(0.05)
    raise AssertionError(f"rollout {rollout_id} never finished")


def site_pk(url: str) -> str | None:
    resp = requests.get(f"{url}/api/stripe-pk", timeout=5)
    return resp.json().get("publishable_key") if resp.status_code == 200 else None


def test_serve_pushes_to_real_sites_and_rolls_back(stack: Stack) -> None:
    """Through ``dashboard serve`` (its worker child runs the tasks), a rollout reaches
    real site processes (the site's GET /api/stripe-pk shows the key), and rolling it
    back restores each site's previous key."""
    requests.post(f"{stack.url}/api/sites/import", json={"text": "\n".join(stack.site_urls)},
                  headers=stack.headers, timeout=5).raise_for_status()

    def push(value: str) -> dict[str, Any]:
        resp = requests.post(f"{stack.url}/api/rollouts", headers=stack.headers, timeout=5,
                             json={"setting": PK, "value": value,
                                   "targets": {"all": True}})
        assert resp.status_code == 202, resp.text
        return wait_rollout(stack, resp.json()["rollout"]["id"])

    push("pk_test_CliBefore1")
    pushed = push("pk_test_CliAfter2")
    assert pushed["rollout"]["state"] == "succeeded"
    assert [site_pk(u) for u in stack.site_urls] == ["pk_test_CliAfter2"] * 2
    resp = requests.post(f"{stack.url}/api/rollouts/{pushed['rollout']['id']}/rollback",
                         headers=stack.headers, timeout=5)
    assert resp.status_code == 202
    back = wait_rollout(stack, resp.json()["rollout"]["id"])
    assert back["rollout"]["recap"]["rolled_back"] == 2
    assert [site_pk(u) for u in stack.site_urls] == ["pk_test_CliBefore1"] * 2


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["INT", "TERM"])
def test_serve_stops_its_worker(tmp_path: Path, signum: int) -> None:
    """``dashboard serve`` runs its worker as a child process and stops it when it is
    itself stopped (Ctrl-C's SIGINT, or SIGTERM)."""
    port = free_port()
    serve = ManagedProcess(stripefleet_argv("dashboard", "serve", "--port", str(port),
                                            "--instance-dir", str(tmp_path / "d")),
                           env={"TEMPLATE_MASTER_API_KEY": "fleet-test-api-key-0123456789"},
                           log_path=tmp_path / "serve.log")
    with serve:
        serve.wait_http(f"http://127.0.0.1:{port}/api/health", timeout=60)
        match = re.search(r"worker pid (\d+)", serve.log_tail())
        assert match, serve.log_tail()
        worker_pid = int(match.group(1))
        os.kill(worker_pid, 0)  # alive
        assert serve.proc is not None
        serve.proc.send_signal(signum)
        serve.proc.wait(timeout=30)
    assert serve.proc is not None and serve.proc.returncode is not None
    for _ in range(100):
        try:
            os.kill(worker_pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    else:
        raise AssertionError("the worker outlived serve")
    assert "Dashboard and worker stopped." in serve.log_tail()


def test_serve_killed_takes_its_worker_with_it(tmp_path: Path) -> None:
    """``dashboard serve`` killed with SIGKILL (it cannot stop anything itself): its
    worker child gets SIGTERM from the kernel and exits, not left running alone."""
    port = free_port()
    serve = ManagedProcess(stripefleet_argv("dashboard", "serve", "--port", str(port),
                                            "--instance-dir", str(tmp_path / "d")),
                           env={"TEMPLATE_MASTER_API_KEY": "fleet-test-api-key-0123456789"},
                           log_path=tmp_path / "serve.log", die_with_parent=True)
    with serve:
        serve.wait_http(f"http://127.0.0.1:{port}/api/health", timeout=60)
        match = re.search(r"worker pid (\d+)", serve.log_tail())
        assert match, serve.log_tail()
        worker_pid = int(match.group(1))
        assert serve.proc is not None
        serve.proc.send_signal(signal.SIGKILL)  # serve only, not its process group
        serve.proc.wait(timeout=30)
        for _ in range(600):
            try:
                os.kill(worker_pid, 0)
            except ProcessLookupError:
                break
            try:
                stat = Path(f"/proc/{worker_pid}/stat").read_text()
            except OSError:
                break
            state = stat.rsplit(")", 1)[-1].split()
            if state and state[0] == "Z":
                break  # exited; its new parent (init) reaps it
            time.sleep(0.05)
        else:
            raise AssertionError("the worker outlived a killed serve")
