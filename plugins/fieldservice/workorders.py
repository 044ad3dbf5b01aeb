"""Work orders: a case task given to a crew for a day, completed in the field with notes and a photo.

A work order is a core ``Task`` (so the timeline, the Tasks panel, the queue and the hooks stay the same)
plus a ``WorkOrder`` row (day, street segment, sweep segment, completion notes).  Completing the last open
work order of an open case resolves the case with the crew's notes as its public note: the resident hears
it through the core's status-change notification (plugins/intake/notifications.py).

No Flask request objects here: the screens (workorder_screens.py) and the sweeps call these functions.
"""
from __future__ import annotations

import logging
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date, datetime, timedelta
from typing import Any, Iterable

import sqlalchemy as sa
from flask_babel import gettext
from sqlalchemy.orm import Session, contains_eager, joinedload, scoped_session
from sqlalchemy.orm.exc import StaleDataError

from core.i18n_content import localized
from core.models import OPEN_STATUSES, OPEN_TASK_STATUSES, Case, CaseEvent, Crew, Department, Task
from core.services import tasks as task_service
from core.services.cases import MAX_DESCRIPTION, SYSTEM, Actor, CaseError, ConflictError, change_status, too_long
from plugins.fieldservice.models import StreetSegment, SweepSegment, WorkOrder

log = logging.getLogger(__name__)

# Cases being resolved by ``task_changed`` right now: the hooks of that resolution must not start another.
_resolving: ContextVar[frozenset[int]] = ContextVar("fieldservice_resolving", default=frozenset())


def is_work_order(task: Task) -> bool:
    return getattr(task, "work_order", None) is not None


# ---------------------------------------------------------------- creating


def create_work_order(session: Session, case: Case, *, actor: Actor = SYSTEM, crew: Crew | None = None,
                      department: Department | None = None, title: str | None = None, instructions: str = "",
                      scheduled_for: date | None = None, segment: StreetSegment | None = None,
                      sweep_segment: SweepSegment | None = None) -> Task:
    """A task on the case for a crew (or a department), scheduled for a day; commits.

    The department is the one given, else the crew's, else the case's; the title defaults to
    "Work order: <service name>".  The task goes through ``core.services.tasks.add_task`` (checks, timeline,
    ``task_changed``); its ``WorkOrder`` row joins the task's own flush, so both are in the same commit and the
    hook already sees a work order."""
    errors: dict[str, list[str]] = {}
    if scheduled_for is not None and (isinstance(scheduled_for, datetime) or not isinstance(scheduled_for, date)):
        errors["scheduled_for"] = [gettext("must be a date such as 2026-07-01")]
    if crew is not None and not isinstance(crew, Crew):
        errors["crew"] = [gettext("choose an active crew")]
        crew = None
    if errors:
        raise CaseError(errors)
    department = department or (crew.department if crew is not None else None) or case.department
    if title is None or not str(title).strip():
        title = gettext("Work order: %(service)s", service=localized(case.service_type, "name"))
    if segment is None and sweep_segment is not None:
        segment = sweep_segment.segment
    details = {"scheduled_for": scheduled_for, "segment": segment,
               "sweep_segment_id": sweep_segment.id if sweep_segment is not None else None}
    with _work_order_for_new_task(session, case, details):
        task = task_service.add_task(session, case, department=department, title=str(title)[:task_service.MAX_TITLE],
                                     instructions=instructions or "", crew=crew, actor=actor)
    return task


@contextmanager
def _work_order_for_new_task(session: Session, case: Case, details: dict[str, Any]):
    """While ``add_task`` runs: the first flush that inserts a task of ``case`` also inserts its WorkOrder."""
    real = session() if isinstance(session, scoped_session) else session
    done: list[WorkOrder] = []

    def before_flush(flushing, context, instances):
        if done:
            return
        task = next((o for o in flushing.new if isinstance(o, Task) and o.case is case), None)
        if task is not None:
            done.append(WorkOrder(task=task, **details))
            flushing.add(done[0])

    sa.event.listen(real, "before_flush", before_flush)
    try:
        yield
    finally:
        sa.event.remove(real, "before_flush", before_flush)


# ---------------------------------------------------------------- completing


def complete_work_order(session: Session, task: Task, actor: Actor, *, notes: Any, photo: Any = None) -> Task:
    """The crew's "done": completion notes (required), an optional photo (checked like every attachment),
    then the task moves to done -- which may resolve the case (see ``task_changed``)."""
    order = task.work_order
    if order is None:
        raise CaseError({"task": [gettext("task #%(id)s is not a work order", id=task.id)]})
    if not isinstance(notes, str):
        raise CaseError({"notes": [gettext("must be text")]})
    notes = notes.strip()
    if not notes:
        raise CaseError({"notes": [gettext("say what was done")]})
    if "\x00" in notes:
        raise CaseError({"notes": [gettext("must not contain NUL characters")]})
    if len(notes) > MAX_DESCRIPTION:
        raise CaseError({"notes": [too_long(notes, MAX_DESCRIPTION)]})
    if not task.is_open:
        raise CaseError({"status": [gettext("work order #%(id)s is already %(status)s", id=task.id, status=task.status_label)]})
    task_service.check_task_status(task, "done", notes)  # a blocked one is unblocked first (core rule)
    if photo is not None and getattr(photo, "filename", None):
        task_service.add_task_photo(session, task, photo, photo.filename, actor)  # commits; CaseError names "file"
    order.completion_notes = notes
    task_service.change_task_status(session, task, "done", actor, note=notes)  # commits the notes too
    return task


