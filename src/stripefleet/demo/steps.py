"""The demo's steps: write the env and sites files, push each setting (through the
dashboard's rollouts, or the engine for per-site values), verify, load catalogues."""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from rich.console import Console

from stripefleet.common.files import write_private
from stripefleet.common.keys import SECRET_KEY, mask
from stripefleet.common.processes import stripefleet_argv
from stripefleet.demo import dashboard
from stripefleet.demo.emulator import DemoStripe
from stripefleet.demo.fleet import DemoSite
from stripefleet.propagation import (
    PushOptions,
    Recap,
    Target,
    TargetResult,
    TargetState,
    propagate_values,
    verify,
)

OPTIONS = PushOptions(concurrency=10, rate=10.0, timeout=8.0, retries=3)


def write_env_file(root: Path, values: dict[str, str], sites: list[DemoSite]) -> tuple[Path, Path]:
    """Write ``demo.env`` (mode 0600: the demo's keys, for the curl commands and the
    CLI) and ``sites.txt`` (the CLI's sites file: a site URL and its ``env=test`` a line).

    Args:
        values: environment variable -> value (``TEMPLATE_MASTER_API_KEY``, ...).

    Returns:
        (env file, sites file).
    """
    env_file = root / "demo.env"
    write_private(env_file, "".join(f"{name}={value}\n" for name, value in values.items()))
    sites_file = root / "sites.txt"
    # env=test: the CLI's preflight refuses a live key for these test-mode sites.
    sites_file.write_text("".join(f"{site.url} env=test\n" for site in sites),
                          encoding="utf-8")
    return env_file, sites_file


def load_catalogues(console: Console, sites: list[DemoSite]) -> None:
    """``stripefleet site products import --sample`` into every site.

    Raises:
        RuntimeError: an import failed (its output in the message).
    """
    for site in sites:
        done = subprocess.run(
            stripefleet_argv("site", "products", "import", "--sample", "--instance-dir",
                             str(site.instance_dir)),
            capture_output=True, text=True, timeout=120, check=False,
            env={**os.environ, "DATABASE_URL": f"sqlite:///{site.instance_dir / 'site.db'}"})
        if done.returncode != 0:
            raise RuntimeError(f"catalogue import into site {site.index} failed: "
                               f"{done.stdout}{done.stderr}")
    console.print(f"  sample catalogue loaded into {len(sites)} sites "
                  "(a unique artwork, a poster, a card, a rentable easel)")


def _line(console: Console, row: dict[str, Any]) -> None:
    ok = TargetState(row["state"]).succeeded
    style = "green" if ok else "red"
    error = f" {row['error']}" if row.get("error") else ""
    console.print(f"    {row.get('name') or row['url']:<8} [{style}]{row['state']:<12}"
                  f"[/{style}] http={row.get('http_status')} attempts={row.get('attempts')} "
                  f"{row.get('latency_ms')} ms{error}")


def push_through_dashboard(console: Console, handle: dashboard.DashboardHandle,
                           setting: str, value: str | dict[str, str],
                           options: dict[str, Any] | None = None) -> dict[str, Any]:
    """A dashboard rollout of ``setting`` to every site, its canary approved, waited for;
    prints each state, each target and the recap; the final rollout JSON."""
    shown = (mask(value) if isinstance(value, str)
             else " + ".join(mask(v) for v in value.values()))
    console.print(f"\n[bold]rollout {setting}[/bold] = {shown} (dashboard, Huey worker)")

    def state(answer: dict[str, Any]) -> None:
        rollout = answer["rollout"]
        batches = rollout.get("batches") or []
        done = [b for b in batches if b.get("state") == "done"]
        line = f"  {rollout['state']}"
        if batches:
            line += f" (batch {len(done)} of {len(batches)} done)"
        if rollout["state"] == "awaiting_approval":
            line += ": the canary passed; approving the next batches"
        console.print(line)

    final = dashboard.push(handle, setting, value, options=options, on_state=state)
    print_rollout(console, final)
    return final


