"""What the intake plugin gives reports: the phone desk's calls as a subject of their own, and resident
satisfaction as measures of the core's cases.

Calls are the desk's business: whoever may take calls or read the call log (dispatchers and admins; a
city's own role with the desk's permission too) reports on every call; department staff and crews may
not use the subject at all -- they work the cases the calls become, which the cases subject counts.
"""
from __future__ import annotations

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import Float, case, cast, false, func, select

from core.metrics import seconds_between
from core.models import Case, User
from core.reports.cases import fixed_choices, fixed_labels, percent_of
from core.reports.sql import percentile
from core.reports.subjects import Choice, Dimension, Filter, Measure, Subject, SubjectFields
from core.security import sees_all_cases
from plugins.intake.models import Call, Satisfaction
from plugins.intake.phone import reasons
from plugins.intake.phone.log import OUTCOMES

# The phone desk's screens: holding either permission is what lets a user report on calls.
DESK_PERMISSIONS = (("can_take", "CallDeskView"), ("can_list", "CallLogView"))
MAX_AGENTS = 200  # agents offered by the agent filter


def ids_of(values: list[str]) -> list[int]:
    """The values that are row ids (other text matches nothing rather than failing)."""
    return [int(v) for v in values if v.isdigit() and len(v) < 19]


# ---------------------------------------------------------------- calls

def may_report_calls(user) -> bool:
    """Dispatchers and admins, and anyone whose role holds the phone desk's permission."""
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    if sees_all_cases(user):
        return True
    sm = current_app.appbuilder.sm
    return any(sm._has_view_access(user, permission, view) for permission, view in DESK_PERMISSIONS)


def calls_scope(user):
    """Every call for those who may report on calls (the call log shows them every call), none otherwise."""
    return None if may_report_calls(user) else false()


def wrap_up_labels(session, codes):
    return {code: reasons.label(code) for code in codes}


def wrap_up_choices(session):
    return [Choice(code, label) for code, label in reasons.log_choices()]


def agent_labels(session, ids):
    from core.views.cases import user_label

    users = session.scalars(select(User).where(User.id.in_(ids))).all() if ids else []
    return {u.id: user_label(u) for u in users}


def agent_choices(session):
    """The staff who have taken calls, by name."""
    from core.views.cases import user_label

    taken = select(Call.agent_id).where(Call.agent_id.is_not(None)).distinct()
    users = session.scalars(select(User).where(User.id.in_(taken)).order_by(User.first_name, User.last_name).limit(MAX_AGENTS)).all()
    return [Choice(str(u.id), user_label(u)) for u in users]


def call_subject() -> Subject:
    length = lambda: seconds_between(Call.started_at, Call.ended_at)  # noqa: E731
    return Subject(
        code="calls",
        label=_l("Calls"),
        source=lambda: Call.__table__,
        date=lambda: Call.started_at,
        date_label=_l("Call started"),
        scope=calls_scope,
        allowed=may_report_calls,
        order=20,
        dimensions=[
            Dimension("outcome", _l("Outcome"), lambda: Call.outcome, fixed_labels(OUTCOMES)),
            # A call that became a case has no wrap-up reason: "(none)" rather than an empty label.
            Dimension("wrap_up", _l("Wrap-up reason"), lambda: func.nullif(Call.wrap_up, ""), wrap_up_labels),
            Dimension("agent", _l("Agent"), lambda: Call.agent_id, agent_labels),
        ],
        filters=[
            Filter("outcome", _l("Outcome"), lambda values: Call.outcome.in_(values), fixed_choices(OUTCOMES)),
            Filter("wrap_up", _l("Wrap-up reason"), lambda values: Call.wrap_up.in_(values), wrap_up_choices),
            Filter("agent", _l("Agent"), lambda values: Call.agent_id.in_(ids_of(values)), agent_choices),
        ],
        measures=[
            Measure("count", _l("Calls"), lambda: func.count(Call.id)),
            Measure("length_median", _l("Median call length"), lambda: percentile(length(), 0.5), "duration"),
            Measure("length_p90", _l("90th percentile call length"), lambda: percentile(length(), 0.9), "duration"),
            Measure("case_rate", _l("Became a case (%)"), lambda: percent_of(Call.outcome == "case", Call.id.is_not(None)), "percent"),
        ],
        default_measures=("count", "case_rate"),
    )


# ---------------------------------------------------------------- satisfaction, on cases

# One row per case that has answers: its average rating, its answers, its "resolved = yes" answers.  Joined
# on the case id (at most one row per case), so adding these measures never multiplies the counted cases.
ANSWERS = (
    select(
        Satisfaction.case_id.label("case_id"),
        func.avg(Satisfaction.rating).label("rating"),
        func.count(Satisfaction.id).label("answers"),
        func.sum(case((Satisfaction.resolved.is_(True), 1), else_=0)).label("yes"),
    )
    .group_by(Satisfaction.case_id)
    .subquery("intake_answers")
)


def join_answers(stmt):
    """Both measures share this one function, so a report asking for both joins the answers once."""
    return stmt.outerjoin(ANSWERS, ANSWERS.c.case_id == Case.id)


def satisfaction_fields() -> SubjectFields:
    """``satisfaction``: the average rating (1-5) per case first, then over the group's cases -- a case
    that ten neighbours answered counts once, like a case answered by its reporter alone; answers without
    a rating are left out.  ``satisfied_rate``: the share of all answers (not cases) saying "resolved"."""
    return SubjectFields(
        subject="cases",
        measures=[
            Measure("satisfaction", _l("Satisfaction average"), lambda: func.avg(ANSWERS.c.rating), "rating", join_answers),
            Measure("satisfied_rate", _l("Answered \u201cresolved\u201d (%)"),
                    lambda: 100.0 * cast(func.sum(ANSWERS.c.yes), Float) / func.nullif(func.sum(ANSWERS.c.answers), 0),
                    "percent", join_answers),
        ],
    )
