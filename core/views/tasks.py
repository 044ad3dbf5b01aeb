"""Task screens: the Tasks panel of the case page (its forms post here), Cases › Tasks and Catalog › Crews.

Who may do what (core.security): those with full access to a case (its department, dispatchers, admins)
add and edit its tasks; staff of a department that holds a task, its assignee and its crew work that task
(status, notes, photos, assignee and crew within the department) and nothing else of the case.
Every change goes through core.services.tasks, so it lands on the case's timeline.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_appbuilder import expose
from flask_appbuilder.models.sqla.filters import FilterEqual
from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_appbuilder.security.decorators import has_access
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm.exc import StaleDataError
from wtforms import SelectField

from core.extensions import db
from core.formats import city_timezone, format_datetime, timezone_name, to_city_time
from core.i18n_content import localized
from core.models import TASK_STATUSES, Case, CaseEvent, Crew, Department, Task, User
from core.models.base import utcnow
from core.records import Panel, RoleSpec, ViewSpec
from core.security import RelatedCaseScopeFilter, acting_user, can_work_task, case_access, task_scope
from core.services import tasks as task_service
from core.services.cases import Actor, CaseError
from core.views.base import CivicModelView
from core.views.cases import flash_unsaved_text

FIELD_LABELS = {
    "department": _l("Department"), "title": _l("Title"), "instructions": _l("Instructions"), "due_at": _l("Due"),
    "assignee": _l("Assignee"), "crew": _l("Crew"), "status": _l("Status"), "note": _l("Note"), "body": _l("Note"),
    "version": _l("Version"), "action": _l("Action"), "case": _l("Case"), "file": _l("File"),
}
_READ = "can_list|can_show|can_get|can_info|menu_access"
WORK_ACTIONS = ("status", "note", "assign")  # what a task's own department does; "edit" needs the whole case


# ---------------------------------------------------------------- display helpers

def status_label(code: str):
    return TASK_STATUSES.get(code, code)


def user_label(user) -> str:
    if user is None:
        return ""
    name = " ".join(p for p in (user.first_name, user.last_name) if p and p not in ("-", user.username))
    return f"{name} ({user.username})" if name else user.username


def is_overdue(task: Task, now: datetime | None = None) -> bool:
    return task.is_open and task.due_at is not None and task.due_at < (now or utcnow())


def local_input(value: datetime | None) -> str:
    """A stored (naive UTC) time as a ``datetime-local`` input value in the city's time zone."""
    return to_city_time(value).strftime("%Y-%m-%dT%H:%M") if value else ""


def parse_local(text: str | None) -> datetime | None:
    """A ``datetime-local`` value typed in the city's time zone, as stored (naive UTC)."""
    text = (text or "").strip()
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise CaseError({"due_at": [gettext("must be a date and time such as 2026-07-01T09:30")]})
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=city_timezone())
    return moment.astimezone(timezone.utc).replace(tzinfo=None)


def task_event_summary(event: CaseEvent) -> str:
    """The timeline's one-line summary of a task entry: ``#12 Cut and clear the tree: Open → In progress``."""
    data = event.data or {}
    if event.kind == "open_tasks_confirmed":
        return ", ".join(f"#{i}" for i in data.get("open_tasks", []))
    task = db.session.get(Task, data["task"]) if isinstance(data.get("task"), int) else None
    name = f"#{data.get('task', '')} {task.title if task else data.get('title', '')}".strip()
    if event.kind == "task_added":
        return f"{name} ({data.get('department', '')})"
    if event.kind == "task_status_changed":
        return f"{name}: {status_label(data.get('old'))} → {status_label(data.get('new'))}"
    if event.kind == "task_changed":
        fields = data.get("fields", {})
        return f"{name}: " + ", ".join(str(FIELD_LABELS.get(f, f)) for f in sorted(fields))
    return name


def flash_errors(exc: CaseError) -> None:
    for field, messages in exc.errors.items():
        for message in messages:
            flash(gettext("%(field)s: %(message)s", field=FIELD_LABELS.get(field, field), message=message), "danger")


