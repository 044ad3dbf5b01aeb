"""Tasks on a case: the work each department (and optionally a person or a crew) does for it.

The one path for every screen, API and template, like the case services: each
change is checked, goes on the case's timeline as an internal entry carrying
``task_id``, moves the case's ``updated_at`` and, after the commit, fires
``task_changed``.  Whether the user may make the change is the caller's check
(``core.security.can_work_task`` / ``case_access``), as for cases.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone
from typing import Any

from flask import current_app
from flask_babel import gettext, ngettext
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.models import CLOSED_STATUSES, OPEN_TASK_STATUSES, TASK_STATUSES, Case, CaseEvent, Crew, Department, Task, User
from core.models.base import utcnow
from core.services.cases import MAX_DESCRIPTION, SYSTEM, Actor, CaseError, too_long

log = logging.getLogger(__name__)

MAX_TITLE = 200
TASK_TRANSITIONS = {
    "open": ("in_progress", "blocked", "done", "cancelled"),
    "in_progress": ("open", "blocked", "done", "cancelled"),
    "blocked": ("open", "in_progress", "cancelled"),
    "done": ("open",),  # reopened: the work was not finished after all
    "cancelled": ("open",),
}
FINISHED = frozenset({"done", "cancelled"})
_UNSET: Any = object()


class TaskConflictError(Exception):
    """The task changed since the editor loaded it; nothing was written."""

    def __init__(self, task: Task, expected: int):
        super().__init__(
            gettext(
                "task #%(id)s was changed by someone else (you edited version %(expected)s, it is now version "
                "%(current)s); reload it and apply your change again",
                id=task.id, expected=expected, current=task.version,
            )
        )
        self.task, self.expected = task, expected


class OpenTasksError(CaseError):
    """Resolving or closing a case whose tasks are still open: refused, or waiting for a confirmation."""

    def __init__(self, tasks: list[Task], needs_confirmation: bool):
        names = ", ".join(task_label(t) for t in tasks)
        if needs_confirmation:
            field = "confirm_open_tasks"
            message = ngettext(
                "%(num)d task is still open (%(tasks)s): confirm to resolve the case anyway",
                "%(num)d tasks are still open (%(tasks)s): confirm to resolve the case anyway",
                len(tasks), tasks=names,
            )
        else:
            field = "status"
            message = ngettext(
                "%(num)d task is still open (%(tasks)s): finish or cancel it before the case is resolved",
                "%(num)d tasks are still open (%(tasks)s): finish or cancel them before the case is resolved",
                len(tasks), tasks=names,
            )
        super().__init__({field: [message]})
        self.tasks, self.needs_confirmation = tasks, needs_confirmation


def task_label(task: Task) -> str:
    """``#12 Cut and clear the tree (PW)``: how messages and the timeline name a task."""
    return f"#{task.id} {task.title} ({task.department.code})"


def _pm():
    return current_app.extensions["civic"].pm


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def _name(value: Any) -> Any:
    """How a related row is recorded on the timeline: department code, username, crew name."""
    if isinstance(value, Department):
        return value.code
    if isinstance(value, Crew):
        return value.name
    if value is not None and hasattr(value, "username"):
        return value.username
    return _iso(value)


def _event(task: Task, kind: str, actor: Actor, body: str = "", at: datetime | None = None, **data) -> CaseEvent:
    """An internal timeline entry about one task (the task must have its id: flush first)."""
    event = CaseEvent(case=task.case, task_id=task.id, kind=kind, actor_id=actor.user_id, actor_label=actor.label,
                      body=body, public=False, data={"task": task.id, **data})
    if at is not None:
        event.created_at = at
    return event


def check_task_version(task: Task, expected: Any) -> None:
    """Refuse a change made on a stale copy of the task."""
    try:
        expected_int = int(expected)
    except (TypeError, ValueError):
        raise CaseError({"version": [gettext("is required: send the version of the task you edited")]})
    if expected_int != task.version:
        raise TaskConflictError(task, expected_int)


# ---------------------------------------------------------------- who may be given a task

def department_crews(session: Session, department: Department) -> list[Crew]:
    """The department's active crews, by name."""
    stmt = select(Crew).where(Crew.department_id == department.id, Crew.active.is_(True)).order_by(Crew.name)
    return list(session.scalars(stmt))


