"""``stripefleet site orders ...``: the site's orders from the command line."""

from __future__ import annotations

from pathlib import Path

import click

from stripefleet.site.cli import build_app, instance_dir_option


@click.group("orders")
def orders() -> None:
    """The site's orders."""


@orders.command("sweep")
@instance_dir_option
def sweep(instance_dir: Path | None) -> None:
    """Expire pending orders past their session's end and give their stock back."""
    from stripefleet.site.checkout.services import sweep_expired
    from stripefleet.site.extensions import db

    app = build_app(instance_dir)
    with app.app_context():
        count = sweep_expired(limit=10_000)
        db.session.commit()
    click.echo(f"{count} order(s) expired, their stock released")
