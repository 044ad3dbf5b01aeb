"""coordination: tasks, crews, incidents, mentions, department stints; indexes for the phone desk and update feeds

Revision ID: 0005_coordination
Revises: 0004_outbox_unsubscribe
Create Date: 2026-11-28 19:16:06.324086
"""
from alembic import op
import sqlalchemy as sa


revision = '0005_coordination'
down_revision = '0004_outbox_unsubscribe'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('crew',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['department_id'], ['department.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('name')
    )
    with op.batch_alter_table('crew', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_crew_department_id'), ['department_id'], unique=False)

    op.create_table('incident',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('closed_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['created_by_id'], ['ab_user.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('incident', schema=None) as batch_op:
        batch_op.create_index('ix_incident_status_created', ['status', 'created_at'], unique=False)

    op.create_table('crew_member',
    sa.Column('crew_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['crew_id'], ['crew.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['ab_user.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('crew_id', 'user_id')
    )
    with op.batch_alter_table('crew_member', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_crew_member_user_id'), ['user_id'], unique=False)

    op.create_table('case_department_stint',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('case_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=False),
    sa.Column('started_at', sa.DateTime(), nullable=False),
    sa.Column('ended_at', sa.DateTime(), nullable=True),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['case.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['department_id'], ['department.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('case_department_stint', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_department_stint_case_id'), ['case_id'], unique=False)
        batch_op.create_index('ix_case_department_stint_department', ['department_id', 'ended_at'], unique=False)

    op.create_table('case_task',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('case_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=False),
    sa.Column('assignee_id', sa.Integer(), nullable=True),
    sa.Column('crew_id', sa.Integer(), nullable=True),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('instructions', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('due_at', sa.DateTime(), nullable=True),
    sa.Column('template', sa.String(length=64), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.Column('started_at', sa.DateTime(), nullable=True),
    sa.Column('completed_at', sa.DateTime(), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['assignee_id'], ['ab_user.id'], ),
    sa.ForeignKeyConstraint(['case_id'], ['case.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['created_by_id'], ['ab_user.id'], ),
    sa.ForeignKeyConstraint(['crew_id'], ['crew.id'], ),
    sa.ForeignKeyConstraint(['department_id'], ['department.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('case_task', schema=None) as batch_op:
        batch_op.create_index('ix_case_task_assignee_status', ['assignee_id', 'status'], unique=False)
        batch_op.create_index(batch_op.f('ix_case_task_case_id'), ['case_id'], unique=False)
        batch_op.create_index('ix_case_task_crew_status', ['crew_id', 'status'], unique=False)
        batch_op.create_index('ix_case_task_department_status_due', ['department_id', 'status', 'due_at'], unique=False)

    op.create_table('mention',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('case_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('event_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('department_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('read_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['case.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['department_id'], ['department.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['event_id'], ['case_event.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['ab_user.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('mention', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_mention_case_id'), ['case_id'], unique=False)
        batch_op.create_index('ix_mention_department_read', ['department_id', 'read_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_mention_event_id'), ['event_id'], unique=False)
        batch_op.create_index('ix_mention_user_read', ['user_id', 'read_at'], unique=False)

    with op.batch_alter_table('attachment', schema=None) as batch_op:
        batch_op.add_column(sa.Column('task_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True))
        batch_op.create_index(batch_op.f('ix_attachment_task_id'), ['task_id'], unique=False)
        batch_op.create_foreign_key('fk_attachment_task_id', 'case_task', ['task_id'], ['id'], ondelete='SET NULL')

    with op.batch_alter_table('case', schema=None) as batch_op:
        batch_op.create_index('ix_case_contact_phone', ['contact_phone'], unique=False)
        batch_op.create_index('ix_case_contact_email', ['contact_email'], unique=False)
        batch_op.add_column(sa.Column('incident_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_case_incident_id'), ['incident_id'], unique=False)
        batch_op.create_foreign_key('fk_case_incident_id', 'incident', ['incident_id'], ['id'], ondelete='SET NULL')

    with op.batch_alter_table('case_event', schema=None) as batch_op:
        batch_op.create_index('ix_case_event_created', ['created_at'], unique=False)
        batch_op.add_column(sa.Column('task_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True))
        batch_op.create_index(batch_op.f('ix_case_event_task_id'), ['task_id'], unique=False)
        batch_op.create_foreign_key('fk_case_event_task_id', 'case_task', ['task_id'], ['id'], ondelete='SET NULL')



def downgrade():
    with op.batch_alter_table('case_event', schema=None) as batch_op:
        batch_op.drop_constraint('fk_case_event_task_id', type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_case_event_task_id'))
        batch_op.drop_index('ix_case_event_created')
        batch_op.drop_column('task_id')

    with op.batch_alter_table('case', schema=None) as batch_op:
        batch_op.drop_constraint('fk_case_incident_id', type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_case_incident_id'))
        batch_op.drop_index('ix_case_contact_email')
        batch_op.drop_index('ix_case_contact_phone')
        batch_op.drop_column('incident_id')

    with op.batch_alter_table('attachment', schema=None) as batch_op:
        batch_op.drop_constraint('fk_attachment_task_id', type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_attachment_task_id'))
        batch_op.drop_column('task_id')

    with op.batch_alter_table('mention', schema=None) as batch_op:
        batch_op.drop_index('ix_mention_user_read')
        batch_op.drop_index(batch_op.f('ix_mention_event_id'))
        batch_op.drop_index('ix_mention_department_read')
        batch_op.drop_index(batch_op.f('ix_mention_case_id'))

    op.drop_table('mention')
    with op.batch_alter_table('case_task', schema=None) as batch_op:
        batch_op.drop_index('ix_case_task_department_status_due')
        batch_op.drop_index('ix_case_task_crew_status')
        batch_op.drop_index(batch_op.f('ix_case_task_case_id'))
        batch_op.drop_index('ix_case_task_assignee_status')

    op.drop_table('case_task')
    with op.batch_alter_table('case_department_stint', schema=None) as batch_op:
        batch_op.drop_index('ix_case_department_stint_department')
        batch_op.drop_index(batch_op.f('ix_case_department_stint_case_id'))

    op.drop_table('case_department_stint')
    with op.batch_alter_table('crew_member', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_crew_member_user_id'))

    op.drop_table('crew_member')
    with op.batch_alter_table('incident', schema=None) as batch_op:
        batch_op.drop_index('ix_incident_status_created')

    op.drop_table('incident')
    with op.batch_alter_table('crew', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_crew_department_id'))

    op.drop_table('crew')
