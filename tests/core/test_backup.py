"""`civic backup` / `civic restore`: a city's whole database (core and plugins) into one file and back, on both
engines; refusals are one line; SQLite commits are durable."""
from __future__ import annotations

import io
import threading
import uuid

import pytest
import sqlalchemy as sa
from sqlalchemy.pool import NullPool

from tests.conftest import ROOT, build_app, drop_schema, postgres_url, prepare_database


class Databases:
    """Fresh empty databases of one engine (SQLite files or PostgreSQL schemas), dropped at the end."""

    def __init__(self, engine: str, tmp_path_factory):
        self.engine = engine
        self.tmp = tmp_path_factory
        self.schemas: list[str] = []

    def new(self) -> str:
        if self.engine == "sqlite":
            return f"sqlite:///{self.tmp.mktemp('backup') / 'civic.db'}"
        name = f"civic_backup_{uuid.uuid4().hex[:8]}"
        url = postgres_url(name)
        self.schemas.append(name)
        return url

    def drop(self) -> None:
        for name in self.schemas:
            drop_schema(name)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def databases(request, tmp_path_factory):
    made = Databases(request.param, tmp_path_factory)
    yield made
    made.drop()


@pytest.fixture(scope="module")
def city(databases):
    """A city like the demo: staff, residents, cases with their timelines, an attachment, plugin rows."""
    from core.demo import load_demo
    from core.extensions import db
    from core.models import Case
    from core.services.attachments import store_attachment
    from core.services.cases import SYSTEM
    from plugins.intake.following import follow
    from plugins.intake.open311.keys import create_key
    from plugins.knowledge.importer import import_knowledge
    from werkzeug.datastructures import FileStorage

    application = build_app(databases.new())
    prepare_database(application)
    with application.app_context():
        load_demo(40)
        case = db.session.scalar(sa.select(Case).order_by(Case.id).limit(1))
        storage = FileStorage(stream=io.BytesIO(png()), filename="pothole.png", content_type="image/png")
        store_attachment(db.session, case, storage, "pothole.png", SYSTEM, public=True)
        create_key(db.session, "Backup test app")
        follow(case, "reporter@example.org", reason="reporter")
        db.session.commit()
        import_knowledge(db.session, str(ROOT / "config" / "knowledge-sample.toml"))
        db.session.remove()
    yield application
    forget(application)


def png() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 120, 30)).save(out, "PNG")
    return out.getvalue()


def forget(application) -> None:
    """Close the app's connections (a restore --force on PostgreSQL drops the schema: nothing may hold it)."""
    from core.extensions import db

    with application.app_context():
        db.session.remove()
        db.engine.dispose()


def civic(application, *args, close: bool = True):
    """Run `civic ARGS` on ``application``; then close its connections, unless another thread still uses them."""
    from core.cli import cli

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FLASK_RUN_FROM_CLI", "false")
        result = application.test_cli_runner().invoke(cli, list(args))
    if close:
        forget(application)
    return result


def every_row(url: str) -> dict[str, list[tuple]]:
    """Every table's rows, all columns, ordered by primary key (by every column when it has none)."""
    engine = sa.create_engine(url, poolclass=NullPool)
    try:
        inspector = sa.inspect(engine)
        rows = {}
        with engine.connect() as connection:
            for name in sorted(inspector.get_table_names()):
                columns = [c["name"] for c in inspector.get_columns(name)]
                order = inspector.get_pk_constraint(name)["constrained_columns"] or columns
                query = f'SELECT * FROM "{name}" ORDER BY ' + ", ".join(f'"{c}"' for c in order)
                rows[name] = [tuple(r) for r in connection.execute(sa.text(query))]
        return rows
    finally:
        engine.dispose()


def count(url: str, query: str) -> int:
    engine = sa.create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            return connection.scalar(sa.text(query))
    finally:
        engine.dispose()


def url_of(application) -> str:
    return application.config["SQLALCHEMY_DATABASE_URI"]


