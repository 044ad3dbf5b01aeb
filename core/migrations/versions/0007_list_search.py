"""indexes and full-text search for the case list at millions of cases

The staff list pages through cases newest first by (created_at, id), so the recency indexes end with the id:
a page of ids comes straight from the index (PostgreSQL: an index-only scan), even a deep page.

Text search (``?q=`` on the list) goes through ``case_fts``, built here and kept in step with the case table
by triggers, so no code path can forget it (the case service, bench-data's bulk COPY, a SQL console):
- SQLite: an FTS5 table over reference, description and address, with ``case`` as its external content
  (``rowid`` = case id; unicode61, accents folded).
- PostgreSQL: a ``tsvector`` per case (the 'simple' configuration: no stemming, a city writes in several
  languages) with a GIN index; deleting a case deletes its row (foreign key).
Table names ending in ``_fts`` are left out of autogenerate (core.migrate), as for the knowledge base.

Revision ID: 0007_list_search
Revises: 0006_reports
Create Date: 2026-11-29 02:15:00
"""
from alembic import op
import sqlalchemy as sa  # noqa: F401


revision = '0007_list_search'
down_revision = '0006_reports'
branch_labels = None
depends_on = None

# (name, old columns, new columns)
_INDEXES = [
    ('ix_case_created', ['created_at'], ['created_at', 'id']),
    ('ix_case_status_created', ['status', 'created_at'], ['status', 'created_at', 'id']),
]

# Words only: PostgreSQL's parser would read "PC-2026-000123" as 'pc', '-2026', '-000123' (signed numbers),
# so every run of non-letters/digits becomes a space first, as SQLite's tokenizer does.
_DOCUMENT = ("to_tsvector('simple'::regconfig, regexp_replace(concat_ws(' ', {t}.reference, {t}.description, "
             "{t}.address), '[^[:alnum:]]+', ' ', 'g'))")


def _swap_indexes(which: int) -> None:
    for name, *columns in _INDEXES:
        op.drop_index(name, table_name='case')
        op.create_index(name, 'case', columns[which], unique=False)


def upgrade():
    _swap_indexes(1)
    if op.get_bind().dialect.name == 'sqlite':
        op.execute(
            "CREATE VIRTUAL TABLE case_fts USING fts5(reference, description, address, content='case', "
            "content_rowid='id', tokenize='unicode61 remove_diacritics 2')"
        )
        op.execute(
            'CREATE TRIGGER case_fts_insert AFTER INSERT ON "case" BEGIN '
            "INSERT INTO case_fts (rowid, reference, description, address) "
            "VALUES (new.id, new.reference, new.description, new.address); END"
        )
        op.execute(
            'CREATE TRIGGER case_fts_delete AFTER DELETE ON "case" BEGIN '
            "INSERT INTO case_fts (case_fts, rowid, reference, description, address) "
            "VALUES ('delete', old.id, old.reference, old.description, old.address); END"
        )
        op.execute(
            'CREATE TRIGGER case_fts_update AFTER UPDATE OF reference, description, address ON "case" BEGIN '
            "INSERT INTO case_fts (case_fts, rowid, reference, description, address) "
            "VALUES ('delete', old.id, old.reference, old.description, old.address); "
            "INSERT INTO case_fts (rowid, reference, description, address) "
            "VALUES (new.id, new.reference, new.description, new.address); END"
        )
        op.execute("INSERT INTO case_fts (case_fts) VALUES ('rebuild')")
        return
    op.execute(
        'CREATE TABLE case_fts (case_id BIGINT PRIMARY KEY REFERENCES "case" (id) ON DELETE CASCADE, '
        "document TSVECTOR NOT NULL)"
    )
    op.execute(
        "CREATE FUNCTION case_fts_sync() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        f"INSERT INTO case_fts (case_id, document) VALUES (NEW.id, {_DOCUMENT.format(t='NEW')}) "
        "ON CONFLICT (case_id) DO UPDATE SET document = EXCLUDED.document; RETURN NULL; END $$"
    )
    op.execute('CREATE TRIGGER case_fts_insert AFTER INSERT ON "case" FOR EACH ROW EXECUTE FUNCTION case_fts_sync()')
    op.execute(
        'CREATE TRIGGER case_fts_update AFTER UPDATE OF reference, description, address ON "case" '
        "FOR EACH ROW EXECUTE FUNCTION case_fts_sync()"
    )
    op.execute(f'INSERT INTO case_fts (case_id, document) SELECT c.id, {_DOCUMENT.format(t="c")} FROM "case" c')
    op.execute("CREATE INDEX ix_case_fts_document ON case_fts USING gin (document)")
    op.execute("ANALYZE case_fts")


def downgrade():
    if op.get_bind().dialect.name == 'sqlite':
        for trigger in ('case_fts_insert', 'case_fts_delete', 'case_fts_update'):
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
        op.execute("DROP TABLE IF EXISTS case_fts")
    else:
        op.execute('DROP TRIGGER IF EXISTS case_fts_insert ON "case"')
        op.execute('DROP TRIGGER IF EXISTS case_fts_update ON "case"')
        op.execute("DROP TABLE IF EXISTS case_fts")
        op.execute("DROP FUNCTION IF EXISTS case_fts_sync()")
    _swap_indexes(0)
