"""Work order screens: Field › Work orders (the list, by crew, day and status), Field › My day (a crew's day:
list and map, phone-first), the "Done" form a crew fills in the field, and the Work orders panel of the staff
case page with its "Create work order" form.

Who may do what: those with the whole case (its department, dispatchers, admins) create work orders; the
crew (its members), the task's department and those with the whole case complete one (``can_work_task``);
a crew member sees the days of their own crews, department staff those of their departments' crews,
dispatchers and admins every crew.  Everything goes through plugins/fieldservice/workorders.py.
"""
from __future__ import annotations

from datetime import date
from typing import Any

import sqlalchemy as sa
from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy.orm import contains_eager, joinedload, selectinload
from sqlalchemy.orm.exc import StaleDataError

from core.extensions import db
from core.formats import city_today, format_date
from core.i18n_content import localized
from core.models import OPEN_TASK_STATUSES, TASK_STATUSES, Case, Crew, Task
from core.records import Panel, RoleSpec, ViewSpec
from core.security import acting_user, can_work_task, case_access, sees_all_cases, task_scope, user_crew_ids, user_department_ids
from core.services.cases import Actor, CaseError
from core.services.tasks import TaskConflictError
from plugins.fieldservice import workorders as service
from plugins.fieldservice.models import WorkOrder
from plugins.fieldservice.settings import settings as field_settings

FIELD_LABELS = {
    "crew": _l("Crew"), "scheduled_for": _l("Scheduled for"), "instructions": _l("Instructions"), "title": _l("Title"),
    "notes": _l("What was done"), "file": _l("Photo"), "status": _l("Status"), "date": _l("Day"), "case": _l("Case"),
    "department": _l("Department"), "task": _l("Work order"), "page": _l("Page"), "note": _l("What was done"),
}
PAGE_SIZE = 50
VIEWS = "WorkOrderView|MyDayView|Work orders|My day|Field"


# ---------------------------------------------------------------- helpers


def today() -> date:
    return city_today()


def bad_request(field: str, message: str):
    abort(400, description=gettext("%(field)s: %(message)s", field=FIELD_LABELS.get(field, field), message=message))


def day_value(text: str | None, field: str, default: date | None = None) -> date | None:
    """``2026-07-01`` -> date; empty -> ``default``; anything else a CaseError naming the field."""
    text = (text or "").strip()
    if not text:
        return default
    try:
        if len(text) != 10:
            raise ValueError(text)
        return date.fromisoformat(text)
    except ValueError:
        raise CaseError({field: [gettext("must be a date such as 2026-07-01")]}) from None


def id_value(text: str | None, field: str) -> int | None:
    text = (text or "").strip()
    if not text:
        return None
    if not text.isdigit() or len(text) > 9:
        raise CaseError({field: [gettext("must be a number")]})
    return int(text)


def parse_day(text: str | None, field: str, default: date | None = None) -> date | None:
    """A day in the query string; a 400 naming the field when it is not one."""
    try:
        return day_value(text, field, default)
    except CaseError as exc:
        bad_request(field, exc.errors[field][0])


def parse_id(text: str | None, field: str) -> int | None:
    try:
        return id_value(text, field)
    except CaseError as exc:
        bad_request(field, exc.errors[field][0])


def safe_back(wanted: str | None, default: str) -> str:
    """Where to go after a form: a page of this site only (never ``//host``, ``/\\host`` or ``/<tab>/host``)."""
    from core.security import safe_redirect_target

    return safe_redirect_target(wanted) or default


def visible_crews(user=None) -> list[Crew]:
    """The crews whose days the user may open: all active ones for dispatchers and admins; else their own crews
    and the crews of their departments."""
    user = user if user is not None else acting_user()
    stmt = sa.select(Crew).options(selectinload(Crew.department)).where(Crew.active.is_(True)).order_by(Crew.name)
    if not sees_all_cases(user):
        stmt = stmt.where(sa.or_(Crew.id.in_(user_crew_ids(user)), Crew.department_id.in_(user_department_ids(user))))
    return list(db.session.scalars(stmt))


