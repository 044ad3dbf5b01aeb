""""Was this resolved?": the survey link of the closure e-mail, its answers, and their dashboard summary
and weekly trend.

One answer per case and e-mail: the link carries the case id and a keyed hash of the address it was
sent to (``respondent``); answering again through the same link (or a later one to the same address)
updates that answer instead of adding one. A "no" on a resolved or closed case reopens it for staff
review; the rating and comment always go on the case's timeline as an internal note.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from babel import numbers
from flask import render_template
from flask_babel import force_locale, gettext
from flask_babel import lazy_gettext as _l
from markupsafe import Markup
from sqlalchemy import Integer, cast, func, select
from sqlalchemy.exc import IntegrityError

from core.extensions import db
from core.formats import city_today, format_locale, format_number
from core.i18n_content import default_locale
from core.models import Case
from core.models.base import utcnow
from core.records import Panel
from core.security import case_scope, department_case_scope
from core.services.cases import Actor, add_note, change_status
from plugins.intake import tokens
from plugins.intake.following import email_key
from plugins.intake.models import Satisfaction

SURVEY_PURPOSE = "survey"
SURVEY_MAX_AGE = 60 * tokens.DAY
MAX_COMMENT = 2000
RATINGS = {
    1: _l("1 – Very poor"),
    2: _l("2 – Poor"),
    3: _l("3 – Fair"),
    4: _l("4 – Good"),
    5: _l("5 – Excellent"),
}
REOPENABLE = ("resolved", "closed")
SURVEY_ACTOR = Actor(label="resident survey")
DASHBOARD_DAYS = 90
DASHBOARD_COMMENTS = 5


# ------------------------------------------------------------------ links

def survey_token(case: Case, email: str) -> str:
    return tokens.sign(SURVEY_PURPOSE, {"case": case.id, "who": email_key(email)})


def survey_url(case: Case, email: str) -> str:
    """The absolute "Was this resolved?" link for the closure e-mail to ``email`` (valid 60 days)."""
    from plugins.intake.links import public_url

    return public_url("portal.satisfaction", token=survey_token(case, email))


def read_survey_token(token: str) -> dict | None:
    """``{"case": id, "who": key}`` of a valid survey token, else None (forged, expired, other purpose)."""
    data = tokens.verify(SURVEY_PURPOSE, token, max_age=SURVEY_MAX_AGE)
    if not data or not isinstance(data.get("case"), int) or not isinstance(data.get("who"), str):
        return None
    return data


# ------------------------------------------------------------------ answers

def answer_of(case_id: int, who: str) -> Satisfaction | None:
    return db.session.scalar(select(Satisfaction).where(Satisfaction.case_id == case_id, Satisfaction.respondent == who))


def record_answer(case: Case, who: str, *, resolved: bool, rating: int | None, comment: str) -> tuple[Satisfaction, bool]:
    """Store (or update) the answer of ``who`` on ``case``; a "no" reopens a resolved or closed case.

    Returns the answer and whether the case was reopened.
    """
    now = utcnow()
    answer = answer_of(case.id, who)
    if answer is None:
        answer = Satisfaction(case_id=case.id, respondent=who, resolved=resolved, rating=rating, comment=comment, created_at=now)
        try:
            with db.session.begin_nested():
                db.session.add(answer)
        except IntegrityError:  # the same person answered twice at the same moment: keep one row
            answer = answer_of(case.id, who)
    answer.resolved, answer.rating, answer.comment, answer.created_at = resolved, rating, comment, now
    db.session.commit()

    # Staff-facing texts on the timeline are written in the city's language.
    with force_locale(default_locale()):
        reopened = False
        if not resolved and case.status in REOPENABLE:
            change_status(
                db.session, case, "reopened", SURVEY_ACTOR,
                note=gettext("The resident answered that the problem is not resolved; the city will review the case."),
            )
            reopened = True
        add_note(db.session, case, staff_note(resolved, rating, comment), SURVEY_ACTOR, public=False)
    return answer, reopened


def staff_note(resolved: bool, rating: int | None, comment: str) -> str:
    lines = [gettext("Satisfaction survey: resolved: %(answer)s.", answer=gettext("yes") if resolved else gettext("no"))]
    if rating:
        lines.append(gettext("Rating: %(rating)s out of 5.", rating=rating))
    if comment:
        lines.append(gettext("Comment: %(comment)s", comment=comment))
    return "\n".join(lines)


# ------------------------------------------------------------------ staff dashboard

@dataclass
class SatisfactionSummary:
    days: int
    answers: int
    resolved_yes: int
    average_rating: float | None
    comments: list

    @property
    def percent_resolved(self) -> float | None:
        return self.resolved_yes / self.answers if self.answers else None


def summary(now: datetime | None = None, scope=None, days: int = DASHBOARD_DAYS) -> SatisfactionSummary:
    """Answers of the last ``days`` days on the cases ``scope`` allows: two aggregate queries."""
    since = (now or utcnow()) - timedelta(days=days)
    base = select().select_from(Satisfaction).join(Case, Case.id == Satisfaction.case_id).where(Satisfaction.created_at >= since)
    if scope is not None:
        base = base.where(scope)
    answers, yes, average = db.session.execute(
        base.add_columns(func.count(Satisfaction.id), func.sum(cast(Satisfaction.resolved, Integer)), func.avg(Satisfaction.rating))
    ).one()
    comments = db.session.execute(
        base.add_columns(Satisfaction.created_at, Satisfaction.resolved, Satisfaction.rating, Satisfaction.comment, Case.id, Case.reference)
        .where(Satisfaction.comment != "")
        .order_by(Satisfaction.created_at.desc(), Satisfaction.id.desc())
        .limit(DASHBOARD_COMMENTS)
    ).all()
    return SatisfactionSummary(days, answers or 0, int(yes or 0), float(average) if average is not None else None, list(comments))


def format_percent(value: float | None) -> str:
    return "" if value is None else numbers.format_percent(value, locale=format_locale())


def dashboard_panel() -> Panel:
    """The "Resident satisfaction" block of the staff dashboard, scoped like the case list."""
    data = summary(scope=case_scope())
    html = render_template(
        "portal/following_satisfaction_widget.html",
        data=data,
        percent=format_percent(data.percent_resolved),
        average=format_number(round(data.average_rating, 1)) if data.average_rating is not None else "",
    )
    return Panel(_l("Resident satisfaction"), html, order=60)


def rating_trend(weeks: list, scope=None) -> list[float | None]:
    """The average rating (1-5) of the answers given in each week of ``weeks`` (Mondays, the city's
    calendar), on the cases ``scope`` allows; None for a week without a rated answer.  One GROUP BY."""
    from core.views.dashboard import weekly

    stmt = select(func.avg(Satisfaction.rating)).select_from(Satisfaction).join(Case, Case.id == Satisfaction.case_id)
    if scope is not None:
        stmt = stmt.where(scope)
    return [None if v is None else float(v) for v in weekly(db.session, stmt, Satisfaction.created_at, weeks)]


def trend_panel() -> Panel:
    """The "Satisfaction trend" block of the staff dashboard: a line of the weekly average rating over the
    last 12 weeks, for the department's own cases (all for dispatchers and admins), like the core's trends."""
    from core.views.dashboard import trend_chart, week_starts

    weeks = week_starts(city_today())
    values = rating_trend(weeks, department_case_scope())
    chart = trend_chart(weeks, _l("Average rating"), values, "rating", _l("Average rating of the answers, by week"))
    note = gettext("Last %(weeks)d weeks, ratings from 1 (very poor) to 5 (excellent).", weeks=len(weeks))
    html = Markup('<div class="intake-satisfaction-trend" data-satisfaction-trend><p class="text-muted">{}</p>{}</div>').format(note, chart)
    return Panel(_l("Satisfaction trend"), html, order=61)
