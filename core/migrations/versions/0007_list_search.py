"""indexes and full-text search for the case list at millions of cases

Revision ID: 0007_list_search
Revises: 0006_reports
Create Date: 2026-11-29 02:15:00
"""
from alembic import op  # noqa: F401
import sqlalchemy as sa  # noqa: F401


revision = '0007_list_search'
down_revision = '0006_reports'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
