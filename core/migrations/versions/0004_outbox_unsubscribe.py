"""outbox: the message's unsubscribe link (List-Unsubscribe)

Revision ID: 0004_outbox_unsubscribe
Revises: 0003
Create Date: 2026-11-29 12:00:00.000000
"""
from alembic import op
import sqlalchemy as sa


revision = '0004_outbox_unsubscribe'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('outbox_message', schema=None) as batch_op:
        batch_op.add_column(sa.Column('unsubscribe_url', sa.String(length=1000), nullable=True))


def downgrade():
    with op.batch_alter_table('outbox_message', schema=None) as batch_op:
        batch_op.drop_column('unsubscribe_url')
