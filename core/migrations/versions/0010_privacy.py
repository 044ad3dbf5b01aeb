"""privacy: what retention and anonymisation need (owned by the privacy helper)

``account.last_active_at`` is the resident's last portal action (sign-in, report, follow...), one of the
signs of activity ``civic privacy anonymise`` reads; ``account.anonymised_at`` marks an account already
anonymised (by retention or by the resident closing it), so a second run changes nothing.

Revision ID: 0010_privacy
Revises: 0009_audit_log
Create Date: 2026-11-29 05:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0010_privacy'
down_revision = '0009_audit_log'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('account', sa.Column('last_active_at', sa.DateTime(), nullable=True))
    op.add_column('account', sa.Column('anonymised_at', sa.DateTime(), nullable=True))
    op.create_index('ix_account_last_active_at', 'account', ['last_active_at'], unique=False)
    # Accounts closed before this revision already carry the closed-account name.
    op.execute("UPDATE account SET anonymised_at = created_at WHERE name = 'Closed account' AND user_id IS NULL AND email IS NULL")


def downgrade():
    op.drop_index('ix_account_last_active_at', table_name='account')
    with op.batch_alter_table('account') as batch_op:  # SQLite drops columns by copying the table
        batch_op.drop_column('anonymised_at')
        batch_op.drop_column('last_active_at')
