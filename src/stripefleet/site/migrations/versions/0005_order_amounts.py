"""checkout: order amounts as 64-bit integers (orders.amount_total, order_lines.unit_amount
and amount), so that any total Stripe can charge fits

Revision ID: 0005_order_amounts
Revises: 0003_setting_change_key
Create Date: 2026-11-30 00:50:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_order_amounts"
down_revision = "0003_setting_change_key"
branch_labels = None
depends_on = None

COLUMNS = {"orders": ("amount_total",), "order_lines": ("unit_amount", "amount")}


def upgrade() -> None:
    # batch: SQLite alters a table by copying it; PostgreSQL gets a plain ALTER TABLE.
    for table, columns in COLUMNS.items():
        with op.batch_alter_table(table) as batch:
            for column in columns:
                batch.alter_column(column, existing_type=sa.Integer(), type_=sa.BigInteger(),
                                   existing_nullable=False)


def downgrade() -> None:
    for table, columns in COLUMNS.items():
        with op.batch_alter_table(table) as batch:
            for column in columns:
                batch.alter_column(column, existing_type=sa.BigInteger(), type_=sa.Integer(),
                                   existing_nullable=False)
