"""``python -m stripefleet`` runs the CLI."""

from stripefleet.cli import main

main()
