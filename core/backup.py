"""`civic backup FILE` and `civic restore FILE`: the whole database -- the core's and every plugin's tables, their
Alembic version tables included -- in one file.

- SQLite: the online backup API (``sqlite3.Connection.backup``) copies a consistent snapshot while the server
  runs (WAL: readers never block the writer), into a self-contained file (no ``-wal`` beside it).  Restoring copies
  it back the same way, so triggers (the audit log's, the full-text index's) never fire on the copied rows.
- PostgreSQL: ``pg_dump --format=custom`` of the app's schema (``options=-csearch_path=SCHEMA`` in the URL, else
  ``public``), taken in the snapshot of a transaction that also counts the cases, so the count is the file's.
  Restoring replays it with ``psql`` in one transaction into the URL's schema, which may have another name than
  the one backed up (a copy of the city for training, a test schema): the schema's name is rewritten on the way.

A backup is written to a temporary file next to FILE and renamed when complete: a crash mid-backup leaves no half
file under FILE.  Every failure is a ``BackupError`` whose message is one line an admin can act on.
"""
from __future__ import annotations

import os
import re
import shlex
import shutil
import sqlite3
import subprocess
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Iterator

import sqlalchemy as sa
from flask_babel import gettext
from sqlalchemy.engine import URL, make_url
from sqlalchemy.pool import NullPool

SQLITE_MAGIC = b"SQLite format 3\x00"
PG_DUMP_MAGIC = b"PGDMP"
# libpq reads these from the environment: the password never appears on a command line (ps shows those).
LIBPQ_QUERY_KEYS = {
    "host": "PGHOST", "port": "PGPORT", "sslmode": "PGSSLMODE", "sslrootcert": "PGSSLROOTCERT",
    "sslcert": "PGSSLCERT", "sslkey": "PGSSLKEY", "connect_timeout": "PGCONNECT_TIMEOUT",
}


class BackupError(Exception):
    """A backup or restore that cannot be done; the message says what to do about it."""


@dataclass(frozen=True)
class Outcome:
    """What a backup or restore did: the database (shown without its password), the file, the cases it holds."""

    database: str
    path: Path
    cases: int
    size: int


# ---------------------------------------------------------------- entry points

