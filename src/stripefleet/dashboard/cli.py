"""``stripefleet dashboard ...``: run the dashboard, its worker, and manage users.

Every command takes ``--instance-dir DIR`` (default ``DASHBOARD_INSTANCE_DIR`` or
``./instance/dashboard``) so that they all act on the same database and queue.

- ``serve``: the embedded default: the web app (waitress) and ONE Huey worker as a
  supervised child process (restarted if it dies); Ctrl-C stops both.
- ``web`` / ``worker``: production, run separately (gunicorn: see the README).
- ``create-user --email E --role R (--password-stdin | --generate-password)``,
  ``create-token --email E``, ``sites import FILE``.
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

LOOPBACK = ("127.0.0.1", "localhost", "::1")

instance_option = click.option(
    "--instance-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
    help="Instance folder (databases, generated keys). Default: DASHBOARD_INSTANCE_DIR "
         "or ./instance/dashboard.")


def _app(instance_dir: Path | None, **overrides: Any) -> Any:
    from stripefleet.dashboard.app import create_app, ensure_schema
    from stripefleet.dashboard.config import ConfigError

    try:
        app = create_app(overrides, instance_dir=instance_dir)
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from None
    ensure_schema(app)
    return app


@click.group()
def dashboard() -> None:
    """The dashboard: fleet registry, rollouts, history, audit (issue 5)."""


def _sync_sites(app: Any) -> None:
    from stripefleet.dashboard.extensions import db
    from stripefleet.dashboard.sites.services import sync_sites_list

    with app.app_context():
        result = sync_sites_list()
        db.session.commit()
    if result["added"]:
        click.echo(f"TEMPLATE_SITES_LIST: {len(result['added'])} site(s) registered", err=True)


@dashboard.command()
@instance_option
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--threads", default=8, show_default=True, type=int)
@click.option("--workers", default=1, show_default=True, type=int,
              help="Web processes; above 1, gunicorn serves (use PostgreSQL).")
def web(instance_dir: Path | None, host: str, port: int, threads: int, workers: int) -> None:
    """Serve the web app only (waitress, or gunicorn with --workers > 1). Run `worker`
    beside it, on the same database and queue."""
    from waitress import serve as waitress_serve

    overrides = {"LOOPBACK_HTTP": host in LOOPBACK}
    app = _app(instance_dir, **overrides)
    _sync_sites(app)
    click.echo(f"Dashboard on http://{host}:{port}/", err=True)
    if workers > 1:
        _run_gunicorn(app.config["INSTANCE_DIR"], overrides, host=host, port=port,
                      workers=workers, threads=threads)
        return
    waitress_serve(app, host=host, port=port, threads=threads, ident="stripefleet")


def _run_gunicorn(instance_dir: str, overrides: dict[str, Any], *, host: str, port: int,
                  workers: int, threads: int) -> None:
    """Serve with gunicorn; each worker process builds its own app after the fork."""
    from gunicorn.app.base import BaseApplication

    from stripefleet.dashboard.app import create_app

    class _App(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            for key, value in {"bind": f"{host}:{port}", "workers": workers,
                               "threads": threads, "worker_class": "gthread",
                               "accesslog": None}.items():
                self.cfg.set(key, value)

        def load(self) -> Any:
            return create_app(dict(overrides), instance_dir=instance_dir)

    _App().run()


@dashboard.command()
@instance_option
def migrate(instance_dir: Path | None) -> None:
    """Apply the database migrations (every command also does it at start)."""
    app = _app(instance_dir)
    click.echo(f"database at the latest revision ({app.config['INSTANCE_DIR']})", err=True)


@dashboard.command()
@instance_option
@click.option("--workers", default=4, show_default=True, type=int,
              help="Worker threads of this consumer (each runs one chunk at a time).")
def worker(instance_dir: Path | None, workers: int) -> None:
    """Run a Huey consumer for rollouts and verifications (SQLite or Redis queue)."""
    from stripefleet.dashboard.queue import get_huey

    app = _app(instance_dir)
    huey = get_huey(app)
    consumer = huey.create_consumer(workers=workers, worker_type="thread", periodic=True,
                                    initial_delay=0.05, max_delay=0.5)
    click.echo(f"Worker ready ({type(huey).__name__}, {workers} threads)", err=True)
    consumer.run()


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
        self.proc = subprocess.Popen(self.argv, start_new_session=True)

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
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=4, show_default=True, type=int)
def serve(instance_dir: Path | None, host: str, port: int, workers: int) -> None:
    """The embedded default: web app + one supervised worker process; Ctrl-C stops both."""
    from waitress import serve as waitress_serve

    from stripefleet.common.processes import stripefleet_argv

    app = _app(instance_dir, LOOPBACK_HTTP=host in LOOPBACK)
    _sync_sites(app)
    folder = app.config["INSTANCE_DIR"]
    supervisor = _Supervisor(stripefleet_argv("dashboard", "worker", "--instance-dir", folder,
                                              "--workers", str(workers)))

    def _terminate(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGINT, _terminate)  # even when started with SIGINT ignored (&)
    supervisor.start()
    worker_pid = supervisor.proc.pid if supervisor.proc else None
    click.echo(f"Dashboard on http://{host}:{port}/ (worker pid {worker_pid})", err=True)
    try:
        waitress_serve(app, host=host, port=port, threads=8, ident="stripefleet")
    except KeyboardInterrupt:
        pass
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
    from stripefleet.common.web import ApiError
    from stripefleet.dashboard.audit import services as audit
    from stripefleet.dashboard.auth import services
    from stripefleet.dashboard.extensions import db

    if password_stdin == generate_password:
        raise click.UsageError("Give exactly one of --password-stdin or --generate-password.")
    password = secrets.token_urlsafe(18) if generate_password else \
        sys.stdin.readline().rstrip("\r\n")
    app = _app(instance_dir)
    with app.app_context():
        try:
            user = services.create_user(email, role, password)
        except ApiError as exc:
            raise click.ClickException(f"{exc.code}: {exc.message}") from None
        audit.record("user.create", subject=user.email, actor="cli", details={"role": role})
        created = user.email
        db.session.commit()
    click.echo(f"created {created} ({role})", err=True)
    if generate_password:
        click.echo(password)


@dashboard.command("create-token")
@instance_option
@click.option("--email", required=True)
def create_token(instance_dir: Path | None, email: str) -> None:
    """Print a new API token for the user (Authorization: Bearer ...), shown once."""
    from stripefleet.dashboard.audit import services as audit
    from stripefleet.dashboard.auth import services
    from stripefleet.dashboard.extensions import db

    app = _app(instance_dir)
    with app.app_context():
        user = services.get_user_by_email(email)
        if user is None:
            raise click.ClickException(f"user_not_found: no user {email}")
        row, token = services.create_token(user)
        audit.record("token.create", subject=user.email, actor="cli",
                     details={"prefix": row.prefix})
        db.session.commit()
    click.echo(token)


@dashboard.group()
def sites() -> None:
    """The fleet registry."""


@sites.command("import")
@instance_option
@click.argument("file", type=click.File("r", encoding="utf-8"))
def import_sites(instance_dir: Path | None, file: Any) -> None:
    """Add the sites of a sites file (one base URL a line, '#' comments)."""
    from stripefleet.common.web import ApiError
    from stripefleet.dashboard.audit import services as audit
    from stripefleet.dashboard.extensions import db
    from stripefleet.dashboard.sites import services

    app = _app(instance_dir)
    with app.app_context():
        try:
            result = services.import_sites(services.parse_sites_file(file.read()))
        except ApiError as exc:
            raise click.ClickException(f"{exc.code}: {exc.message}") from None
        audit.record("site.import", actor="cli", details={"added": len(result["added"]),
                                                          "existing": len(result["existing"])})
        db.session.commit()
    click.echo(f"{len(result['added'])} added, {len(result['existing'])} already known")