def _completion(session: Session, task: Task) -> tuple[Actor, str]:
    """Who moved the task to done, and the note they gave: its latest status entry on the timeline (the hook
    is told neither)."""
    event = session.scalar(
        sa.select(CaseEvent).where(CaseEvent.task_id == task.id, CaseEvent.kind == "task_status_changed")
        .order_by(CaseEvent.id.desc()).limit(1)
    )
    if event is None:
        return SYSTEM, ""
    return Actor(event.actor_id, event.actor_label), (event.body or "").strip()


def open_work_orders(session: Session, case_id: int, other_than: int | None = None) -> int:
    stmt = (sa.select(sa.func.count()).select_from(WorkOrder).join(Task, Task.id == WorkOrder.task_id)
            .where(Task.case_id == case_id, Task.status.in_(OPEN_TASK_STATUSES)))
    if other_than is not None:
        stmt = stmt.where(Task.id != other_than)
    return int(session.scalar(stmt) or 0)


def task_changed(session: Session, task: Task, changes: dict[str, tuple[Any, Any]]) -> None:
    """``task_changed``: a work order just became done and it was the case's last open work order -> the case
    (if open) is resolved, its public note the completion notes, by whoever completed the work order.

    Only work orders count: other open tasks of the case (a department's desk work, say) do not keep it open;
    they stay as they are and the timeline records that the case was resolved with them open (the core's
    ``open_tasks_confirmed``).  Under ``open_tasks_on_resolve = "refuse"`` the case stays open instead.

    The core calls this after its commit, so the resolution is a transaction of its own (``change_status``
    commits).  A context variable keeps the hooks fired by that resolution from starting another one."""
    status = changes.get("status")
    if not status or status[1] != "done" or not is_work_order(task):
        return
    case = task.case
    if case is None or case.status not in OPEN_STATUSES or case.id in _resolving.get():
        return
    if open_work_orders(session, case.id, other_than=task.id):
        return
    by, note = _completion(session, task)  # done from the Tasks panel: no completion notes, maybe a note
    notes = (task.work_order.completion_notes or "").strip() or note or gettext("The work was completed in the field.")
    token = _resolving.set(_resolving.get() | {case.id})
    try:
        change_status(session, case, "resolved", by, note=notes, confirm_open_tasks=True)
    except (CaseError, ConflictError, StaleDataError) as exc:
        session.rollback()
        log.warning("work order #%s done, but case %s stays open: %s", task.id, case.reference, exc)
    finally:
        _resolving.reset(token)


# ---------------------------------------------------------------- a crew's day


def crew_day(session: Session, crew_ids: Iterable[int], day: date) -> list[WorkOrder]:
    """The crews' work orders scheduled for ``day`` (any status) and the open ones of earlier days (overdue),
    earliest day first, open before finished; one query (task, case, service, crew and segment joined)."""
    ids = sorted({int(i) for i in crew_ids})
    if not ids:
        return []
    finished_last = sa.case((Task.status.in_(OPEN_TASK_STATUSES), 0), else_=1)
    stmt = (
        sa.select(WorkOrder)
        .join(WorkOrder.task).join(Task.case)
        .options(contains_eager(WorkOrder.task).contains_eager(Task.case), joinedload(WorkOrder.task, Task.crew),
                 joinedload(WorkOrder.segment))
        .where(Task.crew_id.in_(ids))
        .where(sa.or_(WorkOrder.scheduled_for == day,
                      sa.and_(WorkOrder.scheduled_for < day, Task.status.in_(OPEN_TASK_STATUSES))))
        .order_by(WorkOrder.scheduled_for, finished_last, Task.id)
        .limit(500)
    )
    return list(session.scalars(stmt).unique())


def case_work_orders(session: Session, case_id: int) -> list[WorkOrder]:
    """A case's work orders, oldest first (one query)."""
    stmt = (sa.select(WorkOrder).join(WorkOrder.task).options(contains_eager(WorkOrder.task), joinedload(WorkOrder.task, Task.crew))
            .where(Task.case_id == case_id).order_by(Task.id))
    return list(session.scalars(stmt).unique())


def where(order: WorkOrder) -> tuple[float, float] | None:
    """(lat, long) to show a work order on a map: its case's point, else its street's middle."""
    case = order.task.case
    if case.lat is not None and case.long is not None:
        return case.lat, case.long
    if order.segment is not None:
        return order.segment.mid_lat, order.segment.mid_long
    return None


# ---------------------------------------------------------------- demo


def load_demo_work_orders(session: Session, crews: list[Crew], today: date | None = None, per_crew: int = 3) -> list[Task]:
    """A few work orders for each demo crew (open cases of its department with a location), scheduled today and
    tomorrow; idempotent (nothing is added for a crew that already has work orders)."""
    from core.formats import city_timezone

    today = today or datetime.now(city_timezone()).date()
    made: list[Task] = []
    for crew in crews:
        has_some = session.scalar(sa.select(WorkOrder.task_id).join(WorkOrder.task).where(Task.crew_id == crew.id).limit(1))
        if has_some is not None:
            continue
        taken = sa.select(Task.case_id).join(WorkOrder, WorkOrder.task_id == Task.id)
        cases = session.scalars(
            sa.select(Case).where(Case.department_id == crew.department_id, Case.status.in_(OPEN_STATUSES),
                                  Case.lat.is_not(None), Case.id.not_in(taken))
            .order_by(Case.created_at.desc()).limit(per_crew)
        ).all()
        for i, case in enumerate(cases):
            made.append(create_work_order(session, case, crew=crew, scheduled_for=today + timedelta(days=i // 2),
                                          instructions=gettext("Check the site, fix it, and photograph the result.")))
    return made
