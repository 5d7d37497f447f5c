"""``stripefleet demo``: a whole fleet on this machine, configured and selling.

What it runs (README, "The demo"): the Stripe emulator; N real site processes on free
loopback ports, each with its own database in a temporary instance folder, a webhook
endpoint registered with the emulator and the sample catalogue; the dashboard and its
Huey worker, with the sites registered and an owner account. The publishable and secret
keys go out as dashboard rollouts, each site's own webhook signing secret through the
engine; everything is read back (verify). With ``--once`` a customer buys site 1's
unique artwork and the demo exits 0 once the webhook has marked it sold; otherwise it
serves until Ctrl-C. No process is left behind.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from types import FrameType

import click
from rich.console import Console

from stripefleet.common.keys import PUBLISHABLE_KEY, SECRET_KEY, WEBHOOK_SECRET
from stripefleet.common.processes import ManagedProcess
from stripefleet.demo import dashboard, steps
from stripefleet.demo.emulator import DemoStripe, register_webhook_endpoints, start_emulator
from stripefleet.demo.fleet import DemoSite, SiteFleet, random_token
from stripefleet.demo.http import DemoHTTPError
from stripefleet.demo.purchase import buy_artwork

#: The prefix of the demo's temporary folders, in the system's temporary folder.
TEMP_PREFIX = "stripefleet-demo-"

#: The file in each temporary folder naming the demo that owns it: "<pid> <start time>".
PID_FILE = "demo.pid"


def _start_time(pid: int) -> str | None:
    """The start time of process ``pid`` (clock ticks since boot, ``/proc/PID/stat``'s
    22nd field), or None when there is no such process or no ``/proc``. With the pid it
    names one process: a pid reused by another program has another start time."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[-1].split()
    return fields[19] if len(fields) > 19 else None