WHOLE = """SELECT count(*) FROM "case" c WHERE NOT EXISTS (SELECT 1 FROM case_event e WHERE e.case_id = c.id AND e.kind = 'created')
           OR NOT EXISTS (SELECT 1 FROM case_event e WHERE e.case_id = c.id AND e.kind = 'routed')
           OR NOT EXISTS (SELECT 1 FROM case_department_stint s WHERE s.case_id = c.id)"""


# ---------------------------------------------------------------- backup and restore

def test_backup_then_restore_into_an_empty_database_gives_back_every_row_of_every_table(city, databases, tmp_path):
    from core.extensions import db
    from core.services.cases import create_case

    source = every_row(url_of(city))
    # The copy is worth comparing: cases and their timelines, an attachment, rows of the plugins and their versions.
    assert len(source["case"]) == 40 and len(source["case_event"]) > 80
    assert len(source["attachment"]) == 1 and source["intake_api_key"]
    plugin_rows = {t: len(r) for t, r in source.items() if t.startswith(("intake_", "kb_", "fs_", "fema_", "i18n_", "knowledge_", "fieldservice_")) and r}
    assert {"intake_api_key", "intake_follower", "knowledge_article"} <= set(plugin_rows), plugin_rows
    assert {"alembic_version_core", "alembic_version_intake", "alembic_version_fema"} <= set(source)

    file = tmp_path / "city.backup"
    made = civic(city, "backup", str(file))
    assert made.exit_code == 0, made.output
    assert made.output.count("\n") == 1 and "40 cases" in made.output and str(file) in made.output
    assert not list(tmp_path.glob(".*partial")), "no temporary file is left beside the backup"
    assert oct(file.stat().st_mode & 0o777) == "0o600", "a backup holds personal data: readable by its owner only"

    target = build_app(databases.new())
    loaded = civic(target, "restore", str(file))
    assert loaded.exit_code == 0, loaded.output
    assert loaded.output.count("\n") == 1 and "40 cases" in loaded.output

    restored = every_row(url_of(target))
    assert sorted(restored) == sorted(source)
    for table, rows in source.items():
        assert restored[table] == rows, f"table {table} differs after the restore"
    # The restored city works: its migrations are current and a new case goes through its triggers (search index).
    assert target.test_client().get("/health").get_json()["migrations"] == "current"
    with target.app_context():
        create_case(db.session, service_code="POTHOLE", description="First case after the restore",
                    lat=29.55, long=-81.2, attributes={"SIZE": "small"})
        db.session.remove()
    assert count(url_of(target), 'SELECT count(*) FROM "case"') == 41
    forget(target)


def test_a_backup_taken_while_cases_are_written_is_consistent(city, databases, tmp_path):
    from core.extensions import db
    from core.services.cases import create_case

    stop, written, failures = threading.Event(), [], []
    first_written = threading.Event()

    def write_cases():
        with city.app_context():
            try:
                while not stop.is_set():
                    case = create_case(db.session, service_code="POTHOLE", description="Written during the backup",
                                       lat=29.55, long=-81.21, attributes={"SIZE": "small"})
                    written.append(case.reference)
                    first_written.set()
            except Exception as exc:  # noqa: BLE001 -- reported by the test below
                failures.append(exc)
                first_written.set()
            finally:
                db.session.remove()

    before = count(url_of(city), 'SELECT count(*) FROM "case"')
    writer = threading.Thread(target=write_cases)
    writer.start()
    try:
        assert first_written.wait(60)
        file = tmp_path / "busy.backup"
        made = civic(city, "backup", str(file), close=False)
    finally:
        stop.set()
        writer.join(60)
    assert not failures, failures
    assert made.exit_code == 0, made.output
    after = count(url_of(city), 'SELECT count(*) FROM "case"')
    assert after > before

    copy = databases.new()
    target = build_app(copy)
    assert civic(target, "restore", str(file)).exit_code == 0
    in_copy = count(copy, 'SELECT count(*) FROM "case"')
    assert before < in_copy <= after
    assert f"{in_copy} cases" in made.output, "the count printed is the file's"
    assert count(copy, WHOLE) == 0, "every case of the backup is whole: its timeline, routing and department stint"


