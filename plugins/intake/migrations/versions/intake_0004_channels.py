"""channels: api keys, batch submissions, inbound e-mail, calls

Revision ID: intake_0004_channels
Revises: intake_0003_escalation
Create Date: 2026-11-28 19:11:25.674055
"""
from alembic import op
import sqlalchemy as sa


revision = 'intake_0004_channels'
down_revision = 'intake_0003_escalation'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('intake_api_key',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('prefix', sa.String(length=8), nullable=False),
    sa.Column('key_hash', sa.String(length=64), nullable=False),
    sa.Column('rate_limit', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('revoked_at', sa.DateTime(), nullable=True),
    sa.Column('last_used_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['created_by_id'], ['ab_user.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('key_hash'),
    sa.UniqueConstraint('name')
    )
    op.create_table('intake_batch_submission',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('token', sa.String(length=40), nullable=False),
    sa.Column('api_key_id', sa.Integer(), nullable=True),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('processed_at', sa.DateTime(), nullable=True),
    sa.Column('case_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('error', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['api_key_id'], ['intake_api_key.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['case_id'], ['case.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('token')
    )
    with op.batch_alter_table('intake_batch_submission', schema=None) as batch_op:
        batch_op.create_index('ix_intake_batch_submission_pending', ['processed_at', 'id'], unique=False)

    op.create_table('intake_call',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('started_at', sa.DateTime(), nullable=False),
    sa.Column('ended_at', sa.DateTime(), nullable=True),
    sa.Column('agent_id', sa.Integer(), nullable=True),
    sa.Column('account_id', sa.Integer(), nullable=True),
    sa.Column('utility_account_id', sa.Integer(), nullable=True),
    sa.Column('caller_name', sa.String(length=200), nullable=False),
    sa.Column('caller_phone', sa.String(length=40), nullable=False),
    sa.Column('caller_email', sa.String(length=254), nullable=False),
    sa.Column('address', sa.String(length=300), nullable=False),
    sa.Column('outcome', sa.String(length=20), nullable=False),
    sa.Column('wrap_up', sa.String(length=40), nullable=False),
    sa.Column('notes', sa.Text(), nullable=False),
    sa.Column('case_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['account.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['agent_id'], ['ab_user.id'], ),
    sa.ForeignKeyConstraint(['case_id'], ['case.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['utility_account_id'], ['intake_utility_account.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('intake_call', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_intake_call_account_id'), ['account_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_intake_call_agent_id'), ['agent_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_intake_call_case_id'), ['case_id'], unique=False)
        batch_op.create_index('ix_intake_call_started', ['started_at'], unique=False)

    op.create_table('intake_inbound_email',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('message_key', sa.String(length=64), nullable=False),
    sa.Column('message_id', sa.String(length=500), nullable=False),
    sa.Column('outcome', sa.String(length=20), nullable=False),
    sa.Column('reason', sa.String(length=200), nullable=False),
    sa.Column('case_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('received_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['case.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('message_key')
    )
    with op.batch_alter_table('intake_inbound_email', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_intake_inbound_email_case_id'), ['case_id'], unique=False)



def downgrade():
    with op.batch_alter_table('intake_inbound_email', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_intake_inbound_email_case_id'))

    op.drop_table('intake_inbound_email')
    with op.batch_alter_table('intake_call', schema=None) as batch_op:
        batch_op.drop_index('ix_intake_call_started')
        batch_op.drop_index(batch_op.f('ix_intake_call_case_id'))
        batch_op.drop_index(batch_op.f('ix_intake_call_agent_id'))
        batch_op.drop_index(batch_op.f('ix_intake_call_account_id'))

    op.drop_table('intake_call')
    with op.batch_alter_table('intake_batch_submission', schema=None) as batch_op:
        batch_op.drop_index('ix_intake_batch_submission_pending')

    op.drop_table('intake_batch_submission')
    op.drop_table('intake_api_key')
