"""The storm surge: when the database is too busy to answer, people are told to come back, never shown a 500.

The database is made busy for real: on SQLite another connection holds the write lock (``BEGIN EXCLUSIVE``)
while the app waits only a moment for it; on PostgreSQL the app has one pooled connection and the test holds
it.  An Open311 client and a resident on the portal both get 503 with ``Retry-After``; nothing is half-written;
once the lock is gone the same report goes through.
"""
from __future__ import annotations

import random
import sqlite3
import uuid
from contextlib import contextmanager

import pytest
import sqlalchemy as sa

from tests.conftest import build_app
from tests.plugins.intake.open311_helpers import POTHOLE, new_key
from tests.plugins.intake.test_reporting import cases_described, form_page, reference_of, send

SHORT_WAIT_MS = 300  # how long the busy app waits for a lock (production waits longer; the answer is the same)


@pytest.fixture(scope="module")
def busy_app(app):
    """A second app on the same database that gives up quickly: a short SQLite busy timeout, or a
    PostgreSQL pool of one connection that waits half a second for it."""
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    if url.startswith("sqlite"):
        application = build_app(url)
    else:
        application = build_app(url, SQLALCHEMY_ENGINE_OPTIONS={"pool_size": 1, "max_overflow": 0, "pool_timeout": 0.5})
    from core.extensions import db

    with application.app_context():
        engine = db.engine
        if url.startswith("sqlite"):
            @sa.event.listens_for(engine, "connect")
            def short_wait(dbapi_connection, record):
                dbapi_connection.execute(f"PRAGMA busy_timeout={SHORT_WAIT_MS}")
    yield application
    with application.app_context():
        db.session.remove()
        db.engine.dispose()


@contextmanager
def database_busy(application):
    """Hold the database: SQLite's write lock from another connection, or PostgreSQL's only pooled connection."""
    from core.extensions import db

    url = application.config["SQLALCHEMY_DATABASE_URI"]
    if url.startswith("sqlite"):
        other = sqlite3.connect(sa.engine.make_url(url).database, isolation_level=None)
        other.execute("BEGIN EXCLUSIVE")
        try:
            yield
        finally:
            other.execute("ROLLBACK")
            other.close()
        return
    with application.app_context():
        held = db.engine.connect()
        held.exec_driver_sql("SELECT 1")
    try:
        yield
    finally:
        held.close()


def a_client(application):
    client = application.test_client()
    client.environ_base["REMOTE_ADDR"] = f"10.{random.randint(1, 254)}.{random.randint(1, 254)}.{random.randint(1, 254)}"
    return client


def test_open311_post_on_a_busy_database_is_503_with_retry_after_and_nothing_half_written(app, busy_app):
    _, plain = new_key(app)
    description = f"Hole by the mailbox {uuid.uuid4().hex[:8]}"
    client = a_client(busy_app)
    form = {**POTHOLE, "api_key": plain, "description": description, "email": "pat@example.org"}

    with database_busy(busy_app):
        r = client.post("/open311/v2/requests.json", data=form)
        xml = client.post("/open311/v2/requests.xml", data=form)
    assert r.status_code == 503, r.get_data(as_text=True)
    assert int(r.headers["Retry-After"]) > 0
    assert r.json[0]["code"] == 503 and "try again" in r.json[0]["description"]
    assert xml.status_code == 503 and xml.headers["Retry-After"] and b"<errors>" in xml.data
    assert cases_described(app, description) == 0

    # The client waits as told and sends the same request again: it goes through, once.
    again = client.post("/open311/v2/requests.json", data=form)
    assert again.status_code == 201, again.get_data(as_text=True)
    assert again.json[0]["service_request_id"]
    assert cases_described(app, description) == 1


def test_portal_report_on_a_busy_database_is_503_with_retry_after_then_goes_through(app, busy_app):
    client = a_client(busy_app)
    page = form_page(client)
    description = f"Sinkhole growing by the school {uuid.uuid4().hex[:8]}"
    fields = {"attr_SIZE": "small", "description": description, "lat": "29.571", "long": "-81.207"}

    with database_busy(busy_app):
        r = send(client, page, **fields)
    assert r.status_code == 503, r.get_data(as_text=True)[:2000]
    assert int(r.headers["Retry-After"]) > 0
    assert "try again" in r.get_data(as_text=True)
    assert cases_described(app, description) == 0

    reference_of(send(client, form_page(client), **fields))
    assert cases_described(app, description) == 1


def test_an_api_reader_on_a_busy_database_gets_json_503_not_500(app, busy_app):
    """Reads pass a SQLite write lock (write-ahead log); a PostgreSQL pool with no free connection stops them too."""
    client = a_client(busy_app)
    with database_busy(busy_app):
        r = client.get("/open311/v2/requests.json")
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    if url.startswith("sqlite"):
        assert r.status_code == 200
    else:
        assert r.status_code == 503 and r.headers["Retry-After"]
        assert "try again" in r.get_data(as_text=True)


def test_a_broken_statement_is_not_taken_for_a_busy_database(app):
    """Only "busy" becomes 503: a real bug (here a broken statement) stays an internal error, logged."""
    from core.errors import is_busy

    with app.app_context():
        from core.extensions import db

        with pytest.raises(sa.exc.SQLAlchemyError) as caught:
            db.session.execute(sa.text("SELECT no_such_column FROM no_such_table"))
        db.session.rollback()
    assert not is_busy(caught.value)