def crews_for_case(case: Case, user=None) -> list[Crew]:
    """Who a new work order of the case may go to: any active crew for dispatchers and admins, else the active
    crews of the case's department."""
    stmt = sa.select(Crew).options(selectinload(Crew.department)).where(Crew.active.is_(True)).order_by(Crew.name)
    if not sees_all_cases(user):
        stmt = stmt.where(Crew.department_id == case.department_id)
    return list(db.session.scalars(stmt))


def flash_errors(exc: CaseError) -> None:
    for field, messages in exc.errors.items():
        for message in messages:
            flash(gettext("%(field)s: %(message)s", field=FIELD_LABELS.get(field, field), message=message), "danger")


def error_lines(exc: CaseError) -> list[str]:
    return [gettext("%(field)s: %(message)s", field=FIELD_LABELS.get(f, f), message=m) for f, ms in exc.errors.items() for m in ms]


def marker(order: WorkOrder, day: date) -> dict[str, Any] | None:
    """What the day's map shows of a work order: no resident's name or contact, only the work and where."""
    point = service.where(order)
    if point is None:
        return None
    task, case = order.task, order.task.case
    return {"id": task.id, "lat": point[0], "long": point[1], "title": task.title, "reference": case.reference,
            "status": str(task.status_label), "open": task.is_open,
            "place": order.segment.street_name if order.segment is not None else (case.address or ""),
            "overdue": bool(task.is_open and order.scheduled_for and order.scheduled_for < day)}


def leaflet_url(filename: str) -> str | None:
    """Leaflet's file from the map's asset route (/fieldservice/assets/leaflet/...), else the portal's."""
    for endpoint in ("fieldservice_assets.leaflet", "portal.leaflet"):
        if endpoint in current_app.view_functions:
            return url_for(endpoint, filename=filename)
    return None


def layer_url(code: str) -> str | None:
    """A layer of the staff map (/fieldservice/map/layer/<code>.geojson): the streets are the base map of a
    crew's day, the zones the EOC board's, when no tile server is configured."""
    return url_for("FieldMapView.layer", code=code) if "FieldMapView.layer" in current_app.view_functions else None


# ---------------------------------------------------------------- Field › Work orders (and its forms)