def _pick(wanted: str | None, choices: list) -> Any:
    """The row among ``choices`` whose id was posted; None for an empty value; LookupError for any other."""
    if not wanted:
        return None
    found = {str(row.id): row for row in choices}.get(wanted)
    if found is None:
        raise LookupError
    return found


# ---------------------------------------------------------------- the Tasks panel of the case page

def case_panels(case) -> list[Panel]:
    """The Tasks panel: every task of the case, the forms to work those the user may work, and (for the
    case's department) the form to add one.  Nothing outside a signed-in request (it depends on the reader)."""
    user = acting_user()
    if user is None or not getattr(user, "is_authenticated", False):
        return []
    from core.views.case_page import page_data

    page = page_data(case)
    access = page.access
    if access is None:
        return []
    sm = current_app.appbuilder.sm
    may_act = sm.has_access("can_act", "TaskView")
    tasks = sorted(case.tasks, key=lambda t: t.id)
    if access == "full":
        workable = {t.id for t in tasks}
    else:
        stmt = select(Task.id).where(Task.case_id == case.id, task_scope(user))
        workable = set(db.session.scalars(stmt))
    workable = workable if may_act else set()
    photos: dict[int, list] = {}
    for attachment in sorted(case.attachments, key=lambda a: a.created_at):
        if attachment.task_id:
            photos.setdefault(attachment.task_id, []).append(attachment)
    # The forms' choices come from the page's shared reads: no query per task.
    people = {task.id: (page.task_people(task), page.department_crews(task.department_id)) for task in tasks if task.id in workable}
    can_add = may_act and access == "full" and case.is_open
    departments = page.departments if may_act and access == "full" else []  # the add form, and each task's edit form
    html = render_template(
        "civic/task_panel.html", case=case, tasks=tasks, workable=workable, full=access == "full", can_add=can_add,
        people=people, photos=photos, departments=departments, transitions=task_service.TASK_TRANSITIONS,
        status_label=status_label, user_label=user_label, is_overdue=is_overdue, local_input=local_input, now_utc=utcnow(),
        zone_name=timezone_name(), localized=localized,
    )
    return [Panel(_l("Tasks"), html, order=10)]


# ---------------------------------------------------------------- the list screen and the panel's forms

def _case_link(case) -> Markup:
    return Markup('<a href="{}">{}</a>').format(url_for("CaseView.show", pk=case.id), case.reference)


def _due(value: datetime | None) -> str:
    return format_datetime(value) if value else ""


