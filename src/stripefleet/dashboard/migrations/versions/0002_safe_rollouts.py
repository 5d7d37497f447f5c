"""safe rollouts: batches, approval, preflight, functional checks, periodic claims

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30 00:20:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('rollouts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('batch_sizes', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('current_batch', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('halt_reason', sa.String(length=300), nullable=True))
        batch_op.add_column(sa.Column('preflight_account_id', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('preflight_livemode', sa.Boolean(), nullable=True))
        batch_op.add_column(sa.Column('rollback_rollout_id', sa.Integer(), nullable=True))

    with op.batch_alter_table('rollout_targets', schema=None) as batch_op:
        batch_op.add_column(sa.Column('batch', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('before', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('functional', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('account_id', sa.String(length=64), nullable=True))

    with op.batch_alter_table('sites', schema=None) as batch_op:
        batch_op.add_column(sa.Column('stripe_account_id', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('stripe_livemode', sa.Boolean(), nullable=True))
        batch_op.add_column(sa.Column('functional_state', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('functional_error', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('functional_checked_at', sa.DateTime(), nullable=True))

    op.create_table('periodic_runs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('period', sa.String(length=32), nullable=False),
    sa.Column('started_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('name', 'period', name='uq_periodic_runs_period')
    )


def downgrade():
    op.drop_table('periodic_runs')
    with op.batch_alter_table('sites', schema=None) as batch_op:
        for name in ('functional_checked_at', 'functional_error', 'functional_state',
                     'stripe_livemode', 'stripe_account_id'):
            batch_op.drop_column(name)
    with op.batch_alter_table('rollout_targets', schema=None) as batch_op:
        for name in ('account_id', 'functional', 'before', 'batch'):
            batch_op.drop_column(name)
    with op.batch_alter_table('rollouts', schema=None) as batch_op:
        for name in ('rollback_rollout_id', 'preflight_livemode', 'preflight_account_id',
                     'halt_reason', 'current_batch', 'batch_sizes'):
            batch_op.drop_column(name)
