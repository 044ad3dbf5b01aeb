"""catalog translations: department and service_type get a translations JSON column

The default language's text stays in name, description, group and keywords;
other languages go in translations, {"fr": {"name": ..., ...}}.  Existing rows
get {} (no translation: every reader falls back to the default text).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29 10:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade():
    for table in ('department', 'service_type'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column('translations', sa.JSON(), nullable=False, server_default='{}'))


def downgrade():
    # A plain ALTER TABLE ... DROP COLUMN (SQLite 3.35+): batch mode would copy and drop the tables,
    # which SQLite's foreign keys refuse while cases point at them.
    for table in ('service_type', 'department'):
        op.drop_column(table, 'translations')
