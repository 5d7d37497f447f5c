"""``stripefleet dashboard ...``: run the dashboard, its worker, and manage users.

Every command takes ``--instance-dir DIR`` (default ``DASHBOARD_INSTANCE_DIR`` or
``./instance/dashboard``) so that they all act on the same database and queue.

- ``serve``: the embedded default: the web app (waitress) and ONE Huey worker as a
  supervised child process (restarted if it dies); Ctrl-C stops both.
- ``web`` / ``worker``: production, run separately (gunicorn: see the README).
- ``create-user --email E --role R (--password-stdin | --generate-password)``,
  ``create-token --email E``, ``sites import FILE``.

This module holds the commands' options and output; what they do to the app (build and
migrate it, serve it, run a worker, write users, tokens and sites, each command's one
commit) is :mod:`stripefleet.dashboard.manage`, imported inside each command when it
runs. Why not at the top: a measured start-up cost. Importing ``manage`` imports the
whole app (Flask, SQLAlchemy, Alembic, Huey, the propagation engine's aiohttp, gunicorn).
Wall time, 9 runs each after a warm-up, median (range), on the 2-CPU development machine
while other test suites ran on it::

    command                                     lazy (as here)      manage at the top
    stripefleet dashboard --help                0.12 s (0.10-0.14)  1.32 s (1.15-1.78)
    stripefleet dashboard create-user --help    0.17 s (0.11-0.24)  1.62 s (1.39-2.00)
    stripefleet --help                          1.36 s (1.30-1.55)  1.55 s (1.41-2.90)

A command that runs builds the app anyway, so only help and usage errors are faster.
"""

from __future__ import annotations

import secrets
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import click

from stripefleet.common.processes import check_port_free, die_with_parent, stripefleet_argv

LOOPBACK = ("127.0.0.1", "localhost", "::1")

instance_option = click.option(
    "--instance-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
    help="Instance folder (databases, generated keys). Default: DASHBOARD_INSTANCE_DIR "
         "or ./instance/dashboard.")


@click.group()
def dashboard() -> None:
    """The dashboard: fleet registry, rollouts, history, audit."""


def _announce_synced(added: int) -> None:
    if added:
        click.echo(f"TEMPLATE_SITES_LIST: {added} site(s) registered", err=True)


@dashboard.command()
@instance_option
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--threads", default=8, show_default=True, type=click.IntRange(1, 256))
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64),
              help="Web processes; above 1, gunicorn serves (use PostgreSQL).")
def web(instance_dir: Path | None, host: str, port: int, threads: int, workers: int) -> None:
    """Serve the web app only (waitress, or gunicorn with --workers > 1). Run `worker`
    beside it, on the same database and queue."""
    from stripefleet.dashboard import manage  # lazy: keeps --help fast (module docstring)

    overrides = {"LOOPBACK_HTTP": host in LOOPBACK}
    app = manage.open_app(instance_dir, **overrides)
    _announce_synced(manage.sync_sites(app))
    if workers > 1:
        check_port_free(host, port)  # PortInUse before the banner; gunicorn binds it next
        click.echo(f"Dashboard on http://{host}:{port}/", err=True)
        manage.serve_gunicorn(app.config["INSTANCE_DIR"], overrides, host=host, port=port,
                              workers=workers, threads=threads)
        return
    server = manage.WaitressServer(app, host=host, port=port, threads=threads)  # binds
    click.echo(f"Dashboard on http://{host}:{port}/", err=True)
    server.run()


@dashboard.command()
@instance_option
def migrate(instance_dir: Path | None) -> None:
    """Apply the database migrations (every command also does it at start)."""
    from stripefleet.dashboard import manage  # lazy: keeps --help fast (module docstring)

    app = manage.open_app(instance_dir)
    click.echo(f"database at the latest revision ({app.config['INSTANCE_DIR']})", err=True)


@dashboard.command()
@instance_option
@click.option("--workers", default=4, show_default=True, type=click.IntRange(1, 64),
              help="Worker threads of this consumer (each runs one chunk at a time).")
def worker(instance_dir: Path | None, workers: int) -> None:
    """Run a Huey consumer for rollouts and verifications (SQLite or Redis queue)."""
    from stripefleet.dashboard import manage  # lazy: keeps --help fast (module docstring)

    manage.run_worker(manage.open_app(instance_dir), workers)


