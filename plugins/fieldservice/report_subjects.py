"""What the field service gives reports: work orders (case tasks given to a crew) and the streets of
storm sweeps.

For a filter on the work order's case (the fema plugin's ``disaster``), use the case id column
``CASE_ID`` (= ``case_task.case_id``): ``core.reports.cases.tagged(CASE_ID)``.  The work-order source
joins ``case_task``, ``fieldservice_work_order`` and ``case``, so any column of ``Case`` works as well.

Zones are labelled with the names of the city's zone map (``fieldservice_zone``), in the reader's language.
"""
from __future__ import annotations

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, case, false, func, not_, or_, select, true

from core.formats import city_today, format_date
from core.i18n_content import localized
from core.metrics import seconds_between
from core.models import OPEN_TASK_STATUSES, TASK_STATUSES, Case, Crew, Department, ServiceType, Task
from core.models.base import utcnow
from core.reports.cases import catalog_choices, catalog_labels, code_in, fixed_choices, fixed_labels, percent_of, tagged
from core.reports.sql import as_date, percentile
from core.reports.subjects import Choice, Dimension, Filter, Measure, Subject
from core.security import sees_all_cases, task_scope
from plugins.fieldservice.models import StreetSegment, SweepCampaign, SweepSegment, WorkOrder, Zone
from plugins.fieldservice.settings import sweep_types

CASE_ID = Task.case_id  # the work order's case: for filters on cases (tags, disasters)
METRES_PER_MILE = 1609.344
MAX_CHOICES = 200
# Roles of the sweep screens; a city's own role holding SweepView's list permission counts too.
SWEEP_READERS = frozenset({"Admin", "Dispatcher", "Supervisor", "EOC viewer"})


def count_of(condition):
    return func.sum(case((condition, 1), else_=0))


def ids_of(values: list[str]) -> list[int]:
    """The values that are row ids (other text matches nothing rather than failing)."""
    return [int(v) for v in values if v.isdigit() and len(v) < 19]


def holds(user, permission: str, view: str) -> bool:
    """Whether the user's roles grant ``permission`` on ``view`` (outside a request too: scheduled e-mails)."""
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    return bool(current_app.appbuilder.sm._has_view_access(user, permission, view))


# ---------------------------------------------------------------- labels and choices

def zone_labels(session, codes):
    """Zone codes to the zone map's names (a code the map does not know stays as it is)."""
    rows = session.execute(select(Zone.code, Zone.name, Zone.translations).where(Zone.code.in_(codes))).all() if codes else []
    return {r.code: localized(r, "name") for r in rows}


def zone_choices(session):
    rows = session.execute(select(Zone.code, Zone.name, Zone.translations).order_by(Zone.name).limit(MAX_CHOICES)).all()
    return [Choice(r.code, localized(r, "name")) for r in rows]


def crew_labels(session, ids):
    return dict(session.execute(select(Crew.id, Crew.name).where(Crew.id.in_(ids))).all()) if ids else {}


def crew_choices(session):
    rows = session.execute(select(Crew.id, Crew.name).where(Crew.active.is_(True)).order_by(Crew.name).limit(MAX_CHOICES)).all()
    return [Choice(str(r.id), r.name) for r in rows]


def day_labels(session, days):
    return {d: format_date(as_date(d)) for d in days}


# ---------------------------------------------------------------- work orders

def may_report_work_orders(user) -> bool:
    """Whoever works with work orders: dispatchers and admins, department staff (and supervisors), crews."""
    return sees_all_cases(user) or holds(user, "can_list", "WorkOrderView")


def work_order_scope(user):
    """As the task screens: dispatchers and admins all; others their departments', their own and their crews'."""
    if user is None or not getattr(user, "is_authenticated", False):
        return false()
    return None if sees_all_cases(user) else task_scope(user)


def work_order_source():
    return (Task.__table__.join(WorkOrder.__table__, WorkOrder.task_id == Task.id)
            .join(Case.__table__, Case.id == Task.case_id))


def overdue():
    """Open, and past its due time or its scheduled day (the crew's day lists those as overdue too:
    work orders are scheduled for a day and seldom get a due time)."""
    late = or_(Task.due_at < utcnow(), WorkOrder.scheduled_for < city_today())
    return and_(Task.status.in_(OPEN_TASK_STATUSES), late)


def work_order_subject() -> Subject:
    done = Task.status == "done"
    to_complete = lambda: case((done, seconds_between(Task.created_at, Task.completed_at)))  # noqa: E731
    return Subject(
        code="work_orders",
        label=_l("Work orders"),
        source=work_order_source,
        date=lambda: Task.created_at,
        date_label=_l("Created"),
        scope=work_order_scope,
        allowed=may_report_work_orders,
        order=30,
        dimensions=[
            Dimension("department", _l("Department"), lambda: Task.department_id, catalog_labels(Department)),
            Dimension("crew", _l("Crew"), lambda: Task.crew_id, crew_labels),
            Dimension("status", _l("Status"), lambda: Task.status, fixed_labels(TASK_STATUSES)),
            Dimension("scheduled_for", _l("Scheduled day"), lambda: WorkOrder.scheduled_for, day_labels),
            Dimension("zone", _l("Zone"), lambda: Case.zone, zone_labels),
            Dimension("service", _l("Service"), lambda: Case.service_type_id, catalog_labels(ServiceType)),
        ],
        filters=[
            Filter("department", _l("Department"), code_in(Task.department_id, Department), catalog_choices(Department)),
            Filter("crew", _l("Crew"), lambda values: Task.crew_id.in_(ids_of(values)), crew_choices),
            Filter("status", _l("Status"), lambda values: Task.status.in_(values), fixed_choices(TASK_STATUSES)),
            Filter("zone", _l("Zone"), lambda values: Case.zone.in_(values), zone_choices),
            Filter("service", _l("Service"), code_in(Case.service_type_id, ServiceType), catalog_choices(ServiceType)),
            Filter("tag", _l("Tag"), tagged(CASE_ID)),
        ],
        measures=[
            Measure("count", _l("Work orders"), lambda: func.count(Task.id)),
            Measure("completed", _l("Completed"), lambda: count_of(done)),
            Measure("complete_median", _l("Median time to complete"), lambda: percentile(to_complete(), 0.5), "duration"),
            Measure("complete_p90", _l("90th percentile time to complete"), lambda: percentile(to_complete(), 0.9), "duration"),
            Measure("overdue", _l("Overdue"), lambda: count_of(overdue())),
        ],
        default_measures=("count", "completed", "complete_median"),
    )


