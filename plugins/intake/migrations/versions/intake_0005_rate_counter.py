"""rate counters: an API key's requests per one-minute slot

An Open311 key may make thousands of requests a minute; counting its events row by row on every request grew
with the rate.  A counter per (bucket, key, slot) is one upsert whatever the rate.

Revision ID: intake_0005_rate_counter
Revises: intake_0004_channels
Create Date: 2026-11-29 04:40:00
"""
from alembic import op
import sqlalchemy as sa


revision = 'intake_0005_rate_counter'
down_revision = 'intake_0004_channels'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('intake_rate_counter',
    sa.Column('bucket', sa.String(length=30), nullable=False),
    sa.Column('key', sa.String(length=128), nullable=False),
    sa.Column('slot', sa.BigInteger(), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('bucket', 'key', 'slot')
    )


def downgrade():
    op.drop_table('intake_rate_counter')
