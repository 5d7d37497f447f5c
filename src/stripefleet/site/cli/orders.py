"""``stripefleet site orders sweep``: expire overdue pending orders from the command line
(README, "Selling": "Webhooks")."""

from __future__ import annotations

from pathlib import Path

import click

from stripefleet.site.checkout.services import sweep_expired
from stripefleet.site.cli.instance import build_app, instance_dir_option
from stripefleet.site.extensions import db

#: Most orders one sweep expires.
SWEEP_LIMIT = 10_000


@click.group("orders")
def orders() -> None:
    """The site's orders."""


@orders.command("sweep")
@instance_dir_option
def sweep(instance_dir: Path | None) -> None:
    """Expire pending orders past their session's end and give their stock back."""
    app = build_app(instance_dir)
    with app.app_context():
        count = sweep_expired(limit=SWEEP_LIMIT)
        db.session.commit()
    click.echo(f"{count} order(s) expired, their stock released")
