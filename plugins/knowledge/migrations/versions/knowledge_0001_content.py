"""articles, faq, topics, versions, events

Revision ID: knowledge_0001_content
Revises: 
Create Date: 2026-11-28 21:04:52.324328
"""
from alembic import op
import sqlalchemy as sa


revision = 'knowledge_0001_content'
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('knowledge_topic',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('translations', sa.JSON(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('code')
    )
    op.create_table('knowledge_article',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('slug', sa.String(length=120), nullable=False),
    sa.Column('audience', sa.String(length=10), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('topic_id', sa.Integer(), nullable=True),
    sa.Column('owner_department_id', sa.Integer(), nullable=True),
    sa.Column('review_by', sa.Date(), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('updated_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.Column('published_at', sa.DateTime(), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['ab_user.id'], ),
    sa.ForeignKeyConstraint(['owner_department_id'], ['department.id'], ),
    sa.ForeignKeyConstraint(['topic_id'], ['knowledge_topic.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['updated_by_id'], ['ab_user.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('slug')
    )
    with op.batch_alter_table('knowledge_article', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_knowledge_article_owner_department_id'), ['owner_department_id'], unique=False)
        batch_op.create_index('ix_knowledge_article_status_audience', ['status', 'audience'], unique=False)
        batch_op.create_index(batch_op.f('ix_knowledge_article_topic_id'), ['topic_id'], unique=False)

    op.create_table('knowledge_faq',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('topic_id', sa.Integer(), nullable=True),
    sa.Column('audience', sa.String(length=10), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('owner_department_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['owner_department_id'], ['department.id'], ),
    sa.ForeignKeyConstraint(['topic_id'], ['knowledge_topic.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('knowledge_faq', schema=None) as batch_op:
        batch_op.create_index('ix_knowledge_faq_status_audience', ['status', 'audience'], unique=False)
        batch_op.create_index(batch_op.f('ix_knowledge_faq_topic_id'), ['topic_id'], unique=False)

    op.create_table('knowledge_article_service',
    sa.Column('article_id', sa.Integer(), nullable=False),
    sa.Column('service_type_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['article_id'], ['knowledge_article.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['service_type_id'], ['service_type.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('article_id', 'service_type_id')
    )
    with op.batch_alter_table('knowledge_article_service', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_knowledge_article_service_service_type_id'), ['service_type_id'], unique=False)

    op.create_table('knowledge_article_tag',
    sa.Column('article_id', sa.Integer(), nullable=False),
    sa.Column('tag_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['article_id'], ['knowledge_article.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tag_id'], ['tag.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('article_id', 'tag_id')
    )
    with op.batch_alter_table('knowledge_article_tag', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_knowledge_article_tag_tag_id'), ['tag_id'], unique=False)

    op.create_table('knowledge_article_text',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('article_id', sa.Integer(), nullable=False),
    sa.Column('locale', sa.String(length=10), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('summary', sa.String(length=500), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('body_html', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['article_id'], ['knowledge_article.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('article_id', 'locale', name='uq_knowledge_article_text_locale')
    )
    op.create_table('knowledge_article_version',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('article_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('texts', sa.JSON(), nullable=False),
    sa.Column('meta', sa.JSON(), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['article_id'], ['knowledge_article.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['author_id'], ['ab_user.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('article_id', 'number', name='uq_knowledge_article_version_number')
    )
    op.create_table('knowledge_faq_text',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('faq_id', sa.Integer(), nullable=False),
    sa.Column('locale', sa.String(length=10), nullable=False),
    sa.Column('question', sa.String(length=500), nullable=False),
    sa.Column('answer', sa.Text(), nullable=False),
    sa.Column('answer_html', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['faq_id'], ['knowledge_faq.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('faq_id', 'locale', name='uq_knowledge_faq_text_locale')
    )
    op.create_table('knowledge_event',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('kind', sa.String(length=12), nullable=False),
    sa.Column('article_id', sa.Integer(), nullable=True),
    sa.Column('faq_id', sa.Integer(), nullable=True),
    sa.Column('case_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('visitor', sa.String(length=64), nullable=True),
    sa.Column('locale', sa.String(length=10), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['article_id'], ['knowledge_article.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['case_id'], ['case.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['faq_id'], ['knowledge_faq.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('knowledge_event', schema=None) as batch_op:
        batch_op.create_index('ix_knowledge_event_article_kind', ['article_id', 'kind', 'created_at'], unique=False)
        batch_op.create_index('ix_knowledge_event_faq_kind', ['faq_id', 'kind', 'created_at'], unique=False)



def downgrade():
    with op.batch_alter_table('knowledge_event', schema=None) as batch_op:
        batch_op.drop_index('ix_knowledge_event_faq_kind')
        batch_op.drop_index('ix_knowledge_event_article_kind')

    op.drop_table('knowledge_event')
    op.drop_table('knowledge_faq_text')
    op.drop_table('knowledge_article_version')
    op.drop_table('knowledge_article_text')
    with op.batch_alter_table('knowledge_article_tag', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_knowledge_article_tag_tag_id'))

    op.drop_table('knowledge_article_tag')
    with op.batch_alter_table('knowledge_article_service', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_knowledge_article_service_service_type_id'))

    op.drop_table('knowledge_article_service')
    with op.batch_alter_table('knowledge_faq', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_knowledge_faq_topic_id'))
        batch_op.drop_index('ix_knowledge_faq_status_audience')

    op.drop_table('knowledge_faq')
    with op.batch_alter_table('knowledge_article', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_knowledge_article_topic_id'))
        batch_op.drop_index('ix_knowledge_article_status_audience')
        batch_op.drop_index(batch_op.f('ix_knowledge_article_owner_department_id'))

    op.drop_table('knowledge_article')
    op.drop_table('knowledge_topic')
