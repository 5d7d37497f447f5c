"""``stripefleet site products import``: load the catalogue from a JSON file
(README, "Selling": "Catalogue")."""

from __future__ import annotations

import json
from pathlib import Path

import click

from stripefleet.site.cli.instance import build_app, instance_dir_option
from stripefleet.site.extensions import db
from stripefleet.site.shop.services import ProductError, import_products

#: A small catalogue for demos: a unique artwork, a poster, an unlimited card and a
#: rentable easel (``products import --sample``).
SAMPLE = Path(__file__).resolve().parents[1] / "shop" / "sample_catalogue.json"


@click.group("products")
def products() -> None:
    """The site's catalogue."""


@products.command("import")
@click.argument("file", required=False,
                type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--sample", is_flag=True,
              help="Import the bundled sample catalogue (a unique artwork, a poster, an "
                   "unlimited card, a rentable easel) instead of FILE.")
@instance_dir_option
def import_command(file: Path | None, sample: bool, instance_dir: Path | None) -> None:
    """Upsert the products of FILE (a JSON list) by slug, all or nothing.

    Each row: slug, name, type (product|equipment), price (cents) or daily_rate
    (equipment, cents per day), currency (default eur), stock (null: unlimited),
    optional description, image_url, active. A bad row is reported with its index and
    field and nothing of the file is written (exit 1).
    """
    if (file is None) == (not sample):
        raise click.UsageError("give FILE or --sample (not both)")
    file = SAMPLE if sample else file
    assert file is not None
    try:
        rows = json.loads(file.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise click.ClickException(f"{file} is not valid JSON: {exc}") from None
    app = build_app(instance_dir)
    with app.app_context():
        try:
            report = import_products(rows)
        except ProductError as exc:
            # No commit: leaving the app context rolls back the rows already upserted.
            raise click.ClickException(f"row {exc.field}: {exc.message}; nothing was "
                                       "imported") from None
        db.session.commit()
    click.echo(f"created {len(report.created)}: {', '.join(report.created) or '-'}")
    click.echo(f"changed {len(report.changed)}: {', '.join(report.changed) or '-'}")
    click.echo(f"unchanged {len(report.unchanged)}")