def assignable_users(session: Session, department: Department) -> list[User]:
    """Who a task of the department may be given to: its active staff and the members of its active crews."""
    users = {u.id: u for u in department.staff if u.active}
    for crew in department_crews(session, department):
        users.update({u.id: u for u in crew.members if u.active})
    return sorted(users.values(), key=lambda u: u.username.lower())


def _check_people(session: Session, department: Department | None, assignee, crew, errors: dict[str, list[str]]) -> None:
    if department is None:
        return
    if assignee is not None and assignee.id not in {u.id for u in assignable_users(session, department)}:
        errors["assignee"] = [gettext("%(name)s does not work for department %(dept)s", name=assignee.username, dept=department.code)]
    if crew is not None and (crew.department_id != department.id or not crew.active):
        errors["crew"] = [gettext("crew %(crew)s is not an active crew of department %(dept)s", crew=crew.name, dept=department.code)]


def _clean_text(value: Any, field: str, limit: int, errors: dict[str, list[str]], required: bool = False) -> str:
    text = (value or "").strip() if isinstance(value, str) or value is None else None
    if text is None:
        errors[field] = [gettext("must be text")]
        return ""
    if "\x00" in text:  # PostgreSQL cannot store it
        errors[field] = [gettext("must not contain NUL characters")]
    elif required and not text:
        errors[field] = [gettext("is required")]
    elif len(text) > limit:
        errors[field] = [too_long(text, limit)]
    return text


def _check_due(value: Any, errors: dict[str, list[str]]) -> datetime | None:
    """A due date as stored: naive UTC (an aware datetime is converted)."""
    if value is None:
        return None
    if not isinstance(value, datetime):
        errors["due_at"] = [gettext("must be a date and time such as 2026-07-01T09:30")]
        return None
    return value if value.tzinfo is None else value.astimezone(timezone.utc).replace(tzinfo=None)


# ---------------------------------------------------------------- adding

def _new_task(session: Session, case: Case, *, department, title, instructions, due_at, assignee, crew,
              actor: Actor, template: str | None, at: datetime) -> Task:
    """Check and add a task with its timeline entry; no commit, no hook."""
    errors: dict[str, list[str]] = {}
    if not isinstance(department, Department) or not department.active:
        errors["department"] = [gettext("choose an active department")]
        department = None
    title = _clean_text(title, "title", MAX_TITLE, errors, required=True)
    instructions = _clean_text(instructions, "instructions", MAX_DESCRIPTION, errors)
    due_at = _check_due(due_at, errors)
    _check_people(session, department, assignee, crew, errors)
    if case.status in CLOSED_STATUSES:
        errors["case"] = [gettext("case %(reference)s is closed; reopen it before adding tasks", reference=case.reference)]
    if errors:
        raise CaseError(errors)
    task = Task(
        case=case, department=department, title=title, instructions=instructions, status="open", due_at=due_at,
        assignee=assignee, crew=crew, template=template, created_by_id=actor.user_id, created_at=at, updated_at=at,
    )
    session.add(task)
    session.flush()
    data = {k: v for k, v in _created(task).items() if k != "status"}
    session.add(_event(task, "task_added", actor, body=title, at=at, **{k: new for k, (_, new) in data.items()}, template=template))
    case.updated_at = max(case.updated_at or at, at)
    return task


def _created(task: Task) -> dict[str, tuple[Any, Any]]:
    """A new task as ``task_changed`` changes: every field set, from None."""
    values = {"status": task.status, "department": _name(task.department), "title": task.title,
              "assignee": _name(task.assignee), "crew": _name(task.crew), "due_at": _iso(task.due_at)}
    return {k: (None, v) for k, v in values.items() if v is not None}


def add_task(session: Session, case: Case, *, department: Department | None, title: str, actor: Actor = SYSTEM,
             instructions: str = "", due_at: datetime | None = None, assignee: User | None = None,
             crew: Crew | None = None) -> Task:
    """A new task on the case for a department (optionally a person of it, or one of its crews)."""
    task = _new_task(session, case, department=department, title=title, instructions=instructions, due_at=due_at,
                     assignee=assignee, crew=crew, actor=actor, template=None, at=utcnow())
    session.commit()
    _pm().hook.task_changed(task=task, changes=_created(task))
    return task


# ---------------------------------------------------------------- changing

