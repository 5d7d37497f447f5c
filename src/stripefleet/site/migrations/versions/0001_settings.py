"""settings: admin_settings and setting_changes

Revision ID: 0001_settings
Revises:
Create Date: 2026-11-21 09:40:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0001_settings"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "admin_settings",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("fingerprint", sa.String(16), nullable=False),
        sa.Column("previous_value", sa.Text(), nullable=True),
        sa.Column("previous_fingerprint", sa.String(16), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
    )
    op.create_table(
        "setting_changes",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("actor", sa.String(80), nullable=False),
        sa.Column("client", sa.String(64), nullable=True),
        sa.Column("old_fingerprint", sa.String(16), nullable=True),
        sa.Column("new_fingerprint", sa.String(16), nullable=False),
    )
    op.create_index("ix_setting_changes_key", "setting_changes", ["key"])


def downgrade() -> None:
    op.drop_index("ix_setting_changes_key", table_name="setting_changes")
    op.drop_table("setting_changes")
    op.drop_table("admin_settings")
