"""FEMA › Import timesheets: the payroll CSV the command line imports (``civic fema import-timesheets``), from a
staff screen.  Upload -> preview (the rows that will be imported, each skipped row with its reason) -> Import.

The same rules as the command line (``timesheets.plan_timesheets``).  The file must be CSV text (UTF-8, no
binary bytes) of at most ``MAX_BYTES``; the preview carries the text back in the Import form, which is read
and checked again, so nothing is stored between the two steps and what is imported is what the rules
accept at that moment.  FEMA coordinators only; every form has its CSRF token.
"""
from __future__ import annotations

import csv
from pathlib import Path

from flask import flash, redirect, request, url_for
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select

from core.extensions import db
from core.formats import format_date, format_number
from core.records import RoleSpec, ViewSpec
from plugins.fema import timesheets
from plugins.fema.models import CATEGORIES, Disaster, Employee, Site

MAX_BYTES = 400_000  # under Werkzeug's 500 kB limit of a form field: the preview posts the text back
PREVIEW_ROWS = 200  # rows to import listed on the preview (all are counted)
SUFFIXES = (".csv", ".txt")
FIELD_LABELS = {"disaster": _l("Disaster"), "file": _l("Timesheet file")}


class TimesheetProblem(ValueError):
    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field, self.message = field, message


def read_upload(upload) -> str:
    """The uploaded file as text, or TimesheetProblem naming the field: CSV text only, ``MAX_BYTES`` at most."""
    if upload is None or not upload.filename:
        raise TimesheetProblem("file", gettext("choose a CSV file"))
    if not upload.filename.lower().endswith(SUFFIXES):
        raise TimesheetProblem("file", gettext("must be a CSV file (.csv)"))
    try:
        data = upload.stream.read(MAX_BYTES + 1)
    finally:
        upload.close()  # a large upload is a temporary file: let it go now
    return check_text(data)


def check_text(data: bytes | str) -> str:
    if len(data) > MAX_BYTES or (isinstance(data, str) and len(data.encode("utf-8")) > MAX_BYTES):
        raise TimesheetProblem("file", gettext("is larger than %(size)s kB: split it by week", size=MAX_BYTES // 1000))
    if isinstance(data, bytes):
        if b"\x00" in data:
            raise TimesheetProblem("file", gettext("is not CSV text (binary content)"))
        try:
            data = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise TimesheetProblem("file", gettext("is not UTF-8 text: save it as “CSV UTF-8”")) from None
    if "\x00" in data:
        raise TimesheetProblem("file", gettext("is not CSV text (binary content)"))
    if not data.strip():
        raise TimesheetProblem("file", gettext("is empty"))
    return data


def _disasters() -> list[Disaster]:
    return list(db.session.scalars(select(Disaster).order_by(Disaster.started_at.desc()).limit(200)))


class TimesheetImportView(BaseView):
    """Upload, preview, import."""

    route_base = "/fema/timesheets"
    default_view = "index"
    base_permissions = ["can_import"]
    method_permission_name = {"index": "import", "preview": "import", "run": "import"}
    template_folder = str(Path(__file__).resolve().parent / "templates")

    def _form(self, status: int = 200, chosen: str = "", problem: TimesheetProblem | None = None):
        if problem is not None:
            flash(gettext("%(field)s: %(message)s", field=FIELD_LABELS[problem.field], message=problem.message), "danger")
        body = self.render_template("fema/timesheet_import.html", title=gettext("Import timesheets"), disasters=_disasters(),
                                    chosen=chosen, preview=None, problem=problem, max_kb=MAX_BYTES // 1000)
        return body, status

    def _disaster(self) -> Disaster:
        raw = request.form.get("disaster", "")
        disaster = db.session.get(Disaster, int(raw)) if raw.isdigit() and len(raw) < 10 else None
        if disaster is None:
            raise TimesheetProblem("disaster", gettext("choose one from the list"))
        return disaster

    def _plan(self, disaster: Disaster, text: str):
        try:
            return timesheets.plan_timesheets(db.session, disaster, text, current_user.id)
        except (timesheets.TimesheetError, csv.Error) as exc:
            raise TimesheetProblem("file", str(exc)) from None

    @expose("/", methods=["GET"])
    @has_access
    def index(self):
        return self._form(chosen=request.args.get("disaster", ""))

    @expose("/preview", methods=["POST"])
    @has_access
    def preview(self):
        chosen = request.form.get("disaster", "")
        try:
            disaster = self._disaster()
            text = read_upload(request.files.get("file"))
            planned, result = self._plan(disaster, text)
        except TimesheetProblem as problem:
            db.session.rollback()
            return self._form(400, chosen, problem)
        shown = planned[:PREVIEW_ROWS]
        names = self._names(shown)
        db.session.rollback()  # the preview changes nothing
        return self.render_template(
            "fema/timesheet_import.html", title=gettext("Import timesheets"), disasters=_disasters(), chosen=str(disaster.id),
            disaster=disaster, preview=shown, count=len(planned), result=result, names=names, text=text,
            filename=(request.files["file"].filename or "")[:120], categories=CATEGORIES, max_kb=MAX_BYTES // 1000,
            format_date=format_date, format_number=format_number, problem=None)

    def _names(self, planned) -> dict:
        employee_ids = {e.employee_id for _, e in planned}
        site_ids = {e.site_id for _, e in planned}
        employees = {e.id: e for e in db.session.scalars(select(Employee).where(Employee.id.in_(employee_ids)))} if employee_ids else {}
        sites = dict(db.session.execute(select(Site.id, Site.name).where(Site.id.in_(site_ids))).all()) if site_ids else {}
        return {"employees": employees, "sites": sites}

    @expose("/import", methods=["POST"])
    @has_access
    def run(self):
        chosen = request.form.get("disaster", "")
        try:
            disaster = self._disaster()
            text = check_text(request.form.get("text", ""))
            result = timesheets.import_timesheets(db.session, disaster, text, current_user.id)
        except (TimesheetProblem, timesheets.TimesheetError, csv.Error) as exc:
            db.session.rollback()
            problem = exc if isinstance(exc, TimesheetProblem) else TimesheetProblem("file", str(exc))
            return self._form(400, chosen, problem)
        db.session.commit()
        flash(gettext("%(count)s row(s) imported into %(disaster)s.", count=result.inserted, disaster=str(disaster)), "success")
        skipped = len(result.duplicates) + len(result.errors)
        if skipped:
            flash(gettext("%(count)s row(s) skipped, as the preview listed.", count=skipped), "warning")
        return redirect(url_for(".index", disaster=disaster.id))


# ---------------------------------------------------------------- registration (plugins.fema.screens)

def view_specs() -> list[ViewSpec]:
    return [ViewSpec("Import timesheets", TimesheetImportView, _l("Import timesheets"), "FEMA", _l("FEMA"), "fa-upload")]


def role_specs() -> list[RoleSpec]:
    return [RoleSpec("FEMA coordinator", (("TimesheetImportView", "can_import"), ("FEMA|Import timesheets", "menu_access")))]
