"""streetlight poles

Revision ID: streetlights_0001
Revises:
"""
from alembic import op
import sqlalchemy as sa

revision = "streetlights_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "streetlights_pole",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("pole", sa.String(length=40), nullable=False),
        sa.Column("street", sa.String(length=200), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("long", sa.Float(), nullable=False),
        sa.Column("lamp", sa.String(length=20), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("pole"),
    )
    op.create_index("ix_streetlights_pole_position", "streetlights_pole", ["lat", "long"])


def downgrade():
    op.drop_index("ix_streetlights_pole_position", table_name="streetlights_pole")
    op.drop_table("streetlights_pole")