def backup(database_url: str, target: str | os.PathLike, force: bool = False) -> Outcome:
    """Write the database of ``database_url`` to ``target``; an existing file is replaced only with ``force``."""
    path = Path(target).expanduser().absolute()
    _check_target(path, force)
    url = _url(database_url)
    partial = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.partial")
    os.close(os.open(partial, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))  # personal data: readable by its owner only
    try:
        if url.get_backend_name() == "sqlite":
            cases = _sqlite_backup(_sqlite_path(url, must_exist=True), partial)
        else:
            cases = _pg_backup(url, partial)
        _durable_rename(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    return Outcome(_shown(url), path, cases, path.stat().st_size)


def restore(database_url: str, source: str | os.PathLike, force: bool = False) -> Outcome:
    """Load ``source`` into the database of ``database_url``, which must be empty unless ``force`` (then replaced)."""
    path = Path(source).expanduser().absolute()
    if not path.is_file():
        raise BackupError(gettext("%(file)s: no such file", file=path))
    url = _url(database_url)
    with path.open("rb") as f:
        head = f.read(len(SQLITE_MAGIC))
    if url.get_backend_name() == "sqlite":
        if head.startswith(PG_DUMP_MAGIC):
            raise BackupError(gettext("%(file)s is a PostgreSQL backup (pg_dump) and this city's database is SQLite: restore it into a PostgreSQL database", file=path))
        if head != SQLITE_MAGIC:
            raise BackupError(gettext("%(file)s is not a Civic Connect backup (neither a SQLite database nor a pg_dump archive)", file=path))
        cases = _sqlite_restore(path, _sqlite_path(url, must_exist=False), force)
    else:
        if head == SQLITE_MAGIC:
            raise BackupError(gettext("%(file)s is a SQLite backup and this city's database is PostgreSQL: restore it into a SQLite database", file=path))
        if not head.startswith(PG_DUMP_MAGIC):
            raise BackupError(gettext("%(file)s is not a Civic Connect backup (neither a SQLite database nor a pg_dump archive)", file=path))
        cases = _pg_restore(url, path, force)
    return Outcome(_shown(url), path, cases, path.stat().st_size)


# ---------------------------------------------------------------- files

def _check_target(path: Path, force: bool) -> None:
    if path.is_dir():
        raise BackupError(gettext("%(file)s is a folder: give the name of the backup file to write", file=path))
    if not path.parent.is_dir():
        raise BackupError(gettext("%(folder)s: no such folder", folder=path.parent))
    if path.exists() and not force:
        raise BackupError(gettext("%(file)s already exists: choose another name, or add --force to replace it", file=path))


def _durable_rename(partial: Path, path: Path) -> None:
    """Flush the finished file to disk, then give it its name (atomically), then flush the folder's entry."""
    with partial.open("rb+") as f:
        os.fsync(f.fileno())
    os.replace(partial, path)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def _url(database_url: str) -> URL:
    try:
        url = make_url(database_url)
    except sa.exc.ArgumentError:
        raise BackupError(gettext("the database URL is not a URL SQLAlchemy understands")) from None
    if url.get_backend_name() not in ("sqlite", "postgresql"):
        raise BackupError(gettext("backups know SQLite and PostgreSQL, not %(engine)s", engine=url.get_backend_name()))
    return url


def _shown(url: URL) -> str:
    if url.get_backend_name() == "sqlite":
        return f"SQLite {url.database}"
    return gettext("PostgreSQL %(url)s, schema %(schema)s", url=url.set(query={}).render_as_string(hide_password=True), schema=_pg_schema(url))


# ---------------------------------------------------------------- SQLite

def _sqlite_path(url: URL, must_exist: bool) -> Path:
    if not url.database or url.database == ":memory:":
        raise BackupError(gettext("an in-memory SQLite database cannot be backed up or restored"))
    path = Path(url.database).absolute()
    if must_exist and not path.is_file():
        raise BackupError(gettext("%(file)s: no such database file (run `civic init` first)", file=path))
    return path


def _sqlite_cases(connection: sqlite3.Connection) -> int:
    if connection.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'case'").fetchone() is None:
        return 0
    return connection.execute('SELECT count(*) FROM "case"').fetchone()[0]


def _sqlite_tables(connection: sqlite3.Connection) -> int:
    return connection.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'").fetchone()[0]


def _sqlite_backup(database: Path, partial: Path) -> int:
    source = sqlite3.connect(database, timeout=30)
    copy = sqlite3.connect(partial)
    try:
        source.backup(copy)  # all pages in one step: one read transaction, so one consistent snapshot
        copy.execute("PRAGMA journal_mode=DELETE")  # a self-contained file: nothing beside it in a -wal
        return _sqlite_cases(copy)
    except sqlite3.Error as exc:
        raise BackupError(gettext("%(file)s could not be read: %(problem)s", file=database, problem=exc)) from None
    finally:
        copy.close()
        source.close()


def _sqlite_restore(source_path: Path, database: Path, force: bool) -> int:
    try:
        source = sqlite3.connect(f"{source_path.as_uri()}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise BackupError(gettext("%(file)s could not be opened: %(problem)s", file=source_path, problem=exc)) from None
    try:
        try:
            check = source.execute("PRAGMA quick_check").fetchone()[0]
            known = source.execute("SELECT 1 FROM sqlite_master WHERE name = 'alembic_version_core'").fetchone()
        except sqlite3.Error as exc:
            raise BackupError(gettext("%(file)s is damaged: %(problem)s", file=source_path, problem=exc)) from None
        if check != "ok":
            raise BackupError(gettext("%(file)s is damaged: %(problem)s", file=source_path, problem=check))
        if known is None:
            raise BackupError(gettext("%(file)s is not a Civic Connect backup (it has no alembic_version_core table)", file=source_path))
        if not database.parent.is_dir():
            raise BackupError(gettext("%(folder)s: no such folder", folder=database.parent))
        target = sqlite3.connect(database, timeout=30)
        try:
            tables = _sqlite_tables(target)
            if tables and not force:
                raise BackupError(gettext(
                    "%(file)s already holds a database (%(tables)d tables, %(cases)d cases): restore refuses to replace it; add --force to replace it",
                    file=database, tables=tables, cases=_sqlite_cases(target)))
            source.backup(target)  # replaces every page of the target, in one write transaction
            target.execute("PRAGMA journal_mode=WAL")  # what the app uses (core.app sets it on every connection too)
            return _sqlite_cases(target)
        except sqlite3.Error as exc:
            raise BackupError(gettext("%(file)s could not be written: %(problem)s", file=database, problem=exc)) from None
        finally:
            target.close()
    finally:
        source.close()


# ---------------------------------------------------------------- PostgreSQL

def _pg_schema(url: URL) -> str:
    """The schema of ``options=-csearch_path=SCHEMA`` (its first entry), else ``public``."""
    options = url.query.get("options") or ""
    if isinstance(options, tuple):
        options = " ".join(options)
    words = shlex.split(options)
    for i, word in enumerate(words):
        value = None
        if word.startswith("-csearch_path="):
            value = word[len("-csearch_path="):]
        elif word == "-c" and i + 1 < len(words) and words[i + 1].startswith("search_path="):
            value = words[i + 1][len("search_path="):]
        elif word.startswith("--search_path=") or word.startswith("--search-path="):
            value = word.split("=", 1)[1]
        if value:
            first = value.split(",")[0].strip().strip('"')
            if first and first != "$user":
                return first
    return "public"


def _quoted(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _libpq_env(url: URL) -> dict[str, str]:
    """The environment of pg_dump/pg_restore/psql: the URL's connection settings as libpq variables."""
    env = dict(os.environ)  # PG* variables the app's driver also reads (PGSSLMODE...) apply to the tools as well
    for key, value in (("PGHOST", url.host), ("PGPORT", url.port), ("PGUSER", url.username),
                       ("PGPASSWORD", url.password), ("PGDATABASE", url.database)):
        if value:
            env[key] = str(value)
    for key, variable in LIBPQ_QUERY_KEYS.items():
        value = url.query.get(key)
        if value:
            env[variable] = value if isinstance(value, str) else value[0]
    return env


def _tool(name: str) -> str:
    found = shutil.which(name) or (f"/usr/bin/{name}" if Path(f"/usr/bin/{name}").exists() else None)
    if found is None:
        raise BackupError(gettext("%(tool)s was not found: install the PostgreSQL client programs (Debian: postgresql-client)", tool=name))
    return found


def _first_line(text: bytes | str) -> str:
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    errors = [line for line in lines if "error" in line.lower() or "fatal" in line.lower()]
    return (errors or lines or ["(no message)"])[0]


def _pg_engine(url: URL) -> sa.Engine:
    connect_args = {} if url.query.get("connect_timeout") else {"connect_timeout": 10}
    return sa.create_engine(url, poolclass=NullPool, connect_args=connect_args)


def _pg_state(connection: sa.Connection, schema: str) -> tuple[int, int]:
    """(tables in ``schema``, cases in its case table)."""
    tables = connection.scalar(sa.text("SELECT count(*) FROM information_schema.tables WHERE table_schema = :s"), {"s": schema})
    has_cases = connection.scalar(sa.text("SELECT to_regclass(:t) IS NOT NULL"), {"t": f'{_quoted(schema)}."case"'})
    cases = connection.scalar(sa.text(f'SELECT count(*) FROM {_quoted(schema)}."case"')) if has_cases else 0
    return tables, cases


def _pg_backup(url: URL, partial: Path) -> int:
    schema = _pg_schema(url)
    pg_dump = _tool("pg_dump")
    engine = _pg_engine(url)
    try:
        with engine.connect() as connection:
            connection = connection.execution_options(isolation_level="REPEATABLE READ")
            with connection.begin():
                # pg_dump reads in this transaction's snapshot, so the file holds exactly the cases counted here.
                snapshot = connection.scalar(sa.text("SELECT pg_export_snapshot()"))
                tables, cases = _pg_state(connection, schema)
                if not tables:
                    raise BackupError(gettext("schema %(schema)s has no tables: nothing to back up (run `civic init` first?)", schema=schema))
                done = subprocess.run(
                    [pg_dump, "--format=custom", "--schema", _quoted(schema), "--snapshot", snapshot, "--file", str(partial)],
                    env=_libpq_env(url), capture_output=True, timeout=None,
                )
                if done.returncode != 0:
                    raise BackupError(gettext("pg_dump failed: %(problem)s", problem=_first_line(done.stderr)))
    except sa.exc.DBAPIError as exc:
        raise BackupError(gettext("the database does not answer: %(problem)s", problem=_first_line(str(exc.orig or exc)))) from None
    finally:
        engine.dispose()
    return cases


def _archive_schema(pg_restore: str, path: Path) -> str:
    """The schema the archive was taken from (read from its table of contents)."""
    listing = subprocess.run([pg_restore, "--list", str(path)], capture_output=True)
    if listing.returncode != 0:
        raise BackupError(gettext("%(file)s is not a readable pg_dump archive: %(problem)s", file=path, problem=_first_line(listing.stderr)))
    schemas = set()
    for line in listing.stdout.decode("utf-8", "replace").splitlines():
        # "215; 1259 16390 TABLE civic public.case postgres" -> fields after "id; oid oid": TYPE SCHEMA NAME OWNER
        parts = line.split()
        if not line.startswith(";") and len(parts) >= 6 and parts[3] == "TABLE" and parts[4] != "DATA":
            schemas.add(parts[4])
    if len(schemas) != 1:
        raise BackupError(gettext("%(file)s is not a Civic Connect backup (it should hold the tables of one schema)", file=path))
    return schemas.pop()


def _renamed_sql(lines: Iterator[bytes], source: str, target: str) -> Iterator[bytes]:
    """The restore script with the schema ``source`` renamed ``target``; table data (COPY blocks) is left as it is.

    The script's own CREATE SCHEMA is left out: the schema is made (or emptied) before, by ``_pg_restore``."""
    pattern = re.compile(rb'(?<![\w$"])(?:"' + re.escape(source.encode()) + rb'"|' + re.escape(source.encode()) + rb")(?=\.)")
    name = _quoted(target).encode()
    in_copy = False
    for line in lines:
        if in_copy:
            if line in (b"\\.\n", b"\\.\r\n", b"\\."):
                in_copy = False
            yield line
            continue
        if line.startswith((b"CREATE SCHEMA ", b"ALTER SCHEMA ", b"COMMENT ON SCHEMA ")):
            continue
        if source != target:
            line = pattern.sub(name, line)
        if line.startswith(b"COPY ") and line.rstrip().endswith(b"FROM stdin;"):
            in_copy = True
        yield line


def _pg_restore(url: URL, path: Path, force: bool) -> int:
    schema = _pg_schema(url)
    pg_restore, psql = _tool("pg_restore"), _tool("psql")
    source = _archive_schema(pg_restore, path)
    engine = _pg_engine(url)
    try:
        with engine.connect() as connection:
            tables, cases = _pg_state(connection, schema)
    except sa.exc.DBAPIError as exc:
        raise BackupError(gettext("the database does not answer: %(problem)s", problem=_first_line(str(exc.orig or exc)))) from None
    finally:
        engine.dispose()
    if tables and not force:
        raise BackupError(gettext(
            "schema %(schema)s already holds a database (%(tables)d tables, %(cases)d cases): restore refuses to replace it; add --force to replace it",
            schema=schema, tables=tables, cases=cases))
    env = _libpq_env(url)
    # One transaction, committed by the last line sent, and only once pg_restore has read the whole archive: a
    # failure anywhere, or a crash of this process (psql then reads the end of its input without COMMIT and
    # disconnects), leaves the database as it was.
    prologue = "BEGIN;\n" + (f"DROP SCHEMA IF EXISTS {_quoted(schema)} CASCADE;\n" if force else "")
    prologue += f"CREATE SCHEMA IF NOT EXISTS {_quoted(schema)};\n"
    player = subprocess.Popen([psql, "--no-psqlrc", "--quiet", "--set", "ON_ERROR_STOP=1", "--file", "-"],
                              env=env, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    reader = subprocess.Popen([pg_restore, "--no-owner", "--no-privileges", "--file", "-", str(path)],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    errors: dict[str, bytes] = {}
    drains = [threading.Thread(target=_drain, args=(p.stderr, errors, key)) for key, p in (("psql", player), ("pg_restore", reader))]
    for thread in drains:
        thread.start()
    try:
        player.stdin.write(prologue.encode())
        for line in _renamed_sql(reader.stdout, source, schema):
            player.stdin.write(line)
        if reader.wait() == 0:
            player.stdin.write(b"COMMIT;\n")
            player.stdin.close()
        else:
            player.kill()  # never commit a part of the archive
    except BrokenPipeError:  # psql stopped at an error: its message says which
        pass
    finally:
        reader.stdout.close()
        reader.wait()
        try:
            player.stdin.close()
        except BrokenPipeError:
            pass
        player.wait()
        for thread in drains:
            thread.join()
    if reader.returncode != 0:
        raise BackupError(gettext("pg_restore failed and nothing was changed: %(problem)s", problem=_first_line(errors.get("pg_restore", b""))))
    if player.returncode != 0:
        raise BackupError(gettext("the restore failed and nothing was changed: %(problem)s", problem=_first_line(errors.get("psql", b""))))
    engine = _pg_engine(url)
    try:
        with engine.connect() as connection:
            return _pg_state(connection, schema)[1]
    finally:
        engine.dispose()


def _drain(stream: IO[bytes], into: dict[str, bytes], key: str) -> None:
    into[key] = stream.read()
    stream.close()
