"""``civic intake escalate``: overdue cases get an internal note, their department one e-mail, once."""
from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from core.models.base import utcnow


def run_escalate(app) -> str:
    from core.cli import cli

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FLASK_RUN_FROM_CLI", "false")
        result = app.test_cli_runner().invoke(cli, ["intake", "escalate"])
    assert result.exit_code == 0, result.output
    return result.output


def overdue_case(app, service_code: str, days_late: int = 2, status: str = "new"):
    from core.extensions import db
    from core.services.cases import create_case

    with app.app_context():
        case = create_case(db.session, service_code=service_code, description="Overdue test", channel="web",
                           attributes={"SIZE": "large"} if service_code == "POTHOLE" else {}, address="1 Palm Coast Pkwy")
        case.expected_at = utcnow() - timedelta(days=days_late)
        case.status = status
        db.session.commit()
        return case.id, case.reference


def outbox_for(app, recipient: str):
    from core.extensions import db
    from core.models import OutboxMessage

    with app.app_context():
        return [(m.subject, m.body_text, m.locale) for m in db.session.scalars(
            sa.select(OutboxMessage).where(OutboxMessage.recipient == recipient, OutboxMessage.kind == "case_overdue").order_by(OutboxMessage.id))]


def notes_of(app, case_id: int):
    from core.extensions import db
    from core.models import CaseEvent

    with app.app_context():
        return [(e.body, e.public) for e in db.session.scalars(
            sa.select(CaseEvent).where(CaseEvent.case_id == case_id, CaseEvent.kind == "internal_note"))]


def test_escalate_notes_cases_and_mails_each_department_once(app, client_for):
    run_escalate(app)  # whatever earlier tests left overdue is escalated first
    pw_before, util_before = len(outbox_for(app, "pw@palmcoast.example.gov")), len(outbox_for(app, "util@palmcoast.example.gov"))
    p1, ref1 = overdue_case(app, "POTHOLE")
    p2, ref2 = overdue_case(app, "POTHOLE", days_late=5)
    u1, ref3 = overdue_case(app, "METER")
    closed, ref_closed = overdue_case(app, "POTHOLE", status="closed")
    on_time, ref_on_time = overdue_case(app, "POTHOLE", days_late=-3)

    out = run_escalate(app)
    assert "3 cases escalated for 2 departments" in out

    pw_mails = outbox_for(app, "pw@palmcoast.example.gov")[pw_before:]
    assert len(pw_mails) == 1
    subject, body, locale = pw_mails[0]
    assert locale == "en" and "2 overdue cases" in subject
    assert ref1 in body and ref2 in body and ref_closed not in body and ref_on_time not in body
    assert body.index(ref2) < body.index(ref1)  # the most overdue first
    assert f"/caseview/show/{p1}" in body and body.count("http") == 2
    util_mails = outbox_for(app, "util@palmcoast.example.gov")[util_before:]
    assert len(util_mails) == 1 and ref3 in util_mails[0][1]

    for case_id in (p1, p2, u1):
        [(note, public)] = notes_of(app, case_id)
        assert note.startswith("Overdue: expected ") and public is False
    assert notes_of(app, closed) == [] and notes_of(app, on_time) == []

    # A second run (cron) escalates nothing new and mails nobody.
    assert "0 cases escalated for 0 departments" in run_escalate(app)
    assert len(outbox_for(app, "pw@palmcoast.example.gov")) == pw_before + 1
    assert [len(notes_of(app, c)) for c in (p1, p2, u1)] == [1, 1, 1]

    # The overdue cases stay visible on the staff dashboard.
    page = client_for("admin").get("/dashboard/")
    assert page.status_code == 200 and ref2 in page.get_data(as_text=True)


def test_staff_see_the_overdue_note_on_the_case_page(app, client_for):
    case_id, ref = overdue_case(app, "POTHOLE", days_late=1)
    run_escalate(app)
    html = client_for("admin").get(f"/caseview/show/{case_id}").get_data(as_text=True)
    assert "Overdue: expected" in html and ref in html
