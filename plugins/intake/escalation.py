"""Overdue cases: ``civic intake escalate`` (run it from cron) tells each department about its
open cases past their expected date.

Each overdue case is escalated once (``intake_escalation``): it gets an internal note on its
timeline, and its department gets ONE e-mail per run listing the new overdue cases with links to
the staff case page, in the city's default language.  A second run finds nothing new.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from flask import current_app
from flask_babel import force_locale, gettext
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.formats import format_datetime
from core.models import OPEN_STATUSES, Case
from core.models.base import utcnow
from core.notify import enqueue
from core.services.cases import Actor, add_note
from plugins.intake.links import public_url
from plugins.intake.models import Escalation

ACTOR = Actor(label="escalation")


@dataclass
class EscalationReport:
    cases: int = 0
    departments: int = 0
    mails: int = 0

    def line(self) -> str:
        return gettext("%(cases)d cases escalated for %(departments)d departments", cases=self.cases, departments=self.departments)


def overdue_cases(session: Session, now) -> list[Case]:
    """Open cases past their expected date that were not escalated yet, oldest due first."""
    done = select(Escalation.case_id)
    stmt = (
        select(Case)
        .where(Case.status.in_(OPEN_STATUSES), Case.expected_at.is_not(None), Case.expected_at < now, Case.id.not_in(done))
        .order_by(Case.expected_at, Case.id)
    )
    return list(session.scalars(stmt))


def escalate(session: Session, now=None) -> EscalationReport:
    """Record, note and report every newly overdue case; returns the counts."""
    now = now or utcnow()
    locale = current_app.extensions["civic"].config.city.get("default_locale", "en")
    by_department: dict[int | None, list[Case]] = defaultdict(list)
    report = EscalationReport()
    with force_locale(locale):
        for case in overdue_cases(session, now):
            session.add(Escalation(case=case, escalated_at=now))
            # add_note commits: the escalation row and the note are saved together.
            add_note(session, case, gettext("Overdue: expected %(date)s", date=format_datetime(case.expected_at)), ACTOR, public=False)
            by_department[case.department_id].append(case)
            report.cases += 1
        report.departments = len(by_department)
        for cases in by_department.values():
            department = cases[0].department
            if department is None or not department.email:
                continue
            lines = []
            for c in cases:
                due = gettext("expected %(date)s", date=format_datetime(c.expected_at))
                lines.append(f"- {c.reference}: {due}\n  {public_url('CaseView.show', pk=c.id)}")
            body = "\n".join([
                gettext("These cases of %(department)s are past their expected date:", department=department.name),
                "",
                *lines,
            ])
            enqueue(
                session, recipient=department.email, locale=locale, kind="case_overdue", related=f"department:{department.id}",
                subject=gettext("%(count)d overdue cases for %(department)s", count=len(cases), department=department.name),
                body_text=body + "\n",
            )
            report.mails += 1
    session.commit()
    return report
