"""append-only timeline and the admin audit log

The case timeline (``case_event``) and the admin audit log (``audit_log``) are evidence: the database itself
refuses to UPDATE or DELETE their rows, whatever program connects (triggers; PostgreSQL: one plpgsql function
raising an exception, SQLite: ``RAISE(ABORT, ...)``).  A case is evidence too: deleting a ``case`` row is
refused (its timeline would go with it).  Inserting stays free, so backups restore and new entries are added.

A later migration that rebuilds one of these tables on SQLite (``batch_alter_table`` copies the table and drops
the old one) loses its triggers: it must create them again (copy ``_create_triggers`` below).

Revision ID: 0009_audit_log
Revises: 0008_open311_eoc
Create Date: 2026-11-29 05:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0009_audit_log'
down_revision = '0008_open311_eoc'
branch_labels = None
depends_on = None

# table -> (operations refused, the sentence the database answers with)
GUARDED = {
    'case_event': (('UPDATE', 'DELETE'), 'case_event is append-only: timeline entries are never updated or deleted'),
    'audit_log': (('UPDATE', 'DELETE'), 'audit_log is append-only: audit entries are never updated or deleted'),
    'case': (('DELETE',), 'cases are evidence: close a case (or mark it a duplicate), never delete it'),
}
PG_FUNCTION = 'civic_refuse_change'


def _trigger_name(table: str, operation: str) -> str:
    return f'{table}_no_{operation.lower()}'


def _create_triggers() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        # The message comes from the trigger's argument; ERRCODE restrict_violation (23001) is an integrity error.
        op.execute(
            f"CREATE OR REPLACE FUNCTION {PG_FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$ "
            "BEGIN RAISE EXCEPTION '%', TG_ARGV[0] USING ERRCODE = 'restrict_violation'; END $$"
        )
        for table, (operations, message) in GUARDED.items():
            for operation in operations:
                op.execute(
                    f'CREATE TRIGGER {_trigger_name(table, operation)} BEFORE {operation} ON "{table}" '
                    f"FOR EACH ROW EXECUTE FUNCTION {PG_FUNCTION}('{message}')"
                )
        return
    for table, (operations, message) in GUARDED.items():
        for operation in operations:
            op.execute(
                f'CREATE TRIGGER {_trigger_name(table, operation)} BEFORE {operation} ON "{table}" '
                f"BEGIN SELECT RAISE(ABORT, '{message}'); END"
            )


def _drop_triggers() -> None:
    postgres = op.get_bind().dialect.name == 'postgresql'
    for table, (operations, _) in GUARDED.items():
        for operation in operations:
            name = _trigger_name(table, operation)
            op.execute(f'DROP TRIGGER IF EXISTS {name} ON "{table}"' if postgres else f'DROP TRIGGER IF EXISTS {name}')
    if postgres:
        op.execute(f'DROP FUNCTION IF EXISTS {PG_FUNCTION}()')


def upgrade():
    op.create_table('audit_log',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('actor_label', sa.String(length=120), nullable=False),
    sa.Column('action', sa.String(length=16), nullable=False),
    sa.Column('object_kind', sa.String(length=40), nullable=False),
    sa.Column('object_id', sa.String(length=64), nullable=True),
    sa.Column('object_label', sa.String(length=200), nullable=False),
    sa.Column('changes', sa.JSON(), nullable=False),
    sa.Column('source', sa.String(length=20), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.create_index('ix_audit_log_at', ['at'], unique=False)
        batch_op.create_index('ix_audit_log_object', ['object_kind', 'object_id'], unique=False)
        batch_op.create_index('ix_audit_log_actor', ['actor_id'], unique=False)
    _create_triggers()


def downgrade():
    _drop_triggers()
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_log_actor')
        batch_op.drop_index('ix_audit_log_object')
        batch_op.drop_index('ix_audit_log_at')
    op.drop_table('audit_log')