def print_rollout(console: Console, final: dict[str, Any]) -> None:
    """Each target's line, the halt reason if any, and the rollout's recap."""
    for row in final["targets"]:
        _line(console, row)
    rollout = final["rollout"]
    if rollout.get("halt_reason"):
        console.print(f"  halted: {rollout['halt_reason']}")
    recap = Recap({**Recap().counts, **(rollout.get("recap") or {})})
    console.print(f"  rollout {rollout['id']} {rollout['state']}: {recap.line()}")


def safety_net(console: Console, handle: dashboard.DashboardHandle,
               emulator: DemoStripe) -> tuple[bool, str]:
    """The safety net at work: a secret key that passes the preflight check and then
    expires (the emulator's control API) fails the canary's functional check; the
    rollout halts after one site and rolls it back; then a good new key goes out.

    Returns:
        (every step went as it should, the secret key the fleet ends with).
    """
    control = emulator.control()
    doomed = control.create_keys()["secret_key"]
    control.expire_key(doomed, after_requests=1)  # the preflight's check passes, no more
    console.print("\n[bold]the safety net[/bold]: a secret key that expires right after "
                  "its preflight check")
    final = push_through_dashboard(console, handle, SECRET_KEY, doomed)
    rollout = final["rollout"]
    touched = [t for t in final["targets"] if t["state"] not in ("pending", "skipped")]
    ok = rollout["state"] in ("halted", "rolled_back") and len(touched) == 1
    back_id = rollout.get("rollback_rollout_id")
    if back_id:
        back = dashboard.wait_finished(handle, back_id)
        console.print(f"  the rollback (rollout {back_id}) restored the canary's previous key:")
        print_rollout(console, back)
        ok = ok and back["rollout"]["state"] == "succeeded"
        # The halted rollout's own recap, once its rollback has marked what it undid.
        parent = _after_rollback(handle, rollout["id"])
        recap = Recap({**Recap().counts, **(parent.get("recap") or {})})
        console.print(f"  rollout {parent['id']} {parent['state']}: {recap.line()}")
    else:
        ok = False
        console.print("  no rollback was started")
    good = control.create_keys()["secret_key"]
    console.print("\n[bold]then the right key[/bold] (a new key of the same account)")
    final = push_through_dashboard(console, handle, SECRET_KEY, good)
    return ok and final["rollout"]["state"] == "succeeded", good


def _after_rollback(handle: dashboard.DashboardHandle, rollout_id: int, *,
                    timeout: float = 30.0) -> dict[str, Any]:
    """The halted rollout once its rollback has marked it ``rolled_back`` (or as it
    stands after ``timeout`` seconds)."""
    deadline = time.monotonic() + timeout
    while True:
        rollout: dict[str, Any] = dashboard.rollout(handle, rollout_id)["rollout"]
        if rollout["state"] == "rolled_back" or time.monotonic() > deadline:
            return rollout
        time.sleep(0.1)


def push_per_site(console: Console, sites: list[DemoSite], api_key: str, setting: str,
                  values: list[str]) -> bool:
    """Push a different value to each site with the engine (``propagate_values``)."""
    console.print(f"\n[bold]push {setting}[/bold] (one value per site, engine)")
    items = [(Target(s.url, api_key, name=f"site {s.index}"), v)
             for s, v in zip(sites, values, strict=True)]

    def show(result: TargetResult) -> None:
        _line(console, result.as_dict())

    recap = asyncio.run(propagate_values(items, setting, options=OPTIONS, on_result=show))
    console.print(f"  recap: {recap.line()}")
    return recap.succeeded


def verify_all(console: Console, sites: list[DemoSite], api_key: str,
               expected: dict[str, list[str]]) -> bool:
    """Read every setting back from every site and compare with ``expected`` (setting ->
    one value per site); True when all match."""
    console.print("\n[bold]verify[/bold] (read back from every site)")
    ok = True
    for setting, per_site in expected.items():
        groups: dict[str, list[Target]] = defaultdict(list)
        for site, value in zip(sites, per_site, strict=True):
            groups[value].append(Target(site.url, api_key, name=f"site {site.index}"))
        total = Recap()
        for value, targets in groups.items():
            recap = asyncio.run(verify(targets, setting, value, options=OPTIONS))
            for state, count in recap.counts.items():
                total.counts[state] = total.counts.get(state, 0) + count
        console.print(f"  {setting:<24} {total.line()}")
        ok = ok and total.succeeded
    return ok
