"""Alembic environment of the site: the app's engine and metadata (Flask-Migrate).

Unlike Flask-Migrate's template, it does not call ``logging.config.fileConfig``, which
would silence the site's loggers after a migration at start-up.
"""

from __future__ import annotations

import logging
from typing import Any

from alembic import context
from flask import current_app

config = context.config
logger = logging.getLogger("alembic.env")
migrate_ext = current_app.extensions["migrate"]
target_db = migrate_ext.db


def run_migrations_offline() -> None:
    """Emit SQL for the configured URL without connecting."""
    context.configure(url=str(target_db.engine.url), target_metadata=target_db.metadata,
                      literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Run the migrations on the app's engine, in one transaction."""

    def process_revision_directives(ctx: Any, revision: Any, directives: Any) -> None:
        if getattr(config.cmd_opts, "autogenerate", False):
            script = directives[0]
            if script.upgrade_ops.is_empty():
                directives[:] = []
                logger.info("No changes in schema detected.")

    conf_args = dict(migrate_ext.configure_args)
    conf_args.setdefault("process_revision_directives", process_revision_directives)
    with target_db.engine.connect() as connection:
        context.configure(connection=connection, target_metadata=target_db.metadata,
                          **conf_args)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
