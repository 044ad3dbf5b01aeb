"""The timeline and the audit log are evidence: the database itself refuses to change or remove their rows.

Each test talks SQL on a connection of its own, the way a script, a console or a careless migration would:
the triggers of migration 0009 must refuse it on both engines, whatever the ORM says.
"""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from core.extensions import db
from core.models import AuditEntry, Case, CaseEvent
from core.services.cases import Actor, add_note, create_case


def pothole(session) -> Case:
    return create_case(session, service_code="POTHOLE", description="Append-only pothole", channel="web",
                       attributes={"SIZE": "large"}, address="9 Evidence Lane")


def refused(statement: str, **params) -> str:
    """Run ``statement`` on a fresh connection; it must fail: returns the database's message."""
    with pytest.raises(sa.exc.DBAPIError) as failure:
        with db.engine.begin() as conn:
            conn.execute(sa.text(statement), params)
    return str(failure.value.orig)


def test_a_timeline_entry_cannot_be_rewritten_or_deleted_in_sql(session):
    case = pothole(session)
    note = add_note(session, case, "Crew on the way", Actor(None, "dispatcher"), public=True)

    assert "append-only" in refused("UPDATE case_event SET body = 'rewritten' WHERE id = :id", id=note.id)
    assert "append-only" in refused("DELETE FROM case_event WHERE id = :id", id=note.id)
    assert "append-only" in refused("DELETE FROM case_event WHERE case_id = :id", id=case.id)

    with db.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT body FROM case_event WHERE id = :id"), {"id": note.id}).scalar() == "Crew on the way"


def test_a_case_cannot_be_deleted_in_sql_nor_through_the_orm(session):
    case = pothole(session)
    events = session.scalar(sa.select(sa.func.count()).select_from(CaseEvent).where(CaseEvent.case_id == case.id))

    assert "evidence" in refused('DELETE FROM "case" WHERE id = :id', id=case.id)
    session.delete(case)
    with pytest.raises(PermissionError, match="evidence"):
        session.flush()
    session.rollback()

    assert session.get(Case, case.id) is not None
    assert session.scalar(sa.select(sa.func.count()).select_from(CaseEvent).where(CaseEvent.case_id == case.id)) == events


def test_cases_themselves_still_change_and_timelines_still_grow(session):
    """Only the history is frozen: a case's own row changes, and new entries are added."""
    case = pothole(session)
    with db.engine.begin() as conn:
        conn.execute(sa.text('UPDATE "case" SET priority = \'high\' WHERE id = :id'), {"id": case.id})
    add_note(session, case, "Still growing", Actor(None, "dispatcher"))
    session.expire_all()
    assert session.get(Case, case.id).priority == "high"
    assert "Still growing" in [e.body for e in session.scalars(sa.select(CaseEvent).where(CaseEvent.case_id == case.id))]


def test_an_audit_entry_cannot_be_rewritten_or_deleted_in_sql_nor_through_the_orm(session):
    entry = session.scalars(sa.select(AuditEntry).order_by(AuditEntry.id)).first()
    assert entry is not None, "the config sync of the test database records the routing rules"

    assert "append-only" in refused("UPDATE audit_log SET actor_label = 'somebody else' WHERE id = :id", id=entry.id)
    assert "append-only" in refused("DELETE FROM audit_log WHERE id = :id", id=entry.id)
    assert "append-only" in refused("DELETE FROM audit_log")

    entry.actor_label = "somebody else"
    with pytest.raises(PermissionError, match="append-only"):
        session.flush()
    session.rollback()
    session.delete(session.get(AuditEntry, entry.id))
    with pytest.raises(PermissionError, match="append-only"):
        session.flush()
    session.rollback()


def test_the_case_screens_still_work_with_the_timeline_frozen(app, client_for):
    """Notes, status changes and edits add entries; the page and the list read as before."""
    from tests.core.test_case_screens import act, load, make_case, text

    case_id, _ = make_case(app)
    client = client_for("pw_staff")
    assert "Internal note added." in text(act(client, case_id, "internal_note", body="Frozen history, living case"))
    assert "Status changed to Acknowledged." in text(act(client, case_id, "status", status="acknowledged"))
    after = load(app, case_id)
    assert after["status"] == "acknowledged"
    assert [e[0] for e in after["events"]][-2:] == ["internal_note", "status_changed"]
    assert "Frozen history, living case" in text(client.get(f"/caseview/show/{case_id}"))
    assert client.get("/caseview/list/").status_code == 200
