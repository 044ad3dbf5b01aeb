"""Shared fixtures: a real database on each backend, the demo city, staff users, logged-in clients.

Every test that uses ``app`` runs twice: on a SQLite file and on the PostgreSQL
server at 127.0.0.1:5432 (database ``test``, a fresh schema per run).  Where no
PostgreSQL answers, that half is skipped with a visible reason -- except under
CI (``CI=true``), where it fails.
"""
from __future__ import annotations

import os
import re
import uuid
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
DEMO_CONFIG = ROOT / "config" / "palm-coast.toml"
PG_BASE = os.environ.get("CIVIC_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
PASSWORD = "correct-horse-battery"
# Test apps hash passwords with one PBKDF2 round: the production scrypt costs ~0.1 s a sign-in, and the suite
# signs in more than a thousand times.  Production keeps its default (tests/core/test_password_hashing.py).
FAST_PASSWORD_HASH = "pbkdf2:sha256:1"
# What FAB checks a password against when nobody has that username (so that a miss takes as long as a hit).
FAST_FAKE_HASH_CHECK = "pbkdf2:sha256:1$fake$" + "0" * 64
FAST_PASSWORD_SETTINGS = {"FAB_PASSWORD_HASH_METHOD": FAST_PASSWORD_HASH, "AUTH_DB_FAKE_PASSWORD_HASH_CHECK": FAST_FAKE_HASH_CHECK}
# Every test client signs in from 127.0.0.1: test apps allow many sign-ins a minute (the limit itself is tested in
# tests/core/test_security_settings.py with the production value).
MANY_SIGN_INS = {"AUTH_RATE_LIMIT": "100000 per minute"}


def postgres_url(tmp_name: str) -> str:
    """Create a schema of its own on the test server and return a URL that uses it."""
    try:
        engine = sa.create_engine(PG_BASE, connect_args={"connect_timeout": 3})
        with engine.begin() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{tmp_name}"'))
        engine.dispose()
    except Exception as exc:  # noqa: BLE001 -- any failure to connect means "no server here"
        message = f"PostgreSQL not reachable at {PG_BASE}: {str(exc).splitlines()[0]}"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{message} (under CI the PostgreSQL run must not be skipped)")
        pytest.skip(message)
    return f"{PG_BASE}?options=-csearch_path%3D{tmp_name}"


def drop_schema(tmp_name: str) -> None:
    engine = sa.create_engine(PG_BASE)
    with engine.begin() as conn:
        conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{tmp_name}" CASCADE'))
    engine.dispose()


@pytest.fixture(scope="session", autouse=True)
def _data_dir(tmp_path_factory):
    """Uploads, secrets and SQLite files of the test run live in a temp folder."""
    d = tmp_path_factory.mktemp("civic-data")
    os.environ["CIVIC_DATA_DIR"] = str(d)
    os.environ.pop("CIVIC_DATABASE_URL", None)
    os.environ.pop("CIVIC_CONFIG", None)
    return d


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def database_url(request, tmp_path_factory):
    """A fresh, empty database: a SQLite file, or a new schema on PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'civic.db'}"
        return
    name = f"civic_test_{uuid.uuid4().hex[:10]}"
    url = postgres_url(name)
    yield url
    drop_schema(name)


def build_app(database_url: str, config: Path | str = DEMO_CONFIG, **settings):
    from core import create_app

    defaults = {"SQLALCHEMY_DATABASE_URI": database_url, "TESTING": True, **FAST_PASSWORD_SETTINGS, **MANY_SIGN_INS}
    return create_app(config, settings={**defaults, **settings})


def prepare_database(app) -> None:
    """What `civic init` does: migrations, roles, catalog."""
    from core import migrate
    from core.extensions import db
    from core.services.catalog import sync_catalog
    from core.services.users import sync_roles

    with app.app_context():
        migrate.upgrade()
        sync_roles()
        sync_catalog(db.session, app.extensions["civic"].config)


STAFF = {
    # username: (role, department codes)
    "admin": ("Admin", ()),
    "dispatcher": ("Dispatcher", ()),
    "pw_staff": ("Department staff", ("PW",)),
    "util_staff": ("Department staff", ("UTIL",)),
    "crew": ("Field crew", ("PW",)),
    "resident": ("Resident", ()),
}


@pytest.fixture(scope="session")
def app(database_url):
    """The demo city on a migrated database, with one user per role."""
    from core.extensions import db
    from core.models import Department
    from core.services.users import create_user

    application = build_app(database_url)
    prepare_database(application)
    with application.app_context():
        for username, (role, codes) in STAFF.items():
            depts = [db.session.scalar(sa.select(Department).where(Department.code == c)) for c in codes]
            create_user(username, PASSWORD, role, email=f"{username}@palmcoast.example.gov", departments=depts)
    yield application
    with application.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def ctx(app):
    """An application context with a clean session for the test."""
    from core.extensions import db

    with app.app_context():
        yield
        db.session.rollback()
        db.session.remove()


@pytest.fixture
def session(ctx):
    from core.extensions import db

    return db.session


def csrf_token(html: str) -> str:
    m = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html) or re.search(r'value="([^"]+)"[^>]*name="csrf_token"', html)
    assert m, "no CSRF token in the page"
    return m.group(1)


def login(client, username: str, password: str = PASSWORD):
    page = client.get("/login/")
    response = client.post(
        "/login/",
        data={"username": username, "password": password, "csrf_token": csrf_token(page.get_data(as_text=True))},
        follow_redirects=False,
    )
    assert response.status_code == 302, f"login of {username} failed"
    return client


@pytest.fixture
def client_for(app):
    """``client_for("pw_staff")`` gives a test client signed in as that user."""

    def make(username: str | None):
        client = app.test_client()
        return login(client, username) if username else client

    return make


def api_token(client, username: str, password: str = PASSWORD) -> dict[str, str]:
    r = client.post("/api/v1/security/login", json={"username": username, "password": password, "provider": "db"})
    assert r.status_code == 200, r.get_data(as_text=True)
    return {"Authorization": f"Bearer {r.json['access_token']}"}


@pytest.fixture
def api_headers(app):
    """``api_headers("pw_staff")`` gives JWT headers for the REST API."""

    def make(username: str):
        return api_token(app.test_client(), username)

    return make


@contextmanager
def recorded_sql(app):
    """Collect every SQL statement the app's engine runs inside the block (whitespace folded)."""
    from core.extensions import db

    statements: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        statements.append(" ".join(statement.split()))

    with app.app_context():
        engine = db.engine
    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)
