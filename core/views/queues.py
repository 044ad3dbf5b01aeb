"""Department queues (menu Cases › Queue) and workload (Cases › Workload).

Department staff see the queue and workload of their departments, read-only; a supervisor (role
"Supervisor", which includes "Department staff") also assigns: select items, pick a person of the
department, "Assign" (one POST with its CSRF token).  Dispatchers and admins pick any department and
assign too.  Field crews have no queue: their work comes assigned.  The lists and counts are in
``core.services.queues``.
"""
from __future__ import annotations

from datetime import datetime, timezone

from babel.dates import format_timedelta
from flask import abort, flash, redirect, request, url_for
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select

from core.extensions import db
from core.formats import format_datetime, format_locale, format_number
from core.i18n_content import localized
from core.models import Department
from core.models.base import utcnow
from core.records import Panel, RoleSpec, ViewSpec
from core.security import acting_user, sees_all_cases, user_department_ids
from core.services import queues as service
from core.services.cases import Actor, CaseError

QUEUE_VIEWS = "QueueView|WorkloadView|Queue|Workload"
FIELD_LABELS = {"items": _l("Selection"), "assignee": _l("Assignee"), "department": _l("Department")}


def departments_for_user() -> list[Department]:
    """The departments whose queue the user may open: their own; every active one for dispatchers and admins."""
    stmt = select(Department).where(Department.active.is_(True))
    if not sees_all_cases():
        stmt = stmt.where(Department.id.in_(user_department_ids(acting_user())))
    return sorted(db.session.scalars(stmt), key=lambda d: d.localized_name.lower())


def chosen_department(departments: list[Department], wanted: str | None, required: bool = False) -> Department | None:
    """The department asked for (400 when malformed or missing but required, 404 when not one of the user's);
    else the first of them."""
    if wanted in (None, "") and not required:
        return departments[0] if departments else None
    if not (wanted or "").isdigit() or len(wanted) > 9:
        abort(400, description=gettext("%(field)s: %(message)s", field=gettext("Department"), message=gettext("must be a department number")))
    found = next((d for d in departments if d.id == int(wanted)), None)
    if found is None:
        abort(404)
    return found


def age(value: datetime | None, now: datetime) -> str:
    """``3 days`` / ``3 jours``: how long ago, without "ago"."""
    if value is None:
        return ""
    return format_timedelta(now - value, locale=format_locale())


def is_overdue(due: datetime | None, now: datetime) -> bool:
    return due is not None and due < now


class QueueView(BaseView):
    """The department's unassigned open cases and tasks, overdue first; supervisors assign from here."""

    route_base = "/queue"
    default_view = "index"
    base_permissions = ["can_list", "can_assign"]
    method_permission_name = {"index": "list"}

    def _page_arg(self) -> int:
        page = request.args.get("page", "0")
        if not page.isdigit() or len(page) > 6:
            abort(400, description=gettext("%(field)s: must be a page number", field=gettext("Page")))
        return int(page)

    @expose("/")
    @has_access
    def index(self):
        departments = departments_for_user()
        department = chosen_department(departments, request.args.get("department"))
        page = self._page_arg()
        now = utcnow()
        counts = service.queue_counts(db.session, department.id, now) if department else service.QueueCounts()
        entries = service.queue_page(db.session, department.id, page, service.PAGE_SIZE, now) if department else []
        pages = max(1, -(-counts.total // service.PAGE_SIZE))
        can_assign = self.appbuilder.sm.has_access("can_assign", "QueueView")
        return self.render_template(
            "civic/queue.html",
            title=gettext("Queue"),
            departments=departments, department=department, counts=counts, entries=entries,
            page=page, pages=pages, can_assign=can_assign and department is not None,
            people=service.department_people(department) if department and can_assign else [],
            median_age=age(counts.median_created_at, now), now_utc=now, age=age, is_overdue=is_overdue,
            localized=localized, format_number=format_number, format_datetime=format_datetime,
        )

    @expose("/assign", methods=["POST"])
    @has_access
    def assign(self):
        """Give the selected items to one person of the department, each with its timeline entry."""
        department = chosen_department(departments_for_user(), request.form.get("department"), required=True)
        page = request.form.get("page", "")
        back = redirect(url_for(".index", department=department.id, page=int(page) if page.isdigit() and len(page) <= 6 else 0))
        try:
            items = service.parse_items(request.form.getlist("item"))
            wanted = request.form.get("assignee", "")
            user = next((u for u in department.staff if str(u.id) == wanted), None)
            result = service.assign_items(db.session, department, user, items, Actor.of(current_user))
        except CaseError as exc:
            db.session.rollback()
            for field, messages in exc.errors.items():
                for message in messages:
                    flash(gettext("%(field)s: %(message)s", field=FIELD_LABELS.get(field, field), message=message), "danger")
            return back
        if result.assigned:
            flash(gettext("Assigned to %(name)s: %(items)s.", name=user.username, items=", ".join(result.assigned)), "success")
        if result.skipped:
            flash(gettext("No longer in the queue (taken or changed meanwhile), not assigned: %(items)s.", items=", ".join(result.skipped)), "warning")
        return back


class WorkloadView(BaseView):
    """Per person of the department: open and overdue cases and tasks assigned, the oldest item."""

    route_base = "/workload"
    default_view = "index"
    base_permissions = ["can_list"]
    method_permission_name = {"index": "list"}

    @expose("/")
    @has_access
    def index(self):
        departments = departments_for_user()
        department = chosen_department(departments, request.args.get("department"))
        now = utcnow()
        rows = service.workload(db.session, department, now) if department else []
        return self.render_template(
            "civic/workload.html", title=gettext("Workload"), departments=departments, department=department, rows=rows,
            totals={k: sum(getattr(r, k) for r in rows) for k in ("open_cases", "overdue_cases", "open_tasks", "overdue_tasks")},
            now_utc=now, age=age, localized=localized, format_number=format_number,
        )


# ---------------------------------------------------------------- registration (core.views)

def view_specs() -> list[ViewSpec]:
    return [
        ViewSpec("Queue", QueueView, _l("Queue"), "Cases", _l("Cases"), "fa-inbox"),
        ViewSpec("Workload", WorkloadView, _l("Workload"), "Cases", _l("Cases"), "fa-users"),
    ]


def role_specs() -> list[RoleSpec]:
    read = (("QueueView|WorkloadView", "can_list"), ("Queue|Workload", "menu_access"))
    return [
        RoleSpec("Dispatcher", ((QUEUE_VIEWS, ".*"),)),
        RoleSpec("Department staff", read),
        # A supervisor is department staff who also assigns from the queue.
        RoleSpec("Supervisor", (("QueueView", "can_assign"),), includes=("Department staff",)),
    ]


def case_panels(case) -> list[Panel]:
    """The queue adds nothing to the case page."""
    return []
