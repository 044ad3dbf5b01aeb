"""reports: saved reports, their shares and e-mail subscriptions; time to acknowledge and reopen count on cases

Revision ID: 0006_reports
Revises: 0005_coordination
Create Date: 2026-11-29 01:30:41.863843
"""
from alembic import op
import sqlalchemy as sa


revision = '0006_reports'
down_revision = '0005_coordination'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('report',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=150), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('subject', sa.String(length=40), nullable=False),
    sa.Column('spec', sa.JSON(), nullable=False),
    sa.Column('owner_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['owner_id'], ['ab_user.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('report', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_report_owner_id'), ['owner_id'], unique=False)

    op.create_table('report_share',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('report_id', sa.Integer(), nullable=False),
    sa.Column('role_id', sa.Integer(), nullable=True),
    sa.Column('department_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['department_id'], ['department.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['report_id'], ['report.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['role_id'], ['ab_role.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('report_share', schema=None) as batch_op:
        batch_op.create_index('ix_report_share_department', ['department_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_report_share_report_id'), ['report_id'], unique=False)
        batch_op.create_index('ix_report_share_role', ['role_id'], unique=False)

    op.create_table('report_subscription',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('report_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('frequency', sa.String(length=10), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('last_sent_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['report_id'], ['report.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['ab_user.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('report_id', 'user_id', name='uq_report_subscription')
    )
    with op.batch_alter_table('report_subscription', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_report_subscription_user_id'), ['user_id'], unique=False)

    with op.batch_alter_table('case', schema=None) as batch_op:
        batch_op.add_column(sa.Column('acknowledged_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('reopen_count', sa.Integer(), nullable=False, server_default=sa.text('0')))
        batch_op.create_index('ix_case_closed', ['closed_at'], unique=False)

    # Cases already worked: their first status change is when they were acknowledged, and each move to
    # "reopened" counts (the timeline keeps both).
    op.execute(
        'UPDATE "case" SET acknowledged_at = (SELECT min(e.created_at) FROM case_event e '
        "WHERE e.case_id = \"case\".id AND e.kind = 'status_changed') WHERE status <> 'new'"
    )
    new_status = "e.data->>'new'" if op.get_bind().dialect.name == "postgresql" else "json_extract(e.data, '$.new')"
    op.execute(
        'UPDATE "case" SET reopen_count = (SELECT count(*) FROM case_event e '
        f"WHERE e.case_id = \"case\".id AND e.kind = 'status_changed' AND {new_status} = 'reopened') "
        "WHERE status = 'reopened' OR closed_at IS NOT NULL OR acknowledged_at IS NOT NULL"
    )


def downgrade():
    with op.batch_alter_table('case', schema=None) as batch_op:
        batch_op.drop_index('ix_case_closed')
        batch_op.drop_column('reopen_count')
        batch_op.drop_column('acknowledged_at')

    with op.batch_alter_table('report_subscription', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_report_subscription_user_id'))

    op.drop_table('report_subscription')
    with op.batch_alter_table('report_share', schema=None) as batch_op:
        batch_op.drop_index('ix_report_share_role')
        batch_op.drop_index(batch_op.f('ix_report_share_report_id'))
        batch_op.drop_index('ix_report_share_department')

    op.drop_table('report_share')
    with op.batch_alter_table('report', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_report_owner_id'))

    op.drop_table('report')