def update_task(session: Session, task: Task, actor: Actor, *, expected_version: Any = None, title: Any = _UNSET,
                instructions: Any = _UNSET, due_at: Any = _UNSET, department: Any = _UNSET, assignee: Any = _UNSET,
                crew: Any = _UNSET) -> dict[str, tuple[Any, Any]]:
    """Change the fields given (leave out what does not change); returns the changes made.

    A new department drops an assignee or a crew that does not belong to it (unless new ones are given)."""
    if expected_version is not None:
        check_task_version(task, expected_version)
    errors: dict[str, list[str]] = {}
    wanted: dict[str, Any] = {}
    if title is not _UNSET:
        wanted["title"] = _clean_text(title, "title", MAX_TITLE, errors, required=True)
    if instructions is not _UNSET:
        wanted["instructions"] = _clean_text(instructions, "instructions", MAX_DESCRIPTION, errors)
    if due_at is not _UNSET:
        wanted["due_at"] = _check_due(due_at, errors)
    target = task.department
    if department is not _UNSET:
        if not isinstance(department, Department) or not department.active:
            errors["department"] = [gettext("choose an active department")]
        else:
            target = wanted["department"] = department
    if assignee is not _UNSET:
        wanted["assignee"] = assignee
    if crew is not _UNSET:
        wanted["crew"] = crew
    if "department" in wanted and target.id != task.department_id:
        fits = {u.id for u in assignable_users(session, target)}
        if "assignee" not in wanted and task.assignee is not None and task.assignee_id not in fits:
            wanted["assignee"] = None
        if "crew" not in wanted and task.crew is not None and task.crew.department_id != target.id:
            wanted["crew"] = None
    _check_people(session, target, wanted.get("assignee"), wanted.get("crew"), errors)
    if errors:
        raise CaseError(errors)
    changes = {}
    for name, value in wanted.items():
        old = getattr(task, name)
        if _name(old) != _name(value):
            changes[name] = (_name(old), _name(value))
            setattr(task, name, value)
    if not changes:
        return changes
    now = utcnow()
    task.updated_at = now
    task.case.updated_at = now
    session.add(_event(task, "task_changed", actor, fields={k: [o, n] for k, (o, n) in changes.items()}))
    session.commit()
    _pm().hook.task_changed(task=task, changes=changes)
    return changes


def check_task_status(task: Task, new: Any, note: Any = "") -> str:
    """Refuse a status the task cannot move to (CaseError naming the field); returns the cleaned note."""
    errors: dict[str, list[str]] = {}
    note = _clean_text(note, "note", MAX_DESCRIPTION, errors)
    old = task.status
    if new not in TASK_STATUSES:
        errors["status"] = [gettext("must be one of: %(choices)s", choices=", ".join(TASK_STATUSES))]
    elif new != old and new not in TASK_TRANSITIONS[old]:
        errors["status"] = [gettext("cannot go from %(old)s to %(new)s; allowed: %(allowed)s", old=old, new=new,
                                    allowed=", ".join(TASK_TRANSITIONS[old]))]
    elif new == "blocked" and new != old and not note and "note" not in errors:
        errors["note"] = [gettext("say what blocks the task")]
    if errors:
        raise CaseError(errors)
    return note


def change_task_status(session: Session, task: Task, new: str, actor: Actor, note: str = "", expected_version: Any = None) -> Task:
    """Move a task through open, in progress, blocked, done and cancelled; a note says why (required to block)."""
    if expected_version is not None:
        check_task_version(task, expected_version)
    note = check_task_status(task, new, note)
    old = task.status
    if new == old:
        return task
    now = utcnow()
    task.status = new
    if new == "in_progress" and task.started_at is None:
        task.started_at = now
    task.completed_at = now if new in FINISHED else None
    task.updated_at = now
    task.case.updated_at = now
    session.add(_event(task, "task_status_changed", actor, body=note, old=old, new=new))
    session.commit()
    _pm().hook.task_changed(task=task, changes={"status": (old, new)})
    return task


def add_task_note(session: Session, task: Task, body: str, actor: Actor) -> CaseEvent:
    """An internal note about the task's work, on the case's timeline (the resident never sees it)."""
    errors: dict[str, list[str]] = {}
    body = _clean_text(body, "body", MAX_DESCRIPTION, errors)
    if not body and not errors:
        errors["body"] = [gettext("a note cannot be empty")]
    if errors:
        raise CaseError(errors)
    event = _event(task, "task_note", actor, body=body)
    task.case.updated_at = utcnow()
    session.add(event)
    from core.services.mentions import record_mentions  # "@UTIL", "@jdoe" in a task note notify them too

    record_mentions(session, event, actor.user_id)
    session.commit()
    _pm().hook.task_changed(task=task, changes={"note": (None, "task_note")})
    return event