class WorkOrderView(BaseView):
    """The work orders of the crews and departments the user works with, by crew, day and status; the
    "Create work order" form of a case and the "Done" form of a work order."""

    route_base = "/fieldservice/workorders"
    default_view = "index"
    base_permissions = ["can_list", "can_create", "can_complete"]
    method_permission_name = {"index": "list", "create": "create", "complete": "complete"}

    @expose("/")
    @has_access
    def index(self):
        user = acting_user()
        crews = visible_crews(user)
        crew_id = parse_id(request.args.get("crew"), "crew")
        day = parse_day(request.args.get("day"), "date")
        status = request.args.get("status", "")
        if status and status not in TASK_STATUSES and status != "open_any":
            bad_request("status", gettext("must be one of: %(choices)s", choices=", ".join(["open_any", *TASK_STATUSES])))
        page = parse_id(request.args.get("page"), "page") or 0
        stmt = (
            sa.select(WorkOrder).join(WorkOrder.task).join(Task.case)
            .options(contains_eager(WorkOrder.task).contains_eager(Task.case), contains_eager(WorkOrder.task).joinedload(Task.crew),
                     joinedload(WorkOrder.segment))
        )
        if not sees_all_cases(user):
            stmt = stmt.where(task_scope(user))
        if crew_id is not None:
            stmt = stmt.where(Task.crew_id == crew_id)
        if day is not None:
            stmt = stmt.where(WorkOrder.scheduled_for == day)
        if status == "open_any":
            stmt = stmt.where(Task.status.in_(OPEN_TASK_STATUSES))
        elif status:
            stmt = stmt.where(Task.status == status)
        stmt = stmt.order_by(WorkOrder.scheduled_for.desc().nulls_last(), Task.id.desc()).offset(page * PAGE_SIZE).limit(PAGE_SIZE + 1)
        rows = list(db.session.scalars(stmt).unique())
        return self.render_template(
            "fieldservice/workorders.html", title=gettext("Work orders"), rows=rows[:PAGE_SIZE], has_next=len(rows) > PAGE_SIZE,
            page=page, crews=crews, crew_id=crew_id, day=day, status=status, statuses=TASK_STATUSES, today=today(),
            format_date=format_date, localized=localized,
            may_create=self.appbuilder.sm.has_access("can_create", "WorkOrderView"),
        )

    def _case_or_404(self, case_id: int) -> Case:
        case = db.session.get(Case, case_id) if 0 < case_id < 2**63 else None
        if case is None or case_access(case) is None:
            abort(404)
        if case_access(case) != "full":
            abort(403, description=gettext("Only the case's department creates work orders for it."))
        return case

    @expose("/create/<int:case_id>", methods=["GET", "POST"])
    @has_access
    def create(self, case_id: int):
        """Create a work order on a case for a crew, scheduled for a day."""
        case = self._case_or_404(case_id)
        crews = crews_for_case(case)
        form = request.form
        if request.method == "GET":
            return self._create_form(case, crews, {}, [])
        try:
            wanted = id_value(form.get("crew"), "crew")
            crew = next((c for c in crews if c.id == wanted), None)
            if wanted is not None and crew is None:
                raise CaseError({"crew": [gettext("choose one of the crews offered")]})
            if crew is None:
                raise CaseError({"crew": [gettext("is required")]})
            scheduled = day_value(form.get("scheduled_for"), "scheduled_for", default=today())
            task = service.create_work_order(db.session, case, actor=Actor.of(current_user), crew=crew, scheduled_for=scheduled,
                                             title=form.get("title") or None, instructions=form.get("instructions", ""))
        except CaseError as exc:
            db.session.rollback()
            return self._create_form(case, crews, form, error_lines(exc)), 400
        flash(gettext("Work order #%(id)s created for %(crew)s on %(day)s.", id=task.id, crew=crew.name,
                      day=format_date(task.work_order.scheduled_for)), "success")
        return redirect(url_for("CaseView.show", pk=case.id, _anchor="work-orders"))

    def _create_form(self, case: Case, crews: list[Crew], values, errors: list[str]):
        return self.render_template("fieldservice/workorder_create.html", title=gettext("Create work order"), case=case, crews=crews,
                                    values=values, errors=errors, today=today(), localized=localized)

    @expose("/complete/<int:task_id>", methods=["GET", "POST"])
    @has_access
    def complete(self, task_id: int):
        """The crew's "Done" form: what was done (required) and a photo (optional)."""
        task = db.session.get(Task, task_id) if 0 < task_id < 2**63 else None
        if task is None or task.work_order is None or case_access(task.case) is None:
            abort(404)
        if not can_work_task(task):
            abort(403, description=gettext("This work order belongs to another crew or department."))
        back = safe_back(request.values.get("next"),
                         url_for("MyDayView.index", crew=task.crew_id) if task.crew_id else url_for("WorkOrderView.index"))
        if request.method == "GET":
            return self._complete_form(task, back, {}, [])
        try:
            service.complete_work_order(db.session, task, Actor.of(current_user), notes=request.form.get("notes", ""),
                                        photo=request.files.get("photo"))
        except CaseError as exc:
            db.session.rollback()
            return self._complete_form(task, back, request.form, error_lines(exc)), 400
        except (StaleDataError, TaskConflictError):
            db.session.rollback()
            task = db.session.get(Task, task_id)
            message = gettext("This work order or its case was changed by someone else at the same moment. Nothing was saved: "
                              "check it and send your notes again.")
            return self._complete_form(task, back, request.form, [message]), 409
        case = task.case
        message = gettext("Work order #%(id)s is done.", id=task.id)
        if case.status == "resolved":
            message += " " + gettext("It was the last one: case %(reference)s is resolved and the resident is told.", reference=case.reference)
        flash(message, "success")
        return redirect(back)

    def _complete_form(self, task: Task, back: str, values, errors: list[str]):
        return self.render_template("fieldservice/workorder_complete.html", title=gettext("Work order done"), task=task,
                                    order=task.work_order, back=back, values=values, errors=errors, format_date=format_date,
                                    localized=localized)


