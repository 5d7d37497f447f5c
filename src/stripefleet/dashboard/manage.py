"""What the ``stripefleet dashboard`` commands do to the app: build and migrate it, serve
it, run a worker, create users and tokens, import sites.

``cli.py`` holds the commands' options and output and imports this module when a
command runs (so that ``stripefleet dashboard --help`` does not import the app; the
measurements are in its docstring). Each function that writes is its command's one
commit point: the services it calls only flush. Refusals become click exceptions
(exit 1, ``code: message``; a bad configuration is a usage error, exit 2).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from flask import Flask
from gunicorn.app.base import BaseApplication

from stripefleet.common.processes import check_port_free
from stripefleet.common.serving import WaitressServer as _Bound
from stripefleet.common.web import ApiError
from stripefleet.dashboard.app import create_app, ensure_schema
from stripefleet.dashboard.audit import services as audit
from stripefleet.dashboard.auth import services as auth
from stripefleet.dashboard.config import ConfigError
from stripefleet.dashboard.extensions import db
from stripefleet.dashboard.queue import get_huey
from stripefleet.dashboard.sites import services as registry


def open_app(instance_dir: Path | str | None, **overrides: Any) -> Flask:
    """The app of ``instance_dir``, its database migrated to the latest revision.

    Raises:
        click.UsageError: an unknown or malformed setting (named, never a secret).
        click.ClickException: the instance folder cannot be created or written (exit 1).
    """
    try:
        app = create_app(overrides, instance_dir=instance_dir)
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from None
    except OSError as exc:
        where = instance_dir or exc.filename or "the instance folder"
        raise click.ClickException(
            f"cannot use the instance folder {where}: {exc.strerror or exc} (give "
            "--instance-dir a folder this user may create and write)") from None
    ensure_schema(app)
    return app


def sync_sites(app: Flask) -> int:
    """Register the sites of ``TEMPLATE_SITES_LIST`` not yet known; how many were added."""
    with app.app_context():
        result = registry.sync_sites_list()
        db.session.commit()
    return len(result["added"])


def create_user(app: Flask, email: str, role: str, password: str) -> str:
    """Create a user (audited, actor ``cli``); the normalized email.

    Raises:
        click.ClickException: ``invalid_email``, ``weak_password``, ``user_exists``...
    """
    with app.app_context():
        try:
            user = auth.create_user(email, role, password)
        except ApiError as exc:
            raise click.ClickException(f"{exc.code}: {exc.message}") from None
        audit.record("user.create", subject=user.email, actor="cli", details={"role": role})
        created = user.email
        db.session.commit()
    return created


def create_token(app: Flask, email: str) -> str:
    """A new API token of the user (audited, actor ``cli``), to show once.

    Raises:
        click.ClickException: ``user_not_found``.
    """
    with app.app_context():
        user = auth.get_user_by_email(email)
        if user is None:
            raise click.ClickException(f"user_not_found: no user {email}")
        row, token = auth.create_token(user)
        audit.record("token.create", subject=user.email, actor="cli",
                     details={"prefix": row.prefix})
        db.session.commit()
    return token


def import_sites(app: Flask, text: str) -> dict[str, Any]:
    """Add the sites of a sites file's text (audited); ``{"added": [...], "existing": [...]}``.

    Raises:
        click.ClickException: a malformed line (``invalid_sites_file``...).
    """
    with app.app_context():
        try:
            result = registry.import_sites(registry.parse_sites_file(text))
        except ApiError as exc:
            raise click.ClickException(f"{exc.code}: {exc.message}") from None
        audit.record("site.import", actor="cli", details={"added": len(result["added"]),
                                                          "existing": len(result["existing"])})
        db.session.commit()
    return result


def check_queue(app: Flask) -> None:
    """Read the app's queue once (its length), so that a queue that cannot be reached
    stops the command at start with one sentence instead of a consumer logging the same
    traceback every second.

    Raises:
        redis.exceptions.ConnectionError: ``REDIS_URL`` does not answer (the root
            command prints it as ``error: Redis is not reachable: ...``, exit 1).
        OSError, sqlite3.Error: the embedded queue's file cannot be opened.
    """
    get_huey(app).pending_count()


def run_worker(app: Flask, workers: int) -> None:
    """Run a Huey consumer of the app's queue with ``workers`` threads, until stopped.

    Raises:
        redis.exceptions.ConnectionError: the queue cannot be reached (:func:`check_queue`).
    """
    check_queue(app)
    huey = get_huey(app)
    consumer = huey.create_consumer(workers=workers, worker_type="thread", periodic=True,
                                    initial_delay=0.05, max_delay=0.5)
    click.echo(f"Worker ready ({type(huey).__name__}, {workers} threads)", err=True)
    consumer.run()


class WaitressServer(_Bound):
    """The dashboard's waitress server (``common.serving.WaitressServer``), its socket
    bound: binding comes first so that ``serve`` and ``web`` announce the dashboard,
    and ``serve`` starts its worker, only once the port is theirs (README, "Running
    it").

    Raises:
        PortInUse: another socket holds the port.
        OSError: any other reason the address cannot be bound (an unknown host too).
    """

    def __init__(self, app: Flask, *, host: str, port: int, threads: int) -> None:
        super().__init__(app, host=host, port=port, threads=threads, ident="stripefleet")


class GunicornApp(BaseApplication):  # type: ignore[misc]
    """gunicorn's custom application ("Custom Application" in gunicorn's docs,
    https://docs.gunicorn.org/en/stable/custom.html): each worker process builds its own
    app after the fork, from the instance folder and the overrides."""

    def __init__(self, instance_dir: str, overrides: dict[str, Any],
                 options: dict[str, Any]) -> None:
        self.instance_dir = instance_dir
        self.overrides = overrides
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Flask:
        return create_app(dict(self.overrides), instance_dir=self.instance_dir)


def serve_gunicorn(instance_dir: str, overrides: dict[str, Any], *, host: str, port: int,
                   workers: int, threads: int) -> None:
    """Serve with gunicorn (``workers`` processes of ``threads`` threads, gthread).

    Raises:
        PortInUse: another socket holds the port (checked before gunicorn starts).
    """
    check_port_free(host, port)
    GunicornApp(instance_dir, overrides, {
        "bind": f"{host}:{port}", "workers": workers, "threads": threads,
        "worker_class": "gthread", "accesslog": None}).run()