def test_restore_refuses_a_database_that_is_not_empty_and_force_replaces_it(city, tmp_path):
    from core.extensions import db
    from core.services.cases import create_case

    file = tmp_path / "before.backup"
    assert civic(city, "backup", str(file)).exit_code == 0
    cases = count(url_of(city), 'SELECT count(*) FROM "case"')
    with city.app_context():
        late = create_case(db.session, service_code="POTHOLE", description="Made after the backup",
                           lat=29.56, long=-81.22, attributes={"SIZE": "small"}).reference
        db.session.remove()

    refused = civic(city, "restore", str(file))
    assert refused.exit_code != 0
    assert "already holds a database" in refused.output and "--force" in refused.output
    assert refused.output.count("\n") == 1 and "Traceback" not in refused.output
    assert count(url_of(city), f"SELECT count(*) FROM \"case\" WHERE reference = '{late}'") == 1, "nothing was changed"

    replaced = civic(city, "restore", "--force", str(file))
    assert replaced.exit_code == 0, replaced.output
    assert count(url_of(city), 'SELECT count(*) FROM "case"') == cases
    assert count(url_of(city), f"SELECT count(*) FROM \"case\" WHERE reference = '{late}'") == 0
    assert city.test_client().get("/health").status_code == 200


def test_backup_refuses_to_overwrite_a_file_unless_forced(city, tmp_path):
    file = tmp_path / "kept.backup"
    file.write_text("yesterday's backup")
    refused = civic(city, "backup", str(file))
    assert refused.exit_code != 0
    assert "already exists" in refused.output and "--force" in refused.output and refused.output.count("\n") == 1
    assert file.read_text() == "yesterday's backup"
    forced = civic(city, "backup", "--force", str(file))
    assert forced.exit_code == 0, forced.output
    assert file.read_bytes()[:5] in (b"SQLit", b"PGDMP")


def test_restore_of_a_missing_or_foreign_file_is_one_line_naming_it(city, databases, tmp_path):
    target = build_app(databases.new())
    missing = civic(target, "restore", str(tmp_path / "nowhere.backup"))
    assert missing.exit_code != 0
    assert "nowhere.backup: no such file" in missing.output and missing.output.count("\n") == 1

    foreign = tmp_path / "notes.txt"
    foreign.write_text("not a database")
    refused = civic(target, "restore", str(foreign))
    assert refused.exit_code != 0 and "is not a Civic Connect backup" in refused.output
    assert refused.output.count("\n") == 1 and "Traceback" not in refused.output

    other_engine = tmp_path / "other.backup"
    other_engine.write_bytes(b"PGDMP" + b"\0" * 64 if databases.engine == "sqlite" else b"SQLite format 3\x00" + b"\0" * 84)
    wrong = civic(target, "restore", str(other_engine))
    assert wrong.exit_code != 0
    assert ("PostgreSQL backup" if databases.engine == "sqlite" else "SQLite backup") in wrong.output


def test_backup_into_a_folder_that_does_not_exist_names_it(city, tmp_path):
    result = civic(city, "backup", str(tmp_path / "no-such-folder" / "city.backup"))
    assert result.exit_code != 0
    assert "no-such-folder: no such folder" in result.output and result.output.count("\n") == 1


# ---------------------------------------------------------------- SQLite durability

def test_sqlite_connections_use_the_write_ahead_log_and_commit_durably(tmp_path):
    from core.extensions import db

    application = build_app(f"sqlite:///{tmp_path / 'civic.db'}")
    with application.app_context():
        with db.engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 2, "FULL: a commit is on disk before it is acknowledged"
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        db.engine.dispose()
