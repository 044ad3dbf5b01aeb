"""/health: what a load balancer asks every few seconds -- 200 to send traffic, 503 to take the node out."""
from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
import sqlalchemy as sa

from tests.conftest import build_app, drop_schema, postgres_url, prepare_database, recorded_sql


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def scratch_app(request, tmp_path_factory):
    """A city of its own for the tests that break something (a migration behind, a late outbox)."""
    if request.param == "sqlite":
        url, schema = f"sqlite:///{tmp_path_factory.mktemp('health') / 'civic.db'}", None
    else:
        schema = f"civic_health_{uuid.uuid4().hex[:8]}"
        url = postgres_url(schema)
    application = build_app(url)
    prepare_database(application)
    yield application
    with application.app_context():
        from core.extensions import db

        db.session.remove()
        db.engine.dispose()
    if schema:
        drop_schema(schema)


def health_of(app):
    response = app.test_client().get("/health")
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.headers["Cache-Control"] == "no-store"
    return response.status_code, response.get_json()


def test_a_healthy_node_answers_200_ok_without_signing_in(app):
    status, body = health_of(app)
    assert status == 200, body
    assert body["status"] == "ok"
    assert body["database"] == "ok"
    assert body["migrations"] == "current"
    assert set(body["outbox"]) == {"pending", "oldest_seconds"}
    assert set(body["queues"]["open311"]) == {"pending", "oldest_seconds"}


def test_health_is_cheap_a_handful_of_statements_and_no_personal_data(app):
    with recorded_sql(app) as statements:
        status, body = health_of(app)
    assert status == 200
    assert len(statements) <= 5, statements
    # Only counts and versions: nothing that reads a case, an account or a user.
    assert not any(word in " ".join(statements).lower() for word in ('"case"', "account", "ab_user", "contact_"))


def test_a_migration_behind_the_code_answers_503_naming_the_plugin(scratch_app):
    from alembic.script import ScriptDirectory

    from core import migrate
    from core.extensions import db

    with scratch_app.app_context():
        spec = next(s for s in migrate.specs() if s.name == "intake")
        script = ScriptDirectory(spec.directory, version_locations=[f"{spec.directory}/versions"])
        (head,) = script.get_heads()
        older = script.get_revision(head).down_revision
        assert older, "intake needs two migrations for this test"
        with db.engine.begin() as connection:
            connection.execute(sa.text(f"UPDATE {spec.version_table} SET version_num = :v"), {"v": older})
    try:
        status, body = health_of(scratch_app)
        assert status == 503
        assert body["status"] == "down"
        assert body["database"] == "ok"
        assert body["migrations"]["pending"] == [f"intake: {older} -> {head}"]
    finally:
        with scratch_app.app_context(), db.engine.begin() as connection:
            connection.execute(sa.text(f"UPDATE {spec.version_table} SET version_num = :v"), {"v": head})
    status, body = health_of(scratch_app)
    assert (status, body["migrations"]) == (200, "current")


def test_an_environment_never_migrated_answers_503(scratch_app):
    from core.extensions import db

    with scratch_app.app_context(), db.engine.begin() as connection:
        connection.execute(sa.text("ALTER TABLE alembic_version_fema RENAME TO fema_version_aside"))
    try:
        status, body = health_of(scratch_app)
        assert status == 503
        assert any(line.startswith("fema: none -> ") for line in body["migrations"]["pending"]), body
    finally:
        with scratch_app.app_context(), db.engine.begin() as connection:
            connection.execute(sa.text("ALTER TABLE fema_version_aside RENAME TO alembic_version_fema"))
    assert health_of(scratch_app)[0] == 200


def test_mail_stuck_in_the_outbox_is_degraded_but_still_serving(scratch_app):
    from core.extensions import db
    from core.models import OutboxMessage
    from core.models.base import utcnow

    with scratch_app.app_context():
        an_hour_ago = utcnow() - timedelta(hours=1)
        message = OutboxMessage(recipient="someone@example.org", subject="Your case", body_text="...",
                                created_at=an_hour_ago, next_attempt_at=an_hour_ago)
        db.session.add(message)
        db.session.commit()
        message_id = message.id
        db.session.remove()
    try:
        status, body = health_of(scratch_app)
        assert status == 200
        assert body["status"] == "degraded"
        assert body["outbox"]["pending"] == 1
        assert 3500 < body["outbox"]["oldest_seconds"] < 3700 + 600
        assert "someone@example.org" not in str(body)
    finally:
        with scratch_app.app_context():
            db.session.execute(sa.delete(OutboxMessage).where(OutboxMessage.id == message_id))
            db.session.commit()
            db.session.remove()
    assert health_of(scratch_app)[1]["status"] == "ok"


def test_a_database_that_does_not_answer_is_503_at_once_without_a_traceback():
    # Nothing listens on port 1: the connection is refused at once.
    application = build_app("postgresql+psycopg://civic:secret-pw@127.0.0.1:1/civic?connect_timeout=3")
    status, body = health_of(application)
    assert status == 503
    assert body["status"] == "down"
    assert body["database"] == "not answering"
    text = str(body)
    assert "Traceback" not in text and "127.0.0.1" not in text and "secret-pw" not in text


def test_hook_waiting_work_open311_reports_queued_an_hour_ago_and_not_yet_cases_are_degraded(scratch_app):
    """Reports queued during a surge wait for the background worker: if it is not running, the balancer's
    check says so (still serving), with a count and an age, never the reports themselves."""
    from core.extensions import db
    from core.models.base import utcnow
    from plugins.intake.models import BatchSubmission

    with scratch_app.app_context():
        queued = BatchSubmission(token=uuid.uuid4().hex, payload={"fields": {"contact_email": "resident@example.org"}},
                                 created_at=utcnow() - timedelta(hours=1))
        db.session.add(queued)
        db.session.commit()
        queued_id = queued.id
        db.session.remove()
    try:
        status, body = health_of(scratch_app)
        assert status == 200 and body["status"] == "degraded"
        assert body["queues"]["open311"]["pending"] == 1
        assert 3500 < body["queues"]["open311"]["oldest_seconds"] < 3700 + 600
        assert "resident@example.org" not in str(body)
    finally:
        with scratch_app.app_context():
            db.session.execute(sa.delete(BatchSubmission).where(BatchSubmission.id == queued_id))
            db.session.commit()
            db.session.remove()
    status, body = health_of(scratch_app)
    assert body["status"] == "ok" and body["queues"]["open311"] == {"pending": 0, "oldest_seconds": 0}
