"""settings: admin_settings.change_key, the Idempotency-Key of the current value's change

Revision ID: 0003_setting_change_key
Revises: 0002_shop
Create Date: 2026-11-21 12:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_setting_change_key"
down_revision = "0002_shop"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # batch: SQLite alters a table by copying it; PostgreSQL gets a plain ALTER TABLE.
    with op.batch_alter_table("admin_settings") as batch:
        batch.add_column(sa.Column("change_key", sa.String(255), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("admin_settings") as batch:
        batch.drop_column("change_key")
