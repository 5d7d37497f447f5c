"""``stripefleet site set-api-key``, ``settings`` and ``reencrypt``: the stored settings
from the command line (README, "A site")."""

from __future__ import annotations

import getpass
import sys
from pathlib import Path

import click

from stripefleet.common.crypto import DecryptionError
from stripefleet.common.keys import MASTER_API_KEY, InvalidValue
from stripefleet.site.cli.instance import build_app, instance_dir_option
from stripefleet.site.extensions import db
from stripefleet.site.settings.services import list_states, put_value, reencrypt_secrets


@click.command("set-api-key")
@instance_dir_option
def set_api_key(instance_dir: Path | None) -> None:
    """Store the fleet's API key in the instance's database, read from stdin.

    It is stored encrypted as the template_master_api_key row; the site accepts it
    besides TEMPLATE_MASTER_API_KEY. Never pass a key as an argument.
    """
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


@click.command("settings")
@instance_dir_option
def show_settings(instance_dir: Path | None) -> None:
    """Show each setting's state: masked value, fingerprint, version, time."""
    app = build_app(instance_dir)
    with app.app_context():
        for name, state in list_states().items():
            if state.configured:
                click.echo(f"{name}: {state.masked} fingerprint={state.fingerprint} "
                           f"version={state.version} updated_at={state.to_json()['updated_at']}")
            else:
                click.echo(f"{name}: not configured")


@click.command("reencrypt")
@instance_dir_option
def reencrypt(instance_dir: Path | None) -> None:
    """Re-encrypt the stored secrets with the first key of the ring.

    Rotate the encryption key: put a new key first in STRIPEFLEET_ENCRYPTION_KEY,
    keep the old ones after it, run this, then drop the old ones.
    """
    app = build_app(instance_dir)
    with app.app_context():
        try:
            count = reencrypt_secrets()
        except DecryptionError as exc:
            raise click.ClickException(str(exc)) from None
        db.session.commit()
    click.echo(f"re-encrypted {count} stored secret(s)")
