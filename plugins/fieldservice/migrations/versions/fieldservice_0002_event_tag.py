"""sweeps and check-offs tagged with the active event

Revision ID: fieldservice_0002_event_tag
Revises: fieldservice_0001_map_sweeps
Create Date: 2026-11-28 23:55:00.000000
"""
from alembic import op
import sqlalchemy as sa


revision = 'fieldservice_0002_event_tag'
down_revision = 'fieldservice_0001_map_sweeps'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('fieldservice_sweep', schema=None) as batch_op:
        batch_op.add_column(sa.Column('event_tag', sa.String(length=50), nullable=True))

    with op.batch_alter_table('fieldservice_sweep_check', schema=None) as batch_op:
        batch_op.add_column(sa.Column('event_tag', sa.String(length=50), nullable=True))
        batch_op.create_index(batch_op.f('ix_fieldservice_sweep_check_event_tag'), ['event_tag'], unique=False)


def downgrade():
    with op.batch_alter_table('fieldservice_sweep_check', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_fieldservice_sweep_check_event_tag'))
        batch_op.drop_column('event_tag')

    with op.batch_alter_table('fieldservice_sweep', schema=None) as batch_op:
        batch_op.drop_column('event_tag')
