"""indexes for Open311 reads and the EOC board at scale

The EOC hot-spot map counts open cases per grid cell inside the map's box since a moment (status, created_at,
then lat/long and the priority weight): one covering index answers it from the index alone (an index-only scan
on PostgreSQL, a covering index on SQLite), never from the table's million rows.

Revision ID: 0008_open311_eoc
Revises: 0007_list_search
Create Date: 2026-11-29 02:15:00
"""
from alembic import op


revision = '0008_open311_eoc'
down_revision = '0007_list_search'
branch_labels = None
depends_on = None

OPEN_MAP = ('ix_case_open_map', ['status', 'created_at', 'lat', 'long', 'priority'])


def upgrade():
    name, columns = OPEN_MAP
    op.create_index(name, 'case', columns, unique=False)


def downgrade():
    op.drop_index(OPEN_MAP[0], table_name='case')