class TaskView(CivicModelView):
    """Cases › Tasks: the tasks of every case the user may open (filter by department, status, due, person,
    crew); each row leads to its case.  Adding and working tasks are the case page's forms, posted here."""

    datamodel = SQLAInterface(Task)
    base_filters = [["id", RelatedCaseScopeFilter, None]]
    base_permissions = ["can_list", "can_show", "can_act"]
    method_permission_name = {"list": "list", "show": "show", "act": "act", "add_to": "act", "photo": "act"}
    list_title = _l("Tasks")
    show_title = _l("Task")
    list_columns = ["case", "title", "department", "status", "assignee", "crew", "due_at", "updated_at"]
    search_columns = ["status", "department", "due_at", "assignee", "crew", "title"]
    search_form_extra_fields = {"status": SelectField(_l("Status"), choices=list(TASK_STATUSES.items()))}
    order_columns = ["title", "status", "due_at", "updated_at", "created_at"]
    base_order = ("due_at", "asc")
    page_size = 25
    formatters_columns = {
        "case": _case_link, "status": status_label, "assignee": user_label, "due_at": _due,
        "updated_at": format_datetime, "crew": lambda c: c.name if c else "",
    }
    label_columns = {
        "case": _l("Case"), "title": _l("Title"), "department": _l("Department"), "status": _l("Status"),
        "assignee": _l("Assignee"), "crew": _l("Crew"), "due_at": _l("Due"), "updated_at": _l("Updated"),
        "created_at": _l("Created"), "instructions": _l("Instructions"),
    }

    def _task_or_404(self, pk) -> Task:
        try:
            task_id = int(pk)
        except (TypeError, ValueError):
            abort(404)
        if not 0 < task_id < 2**63:
            abort(404)
        task = self.datamodel.get(task_id, self._base_filters)
        if task is None:
            abort(404)
        return task

    def _back(self, task_or_case) -> Any:
        if isinstance(task_or_case, Task):
            return redirect(url_for("CaseView.show", pk=task_or_case.case_id, _anchor=f"task-{task_or_case.id}"))
        return redirect(url_for("CaseView.show", pk=task_or_case.id, _anchor="tasks"))

    @expose("/show/<pk>", methods=["GET"])
    @has_access
    def show(self, pk):
        """A task is shown on its case's page."""
        return self._back(self._task_or_404(pk))

    @expose("/add_to/<int:case_id>", methods=["POST"])
    @has_access
    def add_to(self, case_id: int):
        """Add a task to a case (the case's department, dispatchers, admins)."""
        case = db.session.get(Case, case_id) if 0 < case_id < 2**63 else None
        access = case_access(case) if case is not None else None
        if access is None:
            abort(404)
        if access != "full":
            abort(403, description=gettext("Only the case's department adds tasks to it."))
        form = request.form
        try:
            department = _pick(form.get("department"), list(db.session.scalars(select(Department).where(Department.active.is_(True)))))
        except LookupError:
            department = None
        try:
            assignee, crew = self._people(department, form) if department else (None, None)
            task = task_service.add_task(
                db.session, case, department=department, title=form.get("title", ""), instructions=form.get("instructions", ""),
                due_at=parse_local(form.get("due_at")), assignee=assignee, crew=crew, actor=Actor.of(current_user),
            )
        except CaseError as exc:
            db.session.rollback()
            flash_errors(exc)
            return self._back(case)
        flash(gettext("Task #%(id)s added for %(department)s.", id=task.id, department=task.department.localized_name), "success")
        return self._back(task)

    @staticmethod
    def _people(department: Department, form) -> tuple[User | None, Crew | None]:
        errors: dict[str, list[str]] = {}
        assignee = crew = None
        try:
            assignee = _pick(form.get("assignee"), task_service.assignable_users(db.session, department))
        except LookupError:
            errors["assignee"] = [gettext("choose a member of the task's department or of one of its crews")]
        try:
            crew = _pick(form.get("crew"), task_service.department_crews(db.session, department))
        except LookupError:
            errors["crew"] = [gettext("choose an active crew of the task's department")]
        if errors:
            raise CaseError(errors)
        return assignee, crew

    @expose("/act/<pk>", methods=["POST"])
    @has_access
    def act(self, pk):
        """Work a task: its status, a note, its assignee and crew; "edit" (title, instructions, due, department)
        is for those with the whole case."""
        task = self._task_or_404(pk)
        if not can_work_task(task):
            abort(403, description=gettext("This task belongs to another department."))
        action = request.form.get("action", "")
        if action == "edit" and case_access(task.case) != "full":
            abort(403, description=gettext("Only the case's department changes a task's title, instructions, due date or department."))
        handler = {"status": self._status, "note": self._note, "assign": self._assign, "edit": self._edit}.get(action)
        if handler is None:
            flash(gettext("%(field)s: %(message)s", field=FIELD_LABELS["action"], message=gettext("unknown action")), "danger")
            return self._back(task)
        actor = Actor.of(current_user)
        try:
            if action != "note":  # a note overwrites nothing
                task_service.check_task_version(task, request.form.get("version"))
            message = handler(task, request.form, actor)
        except task_service.TaskConflictError as exc:
            db.session.rollback()
            flash(str(exc), "danger")
            flash_unsaved_text(request.form, FIELD_LABELS)
        except StaleDataError:
            db.session.rollback()
            flash(gettext("This task or its case was changed by someone else at the same moment. Nothing was saved: "
                          "reload the case and apply your change again."), "danger")
            flash_unsaved_text(request.form, FIELD_LABELS)
        except CaseError as exc:
            db.session.rollback()
            flash_errors(exc)
        else:
            flash(message, "success")
        return self._back(task)

    @staticmethod
    def _status(task: Task, form, actor: Actor) -> str:
        new = form.get("status", "")
        task_service.change_task_status(db.session, task, new, actor, note=form.get("note", ""))
        return gettext("Task #%(id)s is now %(status)s.", id=task.id, status=status_label(new))

    @staticmethod
    def _note(task: Task, form, actor: Actor) -> str:
        task_service.add_task_note(db.session, task, form.get("body", ""), actor)
        return gettext("Note added to task #%(id)s.", id=task.id)

    def _assign(self, task: Task, form, actor: Actor) -> str:
        assignee, crew = self._people(task.department, form)
        task_service.update_task(db.session, task, actor, assignee=assignee, crew=crew)
        return gettext("Task #%(id)s: assignee and crew saved.", id=task.id)

    @staticmethod
    def _edit(task: Task, form, actor: Actor) -> str:
        wanted = form.get("department", "")
        department = db.session.get(Department, int(wanted)) if wanted.isdigit() and len(wanted) < 10 else None
        task_service.update_task(
            db.session, task, actor, title=form.get("title", ""), instructions=form.get("instructions", ""),
            due_at=parse_local(form.get("due_at")), department=department,
        )
        return gettext("Task #%(id)s saved.", id=task.id)

    @expose("/photo/<pk>", methods=["POST"])
    @has_access
    def photo(self, pk):
        """A photo (or PDF) of a task's work: staff only, checked and cleaned like every attachment."""
        task = self._task_or_404(pk)
        if not can_work_task(task):
            abort(403, description=gettext("This task belongs to another department."))
        upload = request.files.get("file")
        if upload is None or not upload.filename:
            flash(gettext("%(field)s: choose a file to upload", field=FIELD_LABELS["file"]), "danger")
            return self._back(task)
        try:
            attachment = task_service.add_task_photo(db.session, task, upload, upload.filename, Actor.of(current_user))
        except CaseError as exc:
            flash_errors(exc)
        except (OSError, SQLAlchemyError):  # the attachment service left nothing behind
            db.session.rollback()
            flash(gettext("%(field)s: could not be stored; try again, or tell the administrator if it keeps failing", field=FIELD_LABELS["file"]), "danger")
        else:
            flash(gettext("Attached %(name)s to task #%(id)s.", name=attachment.original_name, id=task.id), "success")
        return self._back(task)


