"""settings: stripe_checks, the last functional check of the site's Stripe secret key

Revision ID: 0004_stripe_check
Revises: 0003_setting_change_key
Create Date: 2026-11-30 00:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_stripe_check"
down_revision = "0003_setting_change_key"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "stripe_checks",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("outcome", sa.String(64), nullable=False),
        sa.Column("checked_fingerprint", sa.String(16), nullable=False),
        sa.Column("account_id", sa.String(255), nullable=True),
        sa.Column("livemode", sa.Boolean(), nullable=True),
        sa.Column("account_fingerprint", sa.String(16), nullable=True),
        sa.Column("account_checked_at", sa.DateTime(timezone=True), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("stripe_checks")
