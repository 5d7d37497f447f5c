"""The instance a ``stripefleet site`` command works on: ``--instance-dir`` and its app.

Every command takes ``--instance-dir`` (default ``$SITE_INSTANCE_DIR``, else
``./instance``) and works on the app :func:`build_app` makes of it, with its database
migrated. A command that writes commits once, in the command, inside the app context;
leaving the context without a commit (an error) rolls everything back.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from flask import Flask

from stripefleet.site.app import create_app
from stripefleet.site.config import ConfigError
from stripefleet.site.db import upgrade_database

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
        click.ClickException: a configuration error, with its message, or an instance
            folder that cannot be created or written (exit 1).
    """
    try:
        app = create_app(overrides_for(instance_dir))
    except (ConfigError, ValueError) as exc:
        raise click.ClickException(f"configuration error: {exc}") from None
    except OSError as exc:
        where = instance_dir or exc.filename or "./instance"
        raise click.ClickException(
            f"cannot use the instance folder {where}: {exc.strerror or exc} (give "
            "--instance-dir a folder this user may create and write)") from None
    with app.app_context():
        upgrade_database()
    return app


@click.group("db")
def db_group() -> None:
    """The site's database."""


@db_group.command("upgrade")
@instance_dir_option
def db_upgrade(instance_dir: Path | None) -> None:
    """Migrate the site's database to the latest schema (every Alembic head)."""
    build_app(instance_dir)
    click.echo("database up to date")
