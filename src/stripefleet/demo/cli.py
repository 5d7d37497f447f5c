"""``stripefleet demo``: start a local fleet, push the Stripe keys to it, verify, show.

Issue 2, section 4: N real site processes on free loopback ports, each with its own
database in a temporary instance folder; test-mode keys of the right formats; all
three Stripe settings pushed with the propagation engine and verified; the recap; the
seeds' curl commands for site 1, ready to paste. Then it serves until Ctrl-C, or exits
after the recap with ``--once``. Either way no process is left behind.
"""

from __future__ import annotations

import shutil
import signal
import tempfile
import time
from pathlib import Path
from types import FrameType

import click
from rich.console import Console

from stripefleet.demo.fleet import DemoKeys, DemoSite, SiteFleet
from stripefleet.demo.steps import push_all, verify_all, write_env_file


def _raise_keyboard_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


@click.command()
@click.option("--sites", "site_count", default=3, show_default=True,
              type=click.IntRange(1, 50), help="How many site processes to start.")
@click.option("--once", is_flag=True,
              help="Exit after the recap (0 when every site is configured) instead of serving.")
@click.option("--workdir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where the sites' instance folders go (default: a new temporary "
                   "folder, removed at the end).")
def demo(site_count: int, once: bool, workdir: Path | None) -> None:
    """Start a demo fleet on this machine, push Stripe keys to it and verify them.

    Everything runs on 127.0.0.1 with made-up test-mode keys; nothing leaves the machine.
    """
    console = Console(highlight=False, soft_wrap=True)
    temporary = workdir is None
    root = Path(tempfile.mkdtemp(prefix="stripefleet-demo-")) if workdir is None else workdir
    root.mkdir(parents=True, exist_ok=True)
    previous = signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    ok = False
    try:
        keys = DemoKeys.generate()
        console.print(f"[bold]stripefleet demo[/bold]: starting {site_count} sites in {root}")
        with SiteFleet(site_count, root, api_key=keys.api_key) as sites:
            for site in sites:
                console.print(f"  site {site.index}: {site.url}")
            env_file, sites_file = write_env_file(root, keys, sites)
            pushed = push_all(console, sites, keys)
            verified = verify_all(console, sites, keys)
            ok = pushed and verified
            _print_try_it(console, sites[0], env_file, sites_file)
            if once:
                console.print("[bold]done[/bold] (--once): stopping the sites.")
            else:
                console.print("\nServing. Press Ctrl-C to stop every site.")
                _serve_until_interrupted(sites)
    except KeyboardInterrupt:
        console.print("\nStopping every site.")
        ok = True
    finally:
        signal.signal(signal.SIGTERM, previous)
        if temporary:
            shutil.rmtree(root, ignore_errors=True)
    raise SystemExit(0 if ok else 1)


def _serve_until_interrupted(sites: list[DemoSite]) -> None:
    """Block until Ctrl-C; say so if a site process dies meanwhile."""
    while True:
        for site in sites:
            proc = site.process.proc
            if proc is not None and proc.poll() is not None:
                raise click.ClickException(
                    f"site {site.index} exited with code {proc.returncode}:\n"
                    f"{site.process.log_tail()}"
                )
        time.sleep(0.5)


def _print_try_it(console: Console, site: DemoSite, env_file: Path, sites_file: Path) -> None:
    """Seed 000_'s and 002_'s commands, rewritten for site 1. The keys stay in the
    env file (mode 0600): no secret is printed, nor put on a command line."""
    url = site.url
    console.print(f"\n[bold]Try it[/bold] (site 1 is {url}). Load the demo's keys first:")
    console.print(f"  set -a; . {env_file}; set +a")
    console.print("Read the publishable key (seed 000_):")
    console.print(f"  curl -i {url}/api/stripe-pk")
    console.print("Push a publishable key (seed 000_):")
    console.print(f"  curl -X PUT {url}/api/export/settings/stripe_publishable_key \\\n"
                  '    -H "Content-Type: application/json" \\\n'
                  '    -H "X-API-Key: $TEMPLATE_MASTER_API_KEY" \\\n'
                  '    -d "{\\"value\\":\\"$STRIPE_PUBLISHABLE_KEY\\"}"')
    console.print("See what the site holds (fingerprints, never secrets):")
    console.print(f'  curl -H "X-API-Key: $TEMPLATE_MASTER_API_KEY" {url}/api/export/settings')
    console.print("Check its Stripe configuration (seed 002_):")
    console.print(f"  curl {url}/api/health/stripe")
    console.print("Push to the whole demo fleet with the CLI:")
    console.print(f"  stripefleet push stripe_secret_key --sites-file {sites_file}")
    console.print(f"  stripefleet verify stripe_publishable_key --sites-file {sites_file}")