class CrewView(CivicModelView):
    """Catalog › Crews: a department's field crews (admins edit, dispatchers read); deactivated, never deleted."""

    datamodel = SQLAInterface(Crew)
    base_permissions = ["can_list", "can_show", "can_add", "can_edit"]
    list_title = _l("Crews")
    show_title = _l("Crew")
    add_title = _l("New crew")
    edit_title = _l("Edit crew")
    list_columns = ["name", "department", "members", "active"]
    show_columns = add_columns = edit_columns = ["name", "department", "members", "active"]
    search_columns = ["name", "department", "active"]
    order_columns = ["name"]
    base_order = ("name", "asc")
    add_form_query_rel_fields = edit_form_query_rel_fields = {"department": [["active", FilterEqual, True]]}
    formatters_columns = {"members": lambda users: ", ".join(sorted(u.username for u in users or []))}
    label_columns = {"name": _l("Name"), "department": _l("Department"), "members": _l("Members"), "active": _l("Active")}


# ---------------------------------------------------------------- registration

def view_specs() -> list[ViewSpec]:
    return [
        ViewSpec("Tasks", TaskView, _l("Tasks"), "Cases", _l("Cases"), "fa-tasks"),
        ViewSpec("Crews", CrewView, _l("Crews"), "Catalog", _l("Catalog"), "fa-users"),
    ]


def role_specs() -> list[RoleSpec]:
    """Added to the core's roles (Admin already holds everything)."""
    work = "can_list|can_show|can_act|menu_access"
    return [
        RoleSpec("Dispatcher", (("TaskView|TaskApi|Tasks", ".*"), ("CrewView|Crews", _READ))),
        RoleSpec("Department staff", (("TaskView|Tasks", work), ("TaskApi", "can_get|can_info|can_post|can_put"))),
        RoleSpec("Field crew", (("TaskView|Tasks", work), ("TaskApi", "can_get|can_info|can_put"))),
    ]