# ---------------------------------------------------------------- sweep streets

def may_report_sweeps(user) -> bool:
    """The readers of the sweep screens: dispatchers, supervisors, EOC viewers and admins."""
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    return bool({r.name for r in user.roles} & SWEEP_READERS) or holds(user, "can_list", "SweepView")


def sweep_scope(user):
    return None if may_report_sweeps(user) else false()


def sweep_source():
    return (SweepSegment.__table__.join(SweepCampaign.__table__, SweepCampaign.id == SweepSegment.sweep_id)
            .join(StreetSegment.__table__, StreetSegment.id == SweepSegment.segment_id))


def status_where(pick):
    """Segments whose status is one of ``pick(sweep type)`` for their own sweep's type (each type has its
    own list of statuses, so a status means something only with its type)."""
    parts = [and_(SweepCampaign.sweep_type == kind.code, SweepSegment.status.in_(codes))
             for kind in sweep_types() if (codes := pick(kind))]
    return or_(*parts) if parts else false()


def checked():
    """Every status but the type's first ("not checked"), as the sweep screens count it."""
    return status_where(lambda kind: [s.code for s in kind.statuses[1:]])


def cleared():
    return status_where(lambda kind: list(kind.cleared_codes))


def flagged():
    """Something serious on the street: a status of severity 2 or more (debris, blocked, flooded...)."""
    return status_where(lambda kind: [s.code for s in kind.statuses if s.severity >= 2])


def status_names() -> dict[str, str]:
    """Status code -> label in the reader's language, over every sweep type (the first type naming a code wins)."""
    names: dict[str, str] = {}
    for kind in sweep_types():
        for status in kind.statuses:
            names.setdefault(status.code, status.label)
    return names


def status_labels(session, codes):
    names = status_names()
    return {code: names.get(code, code) for code in codes}


def status_choices(session):
    return [Choice(code, label) for code, label in status_names().items()]


def sweep_labels(session, ids):
    return dict(session.execute(select(SweepCampaign.id, SweepCampaign.name).where(SweepCampaign.id.in_(ids))).all()) if ids else {}


def sweep_choices(session):
    rows = session.execute(select(SweepCampaign.id, SweepCampaign.name).order_by(SweepCampaign.created_at.desc()).limit(MAX_CHOICES)).all()
    return [Choice(str(r.id), r.name) for r in rows]


YES_NO = {"yes": _l("Yes"), "no": _l("No")}


def cleared_filter(values):
    wanted = {v.lower() for v in values} & set(YES_NO)
    if wanted == {"yes"}:
        return cleared()
    if wanted == {"no"}:
        return not_(cleared())
    return true() if wanted else false()


def sweep_segment_subject() -> Subject:
    """Date: the sweep's creation, so every street of a sweep falls in the same period and "% cleared" is
    the sweep's true progress (a check-off time is empty for the streets not checked yet: with it, a
    period would leave them out and count only what crews already saw)."""
    return Subject(
        code="sweep_segments",
        label=_l("Sweep streets"),
        source=sweep_source,
        date=lambda: SweepCampaign.created_at,
        date_label=_l("Sweep created"),
        scope=sweep_scope,
        allowed=may_report_sweeps,
        order=35,
        dimensions=[
            Dimension("sweep", _l("Sweep"), lambda: SweepSegment.sweep_id, sweep_labels),
            Dimension("zone", _l("Zone"), lambda: SweepSegment.zone_code, zone_labels),
            Dimension("status", _l("Status"), lambda: SweepSegment.status, status_labels),
            Dimension("crew", _l("Crew"), lambda: SweepSegment.crew_id, crew_labels),
        ],
        filters=[
            Filter("sweep", _l("Sweep"), lambda values: SweepSegment.sweep_id.in_(ids_of(values)), sweep_choices),
            Filter("zone", _l("Zone"), lambda values: SweepSegment.zone_code.in_(values), zone_choices),
            Filter("status", _l("Status"), lambda values: SweepSegment.status.in_(values), status_choices),
            Filter("cleared", _l("Cleared"), cleared_filter, fixed_choices(YES_NO)),
        ],
        measures=[
            Measure("count", _l("Streets"), lambda: func.count(SweepSegment.id)),
            Measure("checked", _l("Checked"), lambda: count_of(checked())),
            Measure("cleared", _l("Cleared"), lambda: count_of(cleared())),
            Measure("cleared_rate", _l("Cleared (%)"), lambda: percent_of(cleared(), SweepSegment.id.is_not(None)), "percent"),
            Measure("miles", _l("Street length (miles)"),
                    lambda: func.coalesce(func.sum(StreetSegment.length_m), 0.0) / METRES_PER_MILE, "number"),
            Measure("flagged", _l("Flagged"), lambda: count_of(flagged())),
        ],
        default_measures=("count", "checked", "cleared_rate"),
    )
