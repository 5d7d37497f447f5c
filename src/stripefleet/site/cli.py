"""``stripefleet site ...``: run one template site and administer its instance.

Every command takes ``--instance-dir`` (default ``$SITE_INSTANCE_DIR``, else
``./instance``). A domain adds its commands to ``COMMANDS`` (lazily imported), e.g.
issue 4's ``products`` and ``create-owner``.
"""

from __future__ import annotations

import getpass
import importlib
import logging
import sys
from pathlib import Path
from typing import Any

import click
from flask import Flask

from stripefleet.common.crypto import DecryptionError
from stripefleet.common.keys import MASTER_API_KEY, InvalidValue

#: extra command name -> "module:attribute" (a click command), imported on use.
COMMANDS: dict[str, str] = {
    "products": "stripefleet.site.shop.cli:products",
    "create-owner": "stripefleet.site.accounts.cli:create_owner",
    "orders": "stripefleet.site.checkout.cli:orders",
}

NO_API_KEY = (
    "the site has no API key, so nobody could push settings to it. Set one with the "
    "environment variable TEMPLATE_MASTER_API_KEY (16 to 256 characters among letters, "
    "digits and _-.~+/=), or store one in the instance's database with "
    "`stripefleet site set-api-key --instance-dir DIR` (it reads the key from stdin)."
)


class SiteGroup(click.Group):
    """The ``site`` group: its own commands plus ``COMMANDS``, imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in COMMANDS:
            module_name, attr = COMMANDS[cmd_name].split(":")
            command = getattr(importlib.import_module(module_name), attr)
            assert isinstance(command, click.Command)
            return command
        return super().get_command(ctx, cmd_name)


instance_dir_option = click.option(
    "--instance-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="The site's instance folder (SQLite database, encryption key). "
         "Default: $SITE_INSTANCE_DIR, else ./instance.",
)


def overrides_for(instance_dir: Path | None) -> dict[str, Any]:
    """The ``create_app`` overrides for a command's ``--instance-dir``."""
    return {"SITE_INSTANCE_DIR": str(instance_dir)} if instance_dir is not None else {}


def build_app(instance_dir: Path | None) -> Flask:
    """The site app for a command, with its database migrated to every head.

    Raises:
        click.ClickException: a configuration error, with its message (exit 1).
    """
    from stripefleet.site.app import create_app
    from stripefleet.site.config import ConfigError
    from stripefleet.site.db import upgrade_database

    try:
        app = create_app(overrides_for(instance_dir))
    except (ConfigError, ValueError) as exc:
        raise click.ClickException(f"configuration error: {exc}") from None
    with app.app_context():
        upgrade_database()
    return app


@click.group(cls=SiteGroup)
def site() -> None:
    """Run one template site and administer its instance."""


@site.command()
@click.option("--port", type=click.IntRange(1, 65535), required=True, help="TCP port.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@instance_dir_option
@click.option("--threads", type=click.IntRange(1, 256), default=8, show_default=True,
              help="Threads per process.")
@click.option("--workers", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Processes; above 1, gunicorn serves (use PostgreSQL).")
def serve(port: int, host: str, instance_dir: Path | None, threads: int, workers: int) -> None:
    """Serve the site's HTTP API until interrupted.

    Migrates the database first; refuses to start without an API key
    (TEMPLATE_MASTER_API_KEY or the template_master_api_key row).
    """
    from sqlalchemy.exc import SQLAlchemyError

    from stripefleet.site.extensions import db
    from stripefleet.site.serve import run_gunicorn, run_waitress
    from stripefleet.site.settings.services import accepted_api_keys, undecryptable_settings

    try:
        app = build_app(instance_dir)
        with app.app_context():
            undecryptable = undecryptable_settings()
            if undecryptable:
                raise click.ClickException(
                    f"the stored {', '.join(undecryptable)} cannot be decrypted: "
                    "STRIPEFLEET_ENCRYPTION_KEY (or <instance>/encryption.key) lacks the "
                    "key they were encrypted with; restore it (a ring may list several "
                    "keys, comma-separated)")
            has_key = bool(accepted_api_keys())
            url = db.engine.url.render_as_string(hide_password=True)
            db.engine.dispose()
    except DecryptionError as exc:
        raise click.ClickException(str(exc)) from None
    except SQLAlchemyError as exc:
        raise click.ClickException(
            f"the database is not usable: {type(exc).__name__}: {str(exc).splitlines()[0]}"
        ) from None
    if not has_key:
        raise click.ClickException(NO_API_KEY)
    logger = logging.getLogger("stripefleet.site")
    if logger.getEffectiveLevel() > logging.INFO:
        logger.setLevel(logging.INFO)
    click.echo(f"stripefleet site serving on http://{host}:{port} "
               f"(instance {app.instance_path}, database {url})", err=True)
    sys.stderr.flush()
    if workers > 1:
        run_gunicorn(overrides_for(instance_dir), host=host, port=port, workers=workers,
                     threads=threads)
    else:
        run_waitress(app, host=host, port=port, threads=threads)


@site.command("set-api-key")
@instance_dir_option
def set_api_key(instance_dir: Path | None) -> None:
    """Store the fleet's API key in the instance's database, read from stdin.

    It is stored encrypted as the template_master_api_key row; the site accepts it
    besides TEMPLATE_MASTER_API_KEY. Never pass a key as an argument.
    """
    from stripefleet.site.extensions import db
    from stripefleet.site.settings.services import put_value

    raw = sys.stdin.readline()
    app = build_app(instance_dir)
    with app.app_context():
        try:
            result = put_value(MASTER_API_KEY, raw, actor=f"cli:{getpass.getuser()}")
        except InvalidValue as exc:
            raise click.ClickException(f"{exc.code}: {exc}") from None
        db.session.commit()
    state = "stored" if result.changed else "unchanged"
    click.echo(f"API key {state} (fingerprint {result.fingerprint}, version {result.version})")


@site.command("settings")
@instance_dir_option
def show_settings(instance_dir: Path | None) -> None:
    """Show each setting's state: masked value, fingerprint, version, time."""
    from stripefleet.site.settings.services import list_states

    app = build_app(instance_dir)
    with app.app_context():
        for name, state in list_states().items():
            if state.configured:
                click.echo(f"{name}: {state.masked} fingerprint={state.fingerprint} "
                           f"version={state.version} updated_at={state.to_json()['updated_at']}")
            else:
                click.echo(f"{name}: not configured")


@site.command("reencrypt")
@instance_dir_option
def reencrypt(instance_dir: Path | None) -> None:
    """Re-encrypt the stored secrets with the first key of the ring.

    Rotate the encryption key: put a new key first in STRIPEFLEET_ENCRYPTION_KEY,
    keep the old ones after it, run this, then drop the old ones.
    """
    from stripefleet.site.extensions import db
    from stripefleet.site.settings.services import reencrypt_secrets

    app = build_app(instance_dir)
    with app.app_context():
        try:
            count = reencrypt_secrets()
        except DecryptionError as exc:
            raise click.ClickException(str(exc)) from None
        db.session.commit()
    click.echo(f"re-encrypted {count} stored secret(s)")


@site.group("db")
def db_group() -> None:
    """The site's database."""


@db_group.command("upgrade")
@instance_dir_option
def db_upgrade(instance_dir: Path | None) -> None:
    """Migrate the site's database to the latest schema (every Alembic head)."""
    build_app(instance_dir)
    click.echo("database up to date")