# ---------------------------------------------------------------- Field › My day


class MyDayView(BaseView):
    """A crew's day on a phone: its work orders of the day (and the overdue ones) in a list and on a map."""

    route_base = "/fieldservice/workorders/day"
    default_view = "index"
    base_permissions = ["can_list"]
    method_permission_name = {"index": "list"}

    @expose("/")
    @has_access
    def index(self):
        user = acting_user()
        crews = visible_crews(user)
        wanted = parse_id(request.args.get("crew"), "crew")
        day = parse_day(request.args.get("date"), "date", default=today())
        if wanted is not None:
            crew = next((c for c in crews if c.id == wanted), None)
            if crew is None:
                abort(404 if db.session.get(Crew, wanted) is None else 403)
        else:
            mine = {c.id for c in crews if any(m.id == user.id for m in c.members)}
            crew = next((c for c in crews if c.id in mine), None) or (crews[0] if crews else None)
        orders = service.crew_day(db.session, [crew.id], day) if crew else []
        markers = [m for m in (marker(o, day) for o in orders) if m]
        may_complete = self.appbuilder.sm.has_access("can_complete", "WorkOrderView")
        center = current_app.extensions["civic"].config.city.get("center") or [0, 0]
        return self.render_template(
            "fieldservice/my_day.html", title=gettext("My day"), crews=crews, crew=crew, day=day, orders=orders,
            markers=markers, may_complete=may_complete, today=today(), format_date=format_date, localized=localized,
            leaflet_css=leaflet_url("leaflet.css"), leaflet_js=leaflet_url("leaflet.js"), center=center,
            tile_url=field_settings().get("tile_url") or "", tile_attribution=field_settings().get("tile_attribution") or "",
            streets_url=layer_url("streets"), raw_zoom=int(field_settings().get("raw_zoom") or 15),
        )


# ---------------------------------------------------------------- the case page panel


def case_panels(case) -> list[Panel]:
    """The Work orders panel of the staff case page: the case's work orders and, for those with the whole case,
    the "Create work order" form.  Nothing outside a signed-in request."""
    user = acting_user()
    if user is None or not getattr(user, "is_authenticated", False):
        return []
    from core.views.case_page import page_data

    page = page_data(case)  # the case page's shared reads: its tasks (with their work orders) and the crews
    access = page.access
    if access is None:
        return []
    sm = current_app.appbuilder.sm
    orders = [t.work_order for t in sorted(case.tasks, key=lambda t: t.id) if t.work_order is not None]
    can_create = access == "full" and case.is_open and sm.has_access("can_create", "WorkOrderView")
    if not orders and not can_create:
        return []
    crews = []
    if can_create:  # as crews_for_case: any active crew for dispatchers and admins, else the case department's
        crews = page.crews if sees_all_cases(user) else page.department_crews(case.department_id)
    html = render_template(
        "fieldservice/workorder_panel.html", case=case, orders=orders, can_create=can_create,
        crews=crews, today=today(), format_date=format_date,
        may_complete=sm.has_access("can_complete", "WorkOrderView"),
        can_work_task=(lambda task: True) if access == "full" else can_work_task,  # the whole case: every task
    )
    return [Panel(_l("Work orders"), html, order=15)]


# ---------------------------------------------------------------- registration


def view_specs() -> list[ViewSpec]:
    return [
        ViewSpec("Work orders", WorkOrderView, _l("Work orders"), "Field", _l("Field"), "fa-wrench"),
        ViewSpec("My day", MyDayView, _l("My day"), "Field", _l("Field"), "fa-calendar-check-o"),
    ]


def role_specs() -> list[RoleSpec]:
    """Dispatchers everything; department staff (and so supervisors) create and complete; crews complete their own."""
    return [
        RoleSpec("Dispatcher", ((VIEWS, ".*"),)),
        RoleSpec("Department staff", ((VIEWS, "can_list|can_create|can_complete|menu_access"),)),
        RoleSpec("Field crew", ((VIEWS, "can_list|can_complete|menu_access"),)),
    ]
