"""``stripefleet site ...``: run one site and administer its instance (README, "A site").

The top floor of the site: each command builds the app (``cli.instance.build_app``) and
calls the services of its part of the site. Commands: ``serve`` (``server``),
``set-api-key``, ``settings`` and ``reencrypt`` (``settings``), ``db upgrade``
(``instance``), ``products import`` (``catalogue``), ``create-owner`` (``owners``) and
``orders sweep`` (``orders``).
"""

from __future__ import annotations

import click

from stripefleet.site.cli import catalogue, instance, orders, owners, server, settings

__all__ = ["site"]


@click.group()
def site() -> None:
    """Run one template site and administer its instance."""


for _command in (server.serve, settings.set_api_key, settings.show_settings,
                 settings.reencrypt, instance.db_group, catalogue.products,
                 owners.create_owner, orders.orders):
    site.add_command(_command)
