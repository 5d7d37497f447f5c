"""The demo's steps: write the env and sites files, push each setting (through the
dashboard's rollouts, or the engine for per-site values), verify, load catalogues."""

from __future__ import annotations

import asyncio
import os
import subprocess
from collections import defaultdict
from pathlib import Path
from typing import Any

from rich.console import Console

from stripefleet.common.files import write_private
from stripefleet.common.keys import mask
from stripefleet.common.processes import stripefleet_argv
from stripefleet.demo import dashboard
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
    CLI) and ``sites.txt`` (one site URL a line, the CLI's sites file).

    Args:
        values: environment variable -> value (``TEMPLATE_MASTER_API_KEY``, ...).

    Returns:
        (env file, sites file).
    """
    env_file = root / "demo.env"
    write_private(env_file, "".join(f"{name}={value}\n" for name, value in values.items()))
    sites_file = root / "sites.txt"
    sites_file.write_text("".join(f"{site.url}\n" for site in sites), encoding="utf-8")
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
                           setting: str, value: str) -> bool:
    """A dashboard rollout of ``setting`` to every site, waited for; True on success."""
    console.print(f"\n[bold]rollout {setting}[/bold] = {mask(value)} (dashboard, Huey worker)")
    final = dashboard.push(handle, setting, value)
    for row in final["targets"]:
        _line(console, row)
    rollout = final["rollout"]
    recap = Recap({**Recap().counts, **(rollout.get("recap") or {})})
    console.print(f"  rollout {rollout['id']} {rollout['state']}: {recap.line()}")
    return bool(rollout["state"] == "succeeded")


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
