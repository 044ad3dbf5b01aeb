"""Department queues and workload: what nobody holds yet, and how much each person holds.

A department's queue is its open cases with no assignee and its open tasks with neither an assignee
nor a crew, in one list: overdue first (a case's ``expected_at``, a task's ``due_at``, in the past),
then by due date (items without one after those with one), then oldest first.  The list is a
``UNION ALL`` of two indexed selects, ordered and paged in SQL; the counts are one ``GROUP BY``.

The workload is, per person, the department's open cases and open tasks assigned to them, how many
of each are overdue and the oldest item's creation time (``GROUP BY`` assignee); crews holding tasks
get a row each.  Both count the department's own items only.

A supervisor assigns items of the queue to a person of the department: a case through
``core.services.cases.assign``, a task through ``core.services.tasks.update_task`` (each with its
timeline entry and hook).  An item somebody took in the meantime is skipped, never re-assigned.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from flask_babel import gettext
from sqlalchemy import case as when
from sqlalchemy import func, literal_column, select, union_all
from sqlalchemy.orm import Session, joinedload
from sqlalchemy.orm.exc import StaleDataError

from core.models import OPEN_STATUSES, OPEN_TASK_STATUSES, Case, Crew, Department, Task, User
from core.models.base import utcnow
from core.services import cases as case_service
from core.services.cases import Actor, CaseError
from core.services.tasks import update_task

PAGE_SIZE = 50
MAX_ASSIGN_AT_ONCE = 100


@dataclass(frozen=True)
class QueueEntry:
    kind: str  # "case" or "task"
    id: int
    due_at: datetime | None
    created_at: datetime
    item: object  # the Case or the Task

    @property
    def case(self) -> Case:
        return self.item if self.kind == "case" else self.item.case


@dataclass
class QueueCounts:
    cases: int = 0
    tasks: int = 0
    overdue_cases: int = 0
    overdue_tasks: int = 0
    median_created_at: datetime | None = None

    @property
    def total(self) -> int:
        return self.cases + self.tasks


@dataclass
class WorkloadRow:
    name: str
    user_id: int | None = None
    crew_id: int | None = None
    open_cases: int = 0
    overdue_cases: int = 0
    open_tasks: int = 0
    overdue_tasks: int = 0
    oldest: datetime | None = None

    @property
    def total(self) -> int:
        return self.open_cases + self.open_tasks


@dataclass
class AssignResult:
    assigned: list[str] = field(default_factory=list)  # case references, task titles (with their case's reference)
    skipped: list[str] = field(default_factory=list)  # no longer in the queue (taken meanwhile, closed, moved)


# ---------------------------------------------------------------- the queue

def _queue_union(department_id: int):
    cases = select(
        literal_column("'case'").label("kind"), Case.id.label("id"), Case.expected_at.label("due_at"), Case.created_at.label("created_at")
    ).where(Case.department_id == department_id, Case.assignee_id.is_(None), Case.status.in_(sorted(OPEN_STATUSES)))
    tasks = select(
        literal_column("'task'").label("kind"), Task.id.label("id"), Task.due_at.label("due_at"), Task.created_at.label("created_at")
    ).where(Task.department_id == department_id, Task.assignee_id.is_(None), Task.crew_id.is_(None), Task.status.in_(sorted(OPEN_TASK_STATUSES)))
    return union_all(cases, tasks).subquery("queue")


def queue_counts(session: Session, department_id: int, now: datetime | None = None) -> QueueCounts:
    """How many cases and tasks wait, how many are overdue, and the median item's creation time."""
    now = now or utcnow()
    q = _queue_union(department_id)
    overdue = func.sum(when((q.c.due_at < now, 1), else_=0))
    counts = QueueCounts()
    for kind, n, late in session.execute(select(q.c.kind, func.count(), overdue).group_by(q.c.kind)):
        if kind == "case":
            counts.cases, counts.overdue_cases = n, int(late or 0)
        else:
            counts.tasks, counts.overdue_tasks = n, int(late or 0)
    if counts.total:
        middle = select(q.c.created_at).order_by(q.c.created_at).offset((counts.total - 1) // 2).limit(1)
        counts.median_created_at = session.scalar(middle)
    return counts


def queue_page(session: Session, department_id: int, page: int = 0, page_size: int = PAGE_SIZE, now: datetime | None = None) -> list[QueueEntry]:
    """One page of the queue, overdue first, then by due date, then oldest; the items loaded in two queries."""
    now = now or utcnow()
    q = _queue_union(department_id)
    order = (
        when((q.c.due_at < now, 0), else_=1),
        when((q.c.due_at.is_(None), 1), else_=0),
        q.c.due_at,
        q.c.created_at,
        q.c.kind,
        q.c.id,
    )
    rows = session.execute(select(q.c.kind, q.c.id, q.c.due_at, q.c.created_at).order_by(*order).offset(page * page_size).limit(page_size)).all()
    case_ids = [r.id for r in rows if r.kind == "case"]
    task_ids = [r.id for r in rows if r.kind == "task"]
    cases = {c.id: c for c in session.scalars(select(Case).where(Case.id.in_(case_ids)))} if case_ids else {}
    tasks = {}
    if task_ids:
        stmt = select(Task).where(Task.id.in_(task_ids)).options(joinedload(Task.case))
        tasks = {t.id: t for t in session.scalars(stmt).unique()}
    out = []
    for r in rows:
        item = cases.get(r.id) if r.kind == "case" else tasks.get(r.id)
        if item is not None:
            out.append(QueueEntry(r.kind, r.id, r.due_at, r.created_at, item))
    return out


# ---------------------------------------------------------------- who may be given work

def department_people(department: Department) -> list[User]:
    """The active staff of the department, by name."""
    return sorted((u for u in department.staff if u.active), key=lambda u: ((u.first_name or "").lower(), (u.last_name or "").lower(), u.username))


# ---------------------------------------------------------------- workload

def workload(session: Session, department: Department, now: datetime | None = None) -> list[WorkloadRow]:
    """Per person of the department (and per crew holding tasks): open and overdue cases and tasks, oldest item."""
    now = now or utcnow()
    rows: dict[tuple[str, int], WorkloadRow] = {}
    for user in department_people(department):
        rows[("user", user.id)] = WorkloadRow(user.username, user_id=user.id)

    def late(column):
        return func.sum(when((column < now, 1), else_=0))

    case_stmt = (
        select(Case.assignee_id, func.count(), late(Case.expected_at), func.min(Case.created_at))
        .where(Case.department_id == department.id, Case.assignee_id.is_not(None), Case.status.in_(sorted(OPEN_STATUSES)))
        .group_by(Case.assignee_id)
    )
    task_stmt = (
        select(Task.assignee_id, Task.crew_id, func.count(), late(Task.due_at), func.min(Task.created_at))
        .where(Task.department_id == department.id, Task.status.in_(sorted(OPEN_TASK_STATUSES)),
               (Task.assignee_id.is_not(None)) | (Task.crew_id.is_not(None)))
        .group_by(Task.assignee_id, Task.crew_id)
    )
    case_counts = session.execute(case_stmt).all()
    task_counts = session.execute(task_stmt).all()
    missing_users = {r[0] for r in case_counts} | {r[0] for r in task_counts if r[0] is not None}
    missing_users -= {key[1] for key in rows if key[0] == "user"}
    if missing_users:  # assignees from outside the department (a dispatcher): listed too
        for user in session.scalars(select(User).where(User.id.in_(sorted(missing_users)))):
            rows[("user", user.id)] = WorkloadRow(user.username, user_id=user.id)
    crew_ids = {r[1] for r in task_counts if r[0] is None and r[1] is not None}
    if crew_ids:
        for crew in session.scalars(select(Crew).where(Crew.id.in_(sorted(crew_ids)))):
            rows[("crew", crew.id)] = WorkloadRow(crew.name, crew_id=crew.id)

    def oldest(row: WorkloadRow, at: datetime | None) -> None:
        if at is not None and (row.oldest is None or at < row.oldest):
            row.oldest = at

    for user_id, n, overdue, first in case_counts:
        row = rows[("user", user_id)]
        row.open_cases, row.overdue_cases = n, int(overdue or 0)
        oldest(row, first)
    for user_id, crew_id, n, overdue, first in task_counts:
        row = rows[("user", user_id)] if user_id is not None else rows[("crew", crew_id)]
        row.open_tasks += n
        row.overdue_tasks += int(overdue or 0)
        oldest(row, first)
    people = sorted((r for r in rows.values() if r.user_id is not None), key=lambda r: r.name.lower())
    crews = sorted((r for r in rows.values() if r.crew_id is not None), key=lambda r: r.name.lower())
    return people + crews


# ---------------------------------------------------------------- assigning from the queue

def parse_items(values: list[str]) -> list[tuple[str, int]]:
    """``case:12`` / ``task:7`` from the queue's checkboxes; CaseError naming the field for anything else."""
    items: list[tuple[str, int]] = []
    for value in values:
        kind, _, number = (value or "").partition(":")
        if kind not in ("case", "task") or not number.isdigit() or not 0 < int(number) < 2**63:
            raise CaseError({"items": [gettext("“%(value)s” is not an item of the queue", value=(value or "")[:40])]})
        if (kind, int(number)) not in items:
            items.append((kind, int(number)))
    if not items:
        raise CaseError({"items": [gettext("select at least one case or task")]})
    if len(items) > MAX_ASSIGN_AT_ONCE:
        raise CaseError({"items": [gettext("select at most %(max)s items at once", max=MAX_ASSIGN_AT_ONCE)]})
    return items


def assign_items(session: Session, department: Department, user: User | None, items: list[tuple[str, int]], actor: Actor) -> AssignResult:
    """Give each selected item of the department's queue to ``user`` (a person of the department).

    Each case goes through ``core.services.cases.assign`` (timeline, ``case_updated``); each task through
    ``core.services.tasks.update_task`` (timeline, ``task_changed``).  Items no longer in the queue (taken by
    someone, closed, moved) are skipped.
    """
    if user is None or not user.active or user not in department.staff:
        raise CaseError({"assignee": [gettext("choose a person of %(department)s", department=department.localized_name)]})
    result = AssignResult()
    case_ids = [i for kind, i in items if kind == "case"]
    task_ids = [i for kind, i in items if kind == "task"]
    cases = {c.id: c for c in session.scalars(select(Case).where(Case.id.in_(case_ids)))} if case_ids else {}
    tasks = {t.id: t for t in session.scalars(select(Task).where(Task.id.in_(task_ids)))} if task_ids else {}
    for kind, item_id in items:
        if kind == "case":
            case = cases.get(item_id)
            if case is None or case.department_id != department.id:  # not the department's: nothing said about it
                result.skipped.append(f"#{item_id}")
                continue
            if case.assignee_id is not None or not case.is_open:
                result.skipped.append(case.reference)
                continue
            reference = case.reference
            try:
                case_service.assign(session, case, user, actor)
            except StaleDataError:  # changed by someone else between our read and our write
                session.rollback()
                result.skipped.append(reference)
                continue
            result.assigned.append(reference)
        else:
            task = tasks.get(item_id)
            if task is None or task.department_id != department.id:
                result.skipped.append(f"#{item_id}")
                continue
            label = f"{task.title} ({task.case.reference})"
            if task.assignee_id is not None or task.crew_id is not None or not task.is_open:
                result.skipped.append(label)
                continue
            try:
                update_task(session, task, actor, assignee=user)
            except StaleDataError:
                session.rollback()
                result.skipped.append(label)
                continue
            result.assigned.append(label)
    return result
