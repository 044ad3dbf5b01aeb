"""escalation: the overdue cases already reported to their department

Revision ID: intake_0003_escalation
Revises: intake_0002_satisfaction
Create Date: 2026-11-28 18:50:00.000000
"""
from alembic import op
import sqlalchemy as sa


revision = 'intake_0003_escalation'
down_revision = 'intake_0002_satisfaction'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('intake_escalation',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('case_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('escalated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['case.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('case_id', name='uq_intake_escalation_case')
    )


def downgrade():
    op.drop_table('intake_escalation')
