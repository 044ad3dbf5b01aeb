"""satisfaction: one answer per case and respondent

Revision ID: intake_0002_satisfaction
Revises: intake_0001
Create Date: 2026-11-29 10:00:00.000000
"""
from alembic import op
import sqlalchemy as sa


revision = 'intake_0002_satisfaction'
down_revision = 'intake_0001'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('intake_satisfaction', schema=None) as batch_op:
        batch_op.add_column(sa.Column('respondent', sa.String(length=64), nullable=True))
        batch_op.create_index('uq_intake_satisfaction_case_respondent', ['case_id', 'respondent'], unique=True)
        batch_op.create_index('ix_intake_satisfaction_created', ['created_at'], unique=False)


def downgrade():
    with op.batch_alter_table('intake_satisfaction', schema=None) as batch_op:
        batch_op.drop_index('ix_intake_satisfaction_created')
        batch_op.drop_index('uq_intake_satisfaction_case_respondent')
        batch_op.drop_column('respondent')
