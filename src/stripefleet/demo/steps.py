"""The demo's steps: write the env and sites files, push each setting, verify it."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from rich.console import Console

from stripefleet.common.keys import (
    PUBLISHABLE_KEY,
    SECRET_KEY,
    STRIPE_SETTINGS,
    WEBHOOK_SECRET,
    mask,
)
from stripefleet.demo.fleet import DemoKeys, DemoSite
from stripefleet.propagation import PushOptions, Target, TargetResult, propagate, verify


def values_of(keys: DemoKeys) -> dict[str, str]:
    """The value to push for each Stripe setting."""
    return {
        PUBLISHABLE_KEY: keys.publishable_key,
        SECRET_KEY: keys.secret_key,
        WEBHOOK_SECRET: keys.webhook_secret,
    }


def write_env_file(root: Path, keys: DemoKeys, sites: list[DemoSite]) -> tuple[Path, Path]:
    """Write ``demo.env`` (mode 0600: the demo's keys, for the curl commands and the
    CLI) and ``sites.txt`` (one site URL a line, the CLI's sites file).

    Returns:
        (env file, sites file).
    """
    env_file = root / "demo.env"
    fd = os.open(env_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(f"TEMPLATE_MASTER_API_KEY={keys.api_key}\n")
        handle.write(f"STRIPE_PUBLISHABLE_KEY={keys.publishable_key}\n")
        handle.write(f"STRIPE_SECRET_KEY={keys.secret_key}\n")
        handle.write(f"STRIPE_WEBHOOK_SECRET={keys.webhook_secret}\n")
    sites_file = root / "sites.txt"
    sites_file.write_text("".join(f"{site.url}\n" for site in sites), encoding="utf-8")
    return env_file, sites_file


def _targets(sites: list[DemoSite], keys: DemoKeys) -> list[Target]:
    return [Target(site.url, keys.api_key, name=f"site {site.index}") for site in sites]


def _line(console: Console, result: TargetResult) -> None:
    style = "green" if result.state.succeeded else "red"
    error = f" {result.error}" if result.error else ""
    console.print(
        f"    {result.name or result.url:<8} [{style}]{result.state.value:<12}[/{style}] "
        f"http={result.http_status} attempts={result.attempts} {result.latency_ms} ms{error}"
    )


def push_all(console: Console, sites: list[DemoSite], keys: DemoKeys) -> bool:
    """Push the three Stripe settings to every site; True when every target succeeded."""
    options = PushOptions(concurrency=10, rate=10.0, timeout=8.0, retries=3)
    ok = True
    for setting, value in values_of(keys).items():
        console.print(f"\n[bold]push {setting}[/bold] = {mask(value)}")
        recap = asyncio.run(propagate(_targets(sites, keys), setting, value, options=options,
                                      on_result=lambda r: _line(console, r)))
        console.print(f"  recap: {recap.line()}")
        ok = ok and recap.succeeded
    return ok


def verify_all(console: Console, sites: list[DemoSite], keys: DemoKeys) -> bool:
    """Read every setting back from every site; True when all hold the values pushed."""
    ok = True
    console.print("\n[bold]verify[/bold]")
    for setting in STRIPE_SETTINGS:
        recap = asyncio.run(verify(_targets(sites, keys), setting, values_of(keys)[setting],
                                   options=PushOptions(concurrency=10, rate=10.0)))
        console.print(f"  {setting:<24} {recap.line()}")
        ok = ok and recap.succeeded
    return ok