class _Supervisor:
    """Keeps one `dashboard worker` child running until :meth:`stop`."""

    def __init__(self, argv: list[str]) -> None:
        self.argv = argv
        self.proc: subprocess.Popen[bytes] | None = None
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._watch, name="worker-supervisor",
                                       daemon=True)

    def start(self) -> None:
        self._spawn()
        self.thread.start()

    def _spawn(self) -> None:
        # The worker dies with serve, even when serve is killed with SIGKILL: no worker
        # is left running a queue nobody watches. Spawned from the main thread or the
        # supervisor's, both of which live as long as serve.
        self.proc = subprocess.Popen(self.argv, start_new_session=True,
                                     preexec_fn=die_with_parent)  # noqa: PLW1509

    def _watch(self) -> None:
        while not self.stopping.wait(0.5):
            if self.proc is not None and self.proc.poll() is not None:
                click.echo(f"worker exited with code {self.proc.returncode}; restarting",
                           err=True)
                time.sleep(1)
                if not self.stopping.is_set():
                    self._spawn()

    def stop(self, timeout: float = 10.0) -> None:
        self.stopping.set()
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGINT)  # Huey: graceful stop
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=timeout)


@dashboard.command()
@instance_option
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--workers", default=4, show_default=True, type=click.IntRange(1, 64))
def serve(instance_dir: Path | None, host: str, port: int, workers: int) -> None:
    """The embedded default: web app + one supervised worker process; Ctrl-C stops both."""
    from stripefleet.dashboard import manage  # lazy: keeps --help fast (module docstring)

    app = manage.open_app(instance_dir, LOOPBACK_HTTP=host in LOOPBACK)
    _announce_synced(manage.sync_sites(app))
    folder = app.config["INSTANCE_DIR"]
    supervisor = _Supervisor(stripefleet_argv("dashboard", "worker", "--instance-dir", folder,
                                              "--workers", str(workers)))

    def _terminate(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    manage.check_queue(app)  # an unreachable queue: one sentence, not a failing worker
    # The port first: a web app that cannot listen starts no worker (PortInUse: exit 1
    # with the sentence, through the root command).
    server = manage.WaitressServer(app, host=host, port=port, threads=8)
    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGINT, _terminate)  # even when started with SIGINT ignored (&)
    try:
        supervisor.start()
        worker_pid = supervisor.proc.pid if supervisor.proc else None
        click.echo(f"Dashboard on http://{host}:{port}/ (worker pid {worker_pid})", err=True)
        server.run()
    except KeyboardInterrupt:
        pass
    except Exception:
        # The web app failed: its worker goes with it, and the reason follows as one
        # line (the root command prints it, exit 1; --debug shows the traceback).
        click.echo("the web app stopped on an error; stopping its worker", err=True)
        raise
    finally:
        supervisor.stop()
        click.echo("Dashboard and worker stopped.", err=True)


@dashboard.command("create-user")
@instance_option
@click.option("--email", required=True)
@click.option("--role", required=True, type=click.Choice(["viewer", "operator", "owner"]))
@click.option("--password-stdin", is_flag=True, help="Read the password from stdin.")
@click.option("--generate-password", is_flag=True,
              help="Generate a password and print it (once) on stdout.")
def create_user(instance_dir: Path | None, email: str, role: str, password_stdin: bool,
                generate_password: bool) -> None:
    """Create a user (passwords never on the command line)."""
    if password_stdin == generate_password:
        raise click.UsageError("Give exactly one of --password-stdin or --generate-password.")
    from stripefleet.dashboard import manage  # lazy: keeps --help fast (module docstring)

    password = secrets.token_urlsafe(18) if generate_password else \
        sys.stdin.readline().rstrip("\r\n")
    app = manage.open_app(instance_dir)
    created = manage.create_user(app, email, role, password)
    click.echo(f"created {created} ({role})", err=True)
    if generate_password:
        click.echo(password)


@dashboard.command("create-token")
@instance_option
@click.option("--email", required=True)
def create_token(instance_dir: Path | None, email: str) -> None:
    """Print a new API token for the user (Authorization: Bearer ...), shown once."""
    from stripefleet.dashboard import manage  # lazy: keeps --help fast (module docstring)

    token = manage.create_token(manage.open_app(instance_dir), email)
    click.echo(token)


@dashboard.group()
def sites() -> None:
    """The fleet registry."""


@sites.command("import")
@instance_option
@click.argument("file", type=click.File("r", encoding="utf-8"))
def import_sites(instance_dir: Path | None, file: Any) -> None:
    """Add the sites of a sites file (one base URL a line, '#' comments)."""
    from stripefleet.dashboard import manage  # lazy: keeps --help fast (module docstring)

    result = manage.import_sites(manage.open_app(instance_dir), file.read())
    click.echo(f"{len(result['added'])} added, {len(result['existing'])} already known")
