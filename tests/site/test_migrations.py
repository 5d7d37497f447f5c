"""The site's Alembic migrations build exactly the schema its models declare."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from stripefleet.site.app import create_app
from stripefleet.site.db import upgrade_database
from stripefleet.site.extensions import db


def test_migrations_match_the_models(database_url: str, tmp_path: Path) -> None:
    """After upgrading to every head, autogenerate finds nothing to add or change."""
    app = create_app({"SITE_INSTANCE_DIR": str(tmp_path / "i"), "DATABASE_URL": database_url})
    with app.app_context():
        upgrade_database()
        upgrade_database()  # idempotent
        with db.engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            diff = compare_metadata(context, db.metadata)
        db.engine.dispose()
    assert diff == []
