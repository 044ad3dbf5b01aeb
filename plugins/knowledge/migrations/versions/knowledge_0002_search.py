"""search index: FTS5 table on SQLite, tsvector table with a GIN index on PostgreSQL

Revision ID: knowledge_0002_search
Revises: knowledge_0001_content
Create Date: 2026-11-28 21:20:00
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql


revision = 'knowledge_0002_search'
down_revision = 'knowledge_0001_content'
branch_labels = None
depends_on = None


def upgrade():
    if op.get_bind().dialect.name == 'sqlite':
        op.execute(
            "CREATE VIRTUAL TABLE knowledge_fts USING fts5("
            "kind UNINDEXED, ref_id UNINDEXED, locale UNINDEXED, title, body, tags, "
            "tokenize = 'unicode61 remove_diacritics 2')"
        )
        return
    op.create_table('knowledge_fts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('ref_id', sa.Integer(), nullable=False),
    sa.Column('locale', sa.String(length=10), nullable=False),
    sa.Column('title', sa.Text(), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('body_folded', sa.Text(), nullable=False),
    sa.Column('tags', sa.Text(), nullable=False),
    sa.Column('document', postgresql.TSVECTOR(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_knowledge_fts_document', 'knowledge_fts', ['document'], postgresql_using='gin')
    op.create_index('ix_knowledge_fts_entry', 'knowledge_fts', ['kind', 'ref_id', 'locale'])


def downgrade():
    if op.get_bind().dialect.name == 'sqlite':
        op.execute("DROP TABLE IF EXISTS knowledge_fts")
        return
    op.drop_index('ix_knowledge_fts_entry', table_name='knowledge_fts')
    op.drop_index('ix_knowledge_fts_document', table_name='knowledge_fts')
    op.drop_table('knowledge_fts')