def _alive(pid: int, started: str | None) -> bool:
    """True when the demo ``pid`` (started at ``started``, if known) still runs."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: it runs
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0]
    except (OSError, IndexError):
        state = ""
    if state == "Z":
        return False  # killed, not yet reaped by its parent
    now = _start_time(pid)
    return started is None or now is None or now == started


def write_pid_file(root: Path) -> None:
    """Mark ``root`` as this demo's folder (its pid and start time, mode 0600)."""
    pid = os.getpid()
    fd = os.open(root / PID_FILE, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(f"{pid} {_start_time(pid) or '-'}\n")


def remove_stale_folders(temp_dir: Path) -> list[tuple[Path, int]]:
    """Remove the temporary folders of demos that died without cleaning up.

    A demo killed with SIGKILL cannot remove its temporary folder, which holds the
    fleet's API key, the Stripe keys and each site's encryption key (README, "The
    demo"). Each folder has a pid file; a folder of this user whose demo no longer runs
    is removed. A folder without a pid file (a demo from before pid files, or one
    killed in its first instant) is left alone: nothing says that it is stale.

    Returns:
        (folder, pid of the dead demo) for each folder removed.
    """
    removed: list[tuple[Path, int]] = []
    for folder in sorted(temp_dir.glob(f"{TEMP_PREFIX}*")):
        try:
            if folder.is_symlink() or not folder.is_dir() or \
                    folder.stat().st_uid != os.getuid():
                continue
            pid_text, _, started = (folder / PID_FILE).read_text().strip().partition(" ")
            pid = int(pid_text)
        except (OSError, ValueError):
            continue
        if pid == os.getpid() or _alive(pid, None if started in ("", "-") else started):
            continue
        _wait_unused(folder)
        for _ in range(3):  # a child that was still stopping may have written meanwhile
            shutil.rmtree(folder, ignore_errors=True)
            if not folder.exists():
                removed.append((folder, pid))
                break
            time.sleep(0.5)
    return removed


def _wait_unused(folder: Path, *, timeout: float = 10.0) -> None:
    """Wait (``timeout`` seconds at most) until no process has a file open in ``folder``
    or works in it: the killed demo's children (sites, emulator, dashboard) got SIGTERM
    when it died, and may still be writing their last lines there. Linux's ``/proc``;
    elsewhere, no wait."""
    deadline = time.monotonic() + timeout
    while _users(folder) and time.monotonic() < deadline:
        time.sleep(0.2)


def _users(folder: Path) -> list[int]:
    """The pids of processes whose working directory or an open file is in ``folder``."""
    proc = Path("/proc")
    if not proc.is_dir():
        return []
    inside = str(folder.resolve())
    found = []
    for entry in proc.iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            links = [os.readlink(entry / "cwd")]
            links += [os.readlink(fd) for fd in (entry / "fd").iterdir()]
        except OSError:  # gone meanwhile, or not ours to read
            continue
        if any(link == inside or link.startswith(inside + os.sep) for link in links):
            found.append(int(entry.name))
    return found


def _raise_keyboard_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


@contextlib.contextmanager
def _running(proc: ManagedProcess) -> Iterator[ManagedProcess]:
    try:
        yield proc
    finally:
        proc.stop()


@click.command()
@click.option("--sites", "site_count", default=3, show_default=True,
              type=click.IntRange(1, 50), help="How many site processes to start.")
@click.option("--once", is_flag=True,
              help="Make one purchase, then exit (0 when every step worked) instead of "
                   "serving.")
@click.option("--workdir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where the instance folders go (default: a new temporary folder, "
                   "removed at the end).")
def demo(site_count: int, once: bool, workdir: Path | None) -> None:
    """Start a demo fleet on this machine: Stripe emulator, sites, dashboard; push the
    Stripe keys to every site, verify them, and sell.

    Everything runs on 127.0.0.1 with test-mode keys; nothing leaves the machine.
    """
    console = Console(highlight=False, soft_wrap=True)
    for folder, pid in remove_stale_folders(Path(tempfile.gettempdir())):
        console.print(f"removed {folder}: the temporary folder of a demo that no longer "
                      f"runs (pid {pid}, killed before it could clean up; it held keys)")
    if workdir is None:
        root = Path(tempfile.mkdtemp(prefix=TEMP_PREFIX))
        write_pid_file(root)
    else:
        root = workdir
    root.mkdir(parents=True, exist_ok=True)
    previous = signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    ok = False
    try:
        ok = _run(console, root, site_count, once)
    except KeyboardInterrupt:
        console.print("\nStopping every process.")
        ok = True
    finally:
        signal.signal(signal.SIGTERM, previous)
        if workdir is None:
            shutil.rmtree(root, ignore_errors=True)
    raise SystemExit(0 if ok else 1)


def _run(console: Console, root: Path, site_count: int, once: bool) -> bool:
    api_key = f"demo-fleet-{random_token(32)}"
    console.print(f"[bold]stripefleet demo[/bold] in {root}")
    emulator = start_emulator(root)
    with _running(emulator.process):
        console.print(f"  Stripe emulator: {emulator.url} (test mode)")
        fleet = SiteFleet(site_count, root, api_key=api_key,
                          extra_env={"STRIPE_API_BASE": emulator.url})
        with fleet as sites:
            for site in sites:
                console.print(f"  site {site.index}: {site.url}")
            steps.load_catalogues(console, sites)
            whsecs = register_webhook_endpoints(emulator, [s.url for s in sites])
            console.print(f"  {len(whsecs)} webhook endpoints registered with the emulator")
            handle = dashboard.start_dashboard(root / "dashboard", api_key=api_key,
                                               log_path=root / "dashboard.log",
                                               env={"STRIPE_API_BASE": emulator.url})
            with _running(handle.process):
                console.print(f"  dashboard: {handle.url}")
                # The sites file format's optional fields name each site (dashboard).
                dashboard.register_sites(
                    handle, [f"{s.url} name=site-{s.index} env=test tags=demo" for s in sites])
                ok, keys = _configure(console, sites, emulator, handle, api_key, whsecs)
                # Health and drift on the fleet page, without waiting for the periodic run.
                dashboard.api(handle, "POST", "/api/sites/verify")
                # No STRIPE_WEBHOOK_SECRET: each site has its own signing secret, and
                # `stripefleet push/verify stripe_webhook_secret` would take one for all.
                env_file, sites_file = steps.write_env_file(root, {
                    "TEMPLATE_MASTER_API_KEY": api_key,
                    "STRIPE_API_BASE": emulator.url,
                    "STRIPE_PUBLISHABLE_KEY": keys[PUBLISHABLE_KEY],
                    "STRIPE_SECRET_KEY": keys[SECRET_KEY],
                }, sites)
                _print_try_it(console, sites[0], emulator, handle, env_file, sites_file)
                if once:
                    console.print("\n[bold]a purchase on site 1[/bold] (--once)")
                    try:
                        ok = buy_artwork(console, sites[0].url, emulator.url) and ok
                    except (OSError, DemoHTTPError) as exc:  # TimeoutError is an OSError
                        console.print(f"  the purchase failed: {exc}")
                        ok = False
                    console.print(f"\n[bold]done[/bold]: {'all good' if ok else 'FAILED'}; "
                                  "stopping every process.")
                    return ok
                console.print("\nServing. Press Ctrl-C to stop every process.")
                _serve_until_interrupted(sites, handle.process, emulator.process)
    return ok


def _configure(console: Console, sites: list[DemoSite], emulator: DemoStripe,
               handle: dashboard.DashboardHandle, api_key: str,
               whsecs: list[str]) -> tuple[bool, dict[str, str]]:
    """Push the webhook signing secrets, the key pair, show the safety net, verify.

    Returns:
        (every site holds what it should, the keys it ends with: publishable, secret).
    """
    pushed_wh = steps.push_per_site(console, sites, api_key, WEBHOOK_SECRET, whsecs)
    pair = {PUBLISHABLE_KEY: emulator.publishable_key, SECRET_KEY: emulator.secret_key}
    final = steps.push_through_dashboard(console, handle, "key_pair", pair)
    pushed_pair = final["rollout"]["state"] == "succeeded"
    net_ok, secret_key = steps.safety_net(console, handle, emulator)
    keys = {PUBLISHABLE_KEY: emulator.publishable_key, SECRET_KEY: secret_key}
    verified = steps.verify_all(console, sites, api_key, {
        PUBLISHABLE_KEY: [keys[PUBLISHABLE_KEY]] * len(sites),
        SECRET_KEY: [secret_key] * len(sites),
        WEBHOOK_SECRET: whsecs,
    })
    return pushed_wh and pushed_pair and net_ok and verified, keys


def _serve_until_interrupted(sites: list[DemoSite], *others: ManagedProcess) -> None:
    """Block until Ctrl-C; stop with an error if a process dies meanwhile."""
    watched = [(f"site {s.index}", s.process) for s in sites]
    watched += [(proc.argv[3] if len(proc.argv) > 3 else "process", proc) for proc in others]
    while True:
        for label, proc in watched:
            if proc.proc is not None and proc.proc.poll() is not None:
                raise click.ClickException(
                    f"{label} exited with code {proc.proc.returncode}:\n{proc.log_tail()}")
        time.sleep(0.5)


def _stripefleet_command() -> str:
    """``stripefleet`` when it is on the PATH, else the path of this one (the
    project's ``.venv/bin/stripefleet`` after ``make demo``), so that the printed
    commands run as printed."""
    found = shutil.which("stripefleet")
    here = Path(sys.executable).parent / "stripefleet"
    if found and Path(found).resolve() == here.resolve():
        return "stripefleet"
    return str(here) if here.exists() else "stripefleet"


def _print_try_it(console: Console, site: DemoSite, emulator: DemoStripe,
                  handle: dashboard.DashboardHandle, env_file: Path,
                  sites_file: Path) -> None:
    """Where to look, and the settings API's curl commands for site 1 (README, "A site").
    The keys stay in the env file (mode 0600): no key is printed, nor put on a command
    line."""
    url = site.url
    console.print("\n[bold]Open[/bold]")
    console.print(f"  shop (site 1):  {url}/")
    console.print(f"  dashboard:      {handle.url}/  owner {handle.owner_email} "
                  f"password {handle.owner_password}")
    console.print(f"  Stripe pay page: test cards 4242 4242 4242 4242 (paid), "
                  f"4000 0000 0000 0002 (declined); emulator {emulator.url}")
    console.print(f"\n[bold]Try it[/bold] (site 1 is {url}). Load the demo's keys first:")
    console.print(f"  set -a; . {env_file}; set +a")
    console.print("Read the publishable key:")
    console.print(f"  curl -i {url}/api/stripe-pk")
    console.print("Push a publishable key:")
    console.print(f"  curl -X PUT {url}/api/export/settings/stripe_publishable_key \\\n"
                  '    -H "Content-Type: application/json" \\\n'
                  '    -H "X-API-Key: $TEMPLATE_MASTER_API_KEY" \\\n'
                  '    -d "{\\"value\\":\\"$STRIPE_PUBLISHABLE_KEY\\"}"')
    console.print("See what the site holds (fingerprints, never secrets):")
    console.print(f'  curl -H "X-API-Key: $TEMPLATE_MASTER_API_KEY" {url}/api/export/settings')
    console.print("Check its Stripe configuration:")
    console.print(f"  curl {url}/api/health/stripe")
    console.print("The catalogue (each product's stock and inStock):")
    console.print(f"  curl {url}/api/products")
    console.print("Check every site's keys with Stripe, then push to the whole demo fleet "
                  "with the CLI:")
    command = _stripefleet_command()
    console.print(f"  {command} verify --functional --sites-file {sites_file}")
    console.print(f"  {command} push stripe_secret_key --sites-file {sites_file}")