def add_task_photo(session: Session, task: Task, upload: Any, filename: str | None, actor: Actor):
    """A photo (or PDF) of the task's work: checked and cleaned like every attachment, staff only."""
    from core.services.attachments import store_attachment

    attachment = store_attachment(session, task.case, upload, filename, actor, public=False, task=task)
    _pm().hook.task_changed(task=task, changes={"photo": (None, attachment.original_name)})
    return attachment


# ---------------------------------------------------------------- resolving a case with open tasks

def open_tasks_rule() -> str:
    """``[cases] open_tasks_on_resolve``: "confirm" (the default) or "refuse"."""
    return current_app.extensions["civic"].config.cases.get("open_tasks_on_resolve", "confirm")


def open_tasks(session: Session, case: Case) -> list[Task]:
    stmt = select(Task).where(Task.case_id == case.id, Task.status.in_(OPEN_TASK_STATUSES)).order_by(Task.id)
    return list(session.scalars(stmt)) if case.id is not None else []


def check_open_tasks(session: Session, case: Case, new_status: str, confirmed: bool) -> list[Task]:
    """The open tasks a move to ``new_status`` leaves open (recorded by the caller), or OpenTasksError.

    Open tasks are left as they are: a department may still have work to finish after the resident's
    problem is solved (Utilities restoring a line after the tree is cleared)."""
    if new_status not in CLOSED_STATUSES or case.status in CLOSED_STATUSES:
        return []
    pending = open_tasks(session, case)
    if not pending:
        return []
    if open_tasks_rule() == "refuse":
        raise OpenTasksError(pending, needs_confirmation=False)
    if not confirmed:
        raise OpenTasksError(pending, needs_confirmation=True)
    return pending


def open_tasks_event(case: Case, tasks: list[Task], new_status: str, actor: Actor) -> CaseEvent:
    """The timeline's record that the user confirmed closing the case with these tasks open."""
    return CaseEvent(case=case, kind="open_tasks_confirmed", actor_id=actor.user_id, actor_label=actor.label, public=False,
                     body=", ".join(task_label(t) for t in tasks), data={"open_tasks": [t.id for t in tasks], "status": new_status})


# ---------------------------------------------------------------- templates from the city config

def task_templates(service_code: str, rule_name: str | None) -> list[tuple[str, dict[str, Any]]]:
    """(template code, template) for a new case: its service's, then those of the routing rule that routed it."""
    config = current_app.extensions["civic"].config
    found: list[tuple[str, dict[str, Any]]] = []
    service = next((s for s in config.services if s["code"] == service_code), None)
    for j, template in enumerate((service or {}).get("tasks") or []):
        found.append((f"service:{service_code}#{j + 1}"[:64], template))
    for i, rule in enumerate(config.routing):
        if (rule.get("name") or f"routing[{i}]") == rule_name:
            found.extend((f"routing:{rule_name}#{j + 1}"[:64], t) for j, t in enumerate(rule.get("tasks") or []))
            break
    return found


def apply_task_templates(session: Session, case: Case, rule_name: str | None, actor: Actor, at: datetime) -> list[Task]:
    """Inside create_case: the tasks the config gives a new case (same transaction; no commit, no hook).

    A template whose department is missing or inactive in the database is skipped with a warning in the log:
    the resident's report must never fail for it."""
    tasks: list[Task] = []
    seen: set[tuple[str, str]] = set()
    for code, template in task_templates(case.service_type.code, rule_name):
        key = (template["department"], template["title"])
        if key in seen:
            continue
        seen.add(key)
        department = session.scalar(select(Department).where(Department.code == template["department"]))
        if department is None or not department.active:
            log.warning("task template %s: department %s is not active in the database (run `civic config sync`)", code, template["department"])
            continue
        due = at + timedelta(hours=template["due_hours"]) if template.get("due_hours") else None
        tasks.append(_new_task(session, case, department=department, title=template["title"], instructions=template.get("instructions") or "",
                               due_at=due, assignee=None, crew=None, actor=actor, template=code, at=at))
    return tasks


def announce_new_tasks(tasks: list[Task]) -> None:
    """``task_changed`` for tasks made inside a transaction, once it is committed."""
    for task in tasks:
        _pm().hook.task_changed(task=task, changes=_created(task))
