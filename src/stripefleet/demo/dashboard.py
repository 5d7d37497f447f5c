"""The demo's dashboard: ``dashboard serve`` started, sites registered, keys pushed.

Start ``dashboard serve`` (web + worker) on a free loopback port with an owner account
(its password generated and returned), register sites, push a value through a dashboard
rollout and wait for its recap (README, "The demo"). It drives the dashboard from the
outside, through its CLI and JSON API, and imports nothing of it. Only the standard
library talks HTTP here (:mod:`stripefleet.demo.http`); values go in a JSON body over
loopback, never on a command line.

    handle = start_dashboard(instance_dir, api_key=KEY, log_path=logs / "dashboard.log")
    register_sites(handle, site_urls)
    final = push(handle, "stripe_publishable_key", "pk_test_...")   # waits for the recap
    print(handle.url, handle.owner_email, handle.owner_password)
    handle.process.stop()
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stripefleet.common.processes import (
    ManagedProcess,
    ProcessFailed,
    free_port,
    stripefleet_argv,
)
from stripefleet.demo.http import DemoHTTPError, call

FINISHED = ("succeeded", "partially_failed", "failed", "halted", "rolled_back")


@dataclass
class DashboardHandle:
    """A running dashboard: its URL, owner credentials, API token and process."""

    url: str
    instance_dir: Path
    owner_email: str
    owner_password: str
    token: str
    process: ManagedProcess


def _cli(*args: str, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(stripefleet_argv(*args), capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=120, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"stripefleet {' '.join(args[:2])} failed: {done.stderr.strip()}")
    return done.stdout.strip()


def start_dashboard(instance_dir: Path, *, api_key: str, port: int | None = None,
                    owner_email: str = "owner@demo.local", log_path: Path | None = None,
                    env: dict[str, str] | None = None, timeout: float = 60.0) -> DashboardHandle:
    """Create an owner (generated password) and a token, then start ``dashboard serve``.

    Args:
        instance_dir: the dashboard's instance folder (created).
        api_key: the fleet's ``TEMPLATE_MASTER_API_KEY``.
        port: the port to listen on (127.0.0.1); a free one by default.
        owner_email: the owner account's email.
        log_path: where serve's output goes (default ``instance_dir/serve.log``).
        env: extra environment for the processes.
        timeout: seconds to wait for the web app to answer.

    Raises:
        RuntimeError: a CLI step failed. ProcessFailed: serve did not start.
    """
    instance_dir.mkdir(parents=True, exist_ok=True)
    full_env = {"TEMPLATE_MASTER_API_KEY": api_key, **(env or {})}
    folder = str(instance_dir)
    password = _cli("dashboard", "create-user", "--instance-dir", folder, "--email",
                    owner_email, "--role", "owner", "--generate-password", env=full_env)
    token = _cli("dashboard", "create-token", "--instance-dir", folder, "--email",
                 owner_email, env=full_env)
    for attempt in range(3):
        chosen = port or free_port()
        proc = ManagedProcess(
            stripefleet_argv("dashboard", "serve", "--port", str(chosen), "--instance-dir",
                             folder),
            env=full_env, log_path=log_path or instance_dir / "serve.log")
        proc.start()
        url = f"http://127.0.0.1:{chosen}"
        try:
            proc.wait_http(f"{url}/api/health", timeout=timeout)
        except ProcessFailed as exc:
            proc.stop()
            # A free port can be taken by another process before serve binds it.
            if port is None and attempt < 2 and "Address already in use" in str(exc):
                continue
            raise
        return DashboardHandle(url, instance_dir, owner_email, password, token, proc)
    raise AssertionError("unreachable")


def api(handle: DashboardHandle, method: str, path: str,
        body: dict[str, Any] | None = None) -> dict[str, Any]:
    """Call the dashboard's JSON API with the owner's token; the decoded answer.

    Raises:
        RuntimeError: an error answer (its code and message).
    """
    try:
        return call(method, handle.url + path, body,
                    headers={"Authorization": f"Bearer {handle.token}"})
    except DemoHTTPError as exc:
        raise RuntimeError(f"{method} {path}: {exc.status} {exc.body.get('error')}: "
                           f"{exc.body.get('message')}") from None


def register_sites(handle: DashboardHandle, urls: list[str]) -> dict[str, Any]:
    """Import ``urls`` into the fleet; ``{"added": [...], "existing": [...]}``."""
    return api(handle, "POST", "/api/sites/import", {"text": "\n".join(urls)})


def push(handle: DashboardHandle, setting: str, value: str | dict[str, str], *,
         options: dict[str, Any] | None = None, wait: bool = True, approve: bool = True,
         on_state: Callable[[dict[str, Any]], None] | None = None,
         timeout: float = 300.0) -> dict[str, Any]:
    """Start a rollout of ``setting`` = ``value`` to every enabled site.

    Args:
        setting: a setting, or ``key_pair`` (``value`` then maps each key's setting to
            its value).
        options: the rollout's options (README, "The dashboard": batches, approval...).
        wait: wait for its end; else return the creation answer.
        approve: when the rollout waits for approval after its canary, approve it (the
            owner's token) and go on waiting.
        on_state: called with the ``GET /api/rollouts/<id>`` answer each time the
            rollout's state changes.
        timeout: seconds to wait in all.

    Returns:
        The final ``GET /api/rollouts/<id>`` answer (rollout, progress, targets) when
        ``wait``, else the creation answer.

    Raises:
        RuntimeError: the dashboard refused the rollout (its code and message).
        TimeoutError: it did not finish within ``timeout``.
    """
    created = api(handle, "POST", "/api/rollouts", {"setting": setting, "value": value,
                                                    "targets": {"all": True},
                                                    "options": options or {}})
    if not wait:
        return created
    rollout_id = created["rollout"]["id"]
    deadline = time.monotonic() + timeout
    seen = None
    while True:
        answer = api(handle, "GET", f"/api/rollouts/{rollout_id}")
        state = answer["rollout"]["state"]
        if state != seen:
            seen = state
            if on_state is not None:
                on_state(answer)
        if state in FINISHED:
            return answer
        if state == "awaiting_approval" and approve:
            api(handle, "POST", f"/api/rollouts/{rollout_id}/approve")
        if time.monotonic() > deadline:
            raise TimeoutError(f"rollout {rollout_id} did not finish in {timeout:.0f} s")
        time.sleep(0.1)


def rollout(handle: DashboardHandle, rollout_id: int) -> dict[str, Any]:
    """``GET /api/rollouts/<id>``: the rollout, its progress and targets."""
    return api(handle, "GET", f"/api/rollouts/{rollout_id}")


def wait_finished(handle: DashboardHandle, rollout_id: int, *,
                  timeout: float = 300.0) -> dict[str, Any]:
    """Poll a rollout until it is finished; its last answer.

    Raises:
        TimeoutError: it did not finish within ``timeout`` seconds.
    """
    deadline = time.monotonic() + timeout
    while True:
        answer = rollout(handle, rollout_id)
        if answer["rollout"]["state"] in FINISHED:
            return answer
        if time.monotonic() > deadline:
            raise TimeoutError(f"rollout {rollout_id} did not finish in {timeout:.0f} s")
        time.sleep(0.1)
