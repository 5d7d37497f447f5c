"""The site's migrations (timestamps and engine tuning are in ``common.db``).

Migrations live in ``stripefleet/site/migrations`` (Alembic through Flask-Migrate); a
domain adds a revision there. ``stripefleet site serve`` and ``stripefleet site db
upgrade`` bring the database to every head before anything else runs. To write a new
revision, from the repository root::

    .venv/bin/flask --app 'stripefleet.site.app:create_app' db revision --autogenerate -m "..."
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from flask import current_app

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def upgrade_database() -> None:
    """Bring the current app's database to every Alembic head (idempotent).

    Runs inside an app context. Upgrading to ``heads`` rather than ``head`` lets two
    domains add revisions side by side without a merge revision.
    """
    migrate_ext = current_app.extensions["migrate"]
    config = migrate_ext.migrate.get_config(str(MIGRATIONS_DIR))
    command.upgrade(config, "heads")
