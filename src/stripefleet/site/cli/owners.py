"""``stripefleet site create-owner``: an owner account for the admin area
(README, "Selling": "Pages")."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from stripefleet.site.accounts.services import AccountError, set_owner
from stripefleet.site.cli.instance import build_app, instance_dir_option
from stripefleet.site.extensions import db


@click.command("create-owner")
@click.option("--email", required=True, help="The owner's e-mail address (the login).")
@click.option("--password-stdin", is_flag=True, required=True,
              help="Read the password from the first line of stdin (never an argument).")
@instance_dir_option
def create_owner(email: str, password_stdin: bool, instance_dir: Path | None) -> None:
    """Create an owner account, or make an existing account an owner with a new password."""
    password = sys.stdin.readline().rstrip("\r\n")
    app = build_app(instance_dir)
    with app.app_context():
        try:
            customer, created = set_owner(email, password)
        except AccountError as exc:
            raise click.ClickException(f"{exc.code}: {exc.message}") from None
        db.session.commit()
        click.echo(f"owner {customer.email} {'created' if created else 'updated'} "
                   f"(id {customer.id})")
