"""``stripefleet site orders sweep``: expire overdue pending orders from the command line
(README, "Selling": "Webhooks")."""

from __future__ import annotations

from pathlib import Path

import click

from stripefleet.site.checkout import stripe_gateway
from stripefleet.site.checkout.services import apply_answers, ask_stripe, overdue_orders
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
    """Settle pending orders past their session's end with Stripe: expired there, their
    stock released; paid there, recorded as paid; Stripe unreachable, left as they are.

    Three steps, so that no transaction (SQLite's write lock) is open during the Stripe
    calls: read the overdue orders, ask Stripe, apply the answers (the command's commit).
    """
    app = build_app(instance_dir)
    with app.app_context():
        due = overdue_orders(limit=SWEEP_LIMIT)
        try:
            stripe_client = stripe_gateway.client() if due else None
        except stripe_gateway.StripeNotConfigured:
            raise click.ClickException("this site has no Stripe secret key yet: nothing can "
                                       "be settled with Stripe (push stripe_secret_key "
                                       "first)") from None
        db.session.rollback()  # end the read: nothing is held during the calls
        answers = ask_stripe(due, stripe_client=stripe_client) if due else {}
        count = apply_answers(answers)
        db.session.commit()
    click.echo(f"{count} order(s) expired or found paid at Stripe (stock released for the "
               f"expired); {len(due) - count} left for the next sweep")
