"""The Reports screens (menu Reports): build a report without code, see it as a table and a chart, save it,
re-run it with another period or filter (another disaster, another year), export it to CSV or XLSX, share it
with a role or a department, and receive it by e-mail.

Every URL of a report's run is bookmarkable: the spec travels in the query string (``subject``, ``period``,
``group``, ``measures``, ``chart``, ``f.<filter>``).  A report always runs with the permissions of the person
looking at it (or receiving it), whoever built it.
"""
from __future__ import annotations

from typing import Any

from flask import Response, abort, flash, redirect, request, url_for
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access
from flask_appbuilder.security.sqla.models import Role
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import or_, select

from core.extensions import db
from core.formats import city_today, format_date
from core.models import SCHEDULES, Department, Report, ReportShare, ReportSubscription
from core.models.base import utcnow
from core.records import RoleSpec
from core.reports import files
from core.reports.engine import MAX_GROUPS, ReportDenied, ReportResult, run
from core.reports.formatting import format_value
from core.reports.spec import CHARTS, PERIODS, ReportSpec, SpecError, parse
from core.reports.subjects import TIME_GROUPS, Subject, registry, subjects_for
from core.security import role_names, user_department_ids

MAX_NAME = 150
MAX_DESCRIPTION = 2000
LIST_LIMIT = 500
FREQUENCIES = {"daily": _l("Every morning"), "weekly": _l("Every week")}
FIELD_LABELS = {"name": _l("Name"), "description": _l("Description"), "subject": _l("Subject"), "period": _l("Period"),
                "date_from": _l("From"), "date_to": _l("To"), "group": _l("Group by"), "measures": _l("Measures"),
                "chart": _l("Chart"), "filters": _l("Filters"), "frequency": _l("Frequency"), "share": _l("Share with")}


# ---------------------------------------------------------------- who sees what


def is_admin(user) -> bool:
    return "Admin" in role_names(user)


def visible_reports(user):
    """A WHERE clause on Report: the user's own reports and those shared with one of their roles or departments."""
    if is_admin(user):
        return None
    shared = select(ReportShare.report_id).where(or_(
        ReportShare.role_id.in_([r.id for r in user.roles]),
        ReportShare.department_id.in_(user_department_ids(user)),
    ))
    return or_(Report.owner_id == user.id, Report.id.in_(shared))


def can_view(report: Report, user) -> bool:
    where = visible_reports(user)
    if where is None:
        return True
    return db.session.scalar(select(Report.id).where(Report.id == report.id, where)) is not None


def can_manage(report: Report, user) -> bool:
    return report.owner_id == user.id or is_admin(user)


# ---------------------------------------------------------------- specs from requests


def spec_data(args, base: dict[str, Any] | None = None) -> dict[str, Any]:
    """A spec from a query string or a form; with ``base`` (a saved spec) only the period and the filters
    given replace the saved ones (a re-run for another disaster or year keeps the rest)."""
    if base is not None:
        data = dict(base)
        for key in ("period", "date_from", "date_to"):
            if key in args:
                data[key] = args.get(key) or None
        if any(k.startswith("f.") for k in args) or args.get("rerun"):
            data["filters"] = _filters(args)
        return data
    return {
        "subject": args.get("subject", ""),
        "period": args.get("period") or "last_30_days",
        "date_from": args.get("date_from") or None,
        "date_to": args.get("date_to") or None,
        "group": args.get("group", ""),
        "measures": [m for m in args.getlist("measures") if m],
        "chart": args.get("chart") or "auto",
        "filters": _filters(args),
    }


def _filters(args) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for key in args:
        if key.startswith("f."):
            values = [v for raw in args.getlist(key) for v in str(raw).split(",") if v.strip()]
            if values:
                out[key[2:]] = [v.strip() for v in values]
    return out


def query_args(spec: ReportSpec) -> dict[str, Any]:
    """The query string of a spec (the inverse of ``spec_data``)."""
    data = spec.to_json()
    args: dict[str, Any] = {k: data[k] for k in ("subject", "period", "group", "chart") if data[k]}
    args.update({k: data[k] for k in ("date_from", "date_to") if data[k]})
    args["measures"] = data["measures"]
    for code, values in data["filters"].items():
        args[f"f.{code}"] = values
    return args


def field_label(name: str, subject: Subject | None = None) -> str:
    if name.startswith("filters.") and subject is not None:
        found = subject.filter(name.split(".", 1)[1])
        return str(found.label) if found else name
    return str(FIELD_LABELS.get(name, name))


def flash_errors(errors: dict[str, list[str]], subject: Subject | None = None) -> None:
    for name, messages in errors.items():
        for message in messages:
            flash(gettext("%(field)s: %(message)s", field=field_label(name, subject), message=message), "danger")


def unknown_values(spec: ReportSpec, subject: Subject) -> dict[str, list[str]]:
    """Values of closed filters (departments, services, statuses...) that are not among their choices."""
    errors: dict[str, list[str]] = {}
    for code, values in spec.filters.items():
        found = subject.filter(code)
        if found.closed and found.choices is not None:
            known = {c.value for c in found.choices(db.session)}
            bad = [v for v in values if v not in known]
            if bad:
                errors[f"filters.{code}"] = [gettext("unknown value: %(values)s", values=", ".join(bad))]
    return errors


def describe(result: ReportResult) -> list[str]:
    """What the report counts, in words: subject and period, each filter with its values' names, grouping."""
    spec, subject = result.spec, result.subject
    period = str(PERIODS.get(spec.period, spec.period))
    if result.start or result.last_day:
        span = f"{format_date(result.start) if result.start else '…'} – {format_date(result.last_day) if result.last_day else '…'}"
        period = f"{period} ({span})"
    lines = [gettext("%(subject)s, %(date)s: %(period)s", subject=subject.label, date=str(subject.date_label).lower(), period=period)]
    for code, values in spec.filters.items():
        found = subject.filter(code)
        names = {}
        if found.choices is not None:
            names = {c.value: c.label for c in found.choices(db.session)}
        lines.append(f"{found.label}: {', '.join(str(names.get(v, v)) for v in values)}")
    if result.group_label:
        lines.append(gettext("Grouped by %(group)s", group=result.group_label.lower()))
    return lines


def chart_for(result: ReportResult):
    """The chart of the first measure: a line over time, a pie when asked, bars otherwise (None: no chart)."""
    from core.reports.charts import render_chart

    kind = result.spec.chart
    if kind == "none" or not result.rows or not result.measures:
        return None
    if kind == "auto":
        kind = "line" if result.spec.time_group else "bar"
    measure = result.measures[0]
    values = [r.values[0] for r in result.rows]
    if kind == "pie" and (measure.kind not in ("count", "money", "number") or any((v or 0) < 0 for v in values)):
        kind = "bar"  # a pie of medians or percentages would say nothing
    return render_chart(kind, [r.axis_label for r in result.rows], [(str(measure.label), values)],
                        value_format=lambda v: format_value(measure.kind, v), title=str(measure.label))


# ---------------------------------------------------------------- the view


class ReportView(BaseView):
    """Build, run, save, share, export and subscribe to reports."""

    route_base = "/reports"
    default_view = "index"
    base_permissions = ["can_list", "can_show", "can_add", "can_edit", "can_delete"]
    method_permission_name = {
        "index": "list", "show": "show", "run": "show", "export_saved": "show", "export_run": "show", "subscribe": "show",
        "new": "add", "edit": "edit", "share": "edit", "delete": "delete",
    }

    # -- helpers

    def _report(self, pk: int) -> Report:
        report = db.session.get(Report, pk)
        if report is None or not can_view(report, current_user):
            abort(404)
        return report

    def _run(self, data: dict[str, Any]) -> ReportResult:
        subjects = registry()
        try:
            spec = parse(data, subjects)
            errors = unknown_values(spec, subjects[spec.subject])
            if errors:
                raise SpecError(errors)
        except SpecError as exc:
            abort(400, description="; ".join(
                gettext("%(field)s: %(message)s", field=field_label(k, subjects.get(data.get("subject"))), message=m)
                for k, ms in exc.errors.items() for m in ms))
        try:
            return run(db.session, spec, current_user, subjects=subjects)
        except ReportDenied:
            abort(403, description=gettext("You may not report on %(subject)s.", subject=subjects[spec.subject].label))

    def _result_page(self, result: ReportResult, report: Report | None, *, title: str):
        subject = result.subject
        subscription = None
        if report is not None:
            subscription = db.session.scalar(select(ReportSubscription).where(
                ReportSubscription.report_id == report.id, ReportSubscription.user_id == current_user.id))
        manage = report is not None and can_manage(report, current_user)
        return self.render_template(
            "civic/reports/show.html",
            title=title, report=report, result=result, subject=subject, description=describe(result),
            chart=chart_for(result), format_value=format_value, args=query_args(result.spec),
            request_args=request.args.to_dict(flat=False),
            headers=[str(m.label) for m in result.measures], max_groups=MAX_GROUPS,
            filter_choices=_choices(subject), periods=PERIODS, subscription=subscription, frequencies=FREQUENCIES,
            can_manage=manage, can_save=self.appbuilder.sm.has_access("can_add", "ReportView"),
            shares=_share_choices() if manage else None,
            shared=_shared(report) if report is not None else None,
        )

    def _form(self, values: dict[str, Any], report: Report | None = None, status: int = 200):
        subjects = {s.code: s for s in subjects_for(current_user)}
        if not subjects:
            abort(403)
        subject = subjects.get(values.get("subject")) or next(iter(subjects.values()))
        groups = [("", gettext("Nothing (totals only)"))] + [(k, str(v)) for k, v in TIME_GROUPS.items()]
        groups += [(d.code, str(d.label)) for d in subject.dimensions]
        return self.render_template(
            "civic/reports/form.html",
            title=gettext("Edit the report") if report else gettext("New report"),
            report=report, values=values, subjects=list(subjects.values()), subject=subject, periods=PERIODS,
            charts=CHARTS, groups=groups, filter_choices=_choices(subject),
            measures=subject.measures, chosen_measures=values.get("measures") or list(subject.default_measures),
        ), status

    # -- pages

    @expose("/")
    @has_access
    def index(self):
        where = visible_reports(current_user)
        stmt = select(Report).order_by(Report.name, Report.id).limit(LIST_LIMIT)
        if where is not None:
            stmt = stmt.where(where)
        reports = list(db.session.scalars(stmt))
        mine = set(db.session.scalars(select(ReportSubscription.report_id).where(ReportSubscription.user_id == current_user.id)))
        subjects = registry()
        return self.render_template(
            "civic/reports/list.html", title=gettext("Reports"), reports=reports, subscribed=mine,
            subject_label=lambda code: subjects[code].label if code in subjects else code,
            can_add=self.appbuilder.sm.has_access("can_add", "ReportView"), limit=LIST_LIMIT,
        )

    @expose("/run")
    @has_access
    def run(self):
        """An unsaved report, straight from the builder's "Show" button or a bookmarked link."""
        if not request.args.get("subject"):
            return redirect(url_for(".new"))
        result = self._run(spec_data(request.args))
        return self._result_page(result, None, title=gettext("Report: %(subject)s", subject=result.subject.label))

    @expose("/new", methods=["GET", "POST"])
    @has_access
    def new(self):
        if request.method == "GET":
            values = spec_data(request.args) if request.args.get("subject") else {"subject": "", "period": "last_30_days"}
            values["name"] = request.args.get("name", "")
            return self._form(values)
        values = dict(spec_data(request.form), name=request.form.get("name", "").strip(),
                      description=request.form.get("description", "").strip())
        spec = self._valid(values)
        if spec is None:
            return self._form(values, status=400)
        now = utcnow()
        report = Report(name=values["name"], description=values["description"], subject=spec.subject, spec=spec.to_json(),
                        owner_id=current_user.id, created_at=now, updated_at=now)
        db.session.add(report)
        db.session.commit()
        flash(gettext("Report \"%(name)s\" saved.", name=report.name), "success")
        return redirect(url_for(".show", pk=report.id))

    def _valid(self, values: dict[str, Any]) -> ReportSpec | None:
        errors: dict[str, list[str]] = {}
        if not values["name"]:
            errors["name"] = [gettext("is required")]
        elif len(values["name"]) > MAX_NAME:
            errors["name"] = [gettext("at most %(n)d characters", n=MAX_NAME)]
        if len(values.get("description", "")) > MAX_DESCRIPTION:
            errors["description"] = [gettext("at most %(n)d characters", n=MAX_DESCRIPTION)]
        allowed = {s.code: s for s in subjects_for(current_user)}
        spec = None
        try:
            spec = parse(values, allowed)
            errors.update(unknown_values(spec, allowed[spec.subject]))
        except SpecError as exc:
            errors.update(exc.errors)
        if errors:
            flash_errors(errors, allowed.get(values.get("subject")))
            return None
        return spec

    @expose("/<int:pk>")
    @has_access
    def show(self, pk: int):
        report = self._report(pk)
        result = self._run(spec_data(request.args, base=report.spec))
        return self._result_page(result, report, title=report.name)

    @expose("/<int:pk>/edit", methods=["GET", "POST"])
    @has_access
    def edit(self, pk: int):
        report = self._report(pk)
        if not can_manage(report, current_user):
            abort(403, description=gettext("Only the report's owner or an administrator may change it."))
        if request.method == "GET":
            return self._form(dict(report.spec, name=report.name, description=report.description), report)
        values = dict(spec_data(request.form), name=request.form.get("name", "").strip(),
                      description=request.form.get("description", "").strip())
        spec = self._valid(values)
        if spec is None:
            return self._form(values, report, status=400)
        report.name, report.description, report.subject, report.spec = values["name"], values["description"], spec.subject, spec.to_json()
        report.updated_at = utcnow()
        db.session.commit()
        flash(gettext("Report \"%(name)s\" saved.", name=report.name), "success")
        return redirect(url_for(".show", pk=report.id))

    @expose("/<int:pk>/delete", methods=["POST"])
    @has_access
    def delete(self, pk: int):
        report = self._report(pk)
        if not can_manage(report, current_user):
            abort(403, description=gettext("Only the report's owner or an administrator may change it."))
        name = report.name
        db.session.delete(report)
        db.session.commit()
        flash(gettext("Report \"%(name)s\" deleted.", name=name), "success")
        return redirect(url_for(".index"))

    @expose("/<int:pk>/share", methods=["POST"])
    @has_access
    def share(self, pk: int):
        """Replace the report's shares with the roles and departments ticked."""
        report = self._report(pk)
        if not can_manage(report, current_user):
            abort(403, description=gettext("Only the report's owner or an administrator may change it."))
        role_ids, dept_ids = _ids(request.form.getlist("role")), _ids(request.form.getlist("department"))
        known_roles = set(db.session.scalars(select(Role.id).where(Role.id.in_(role_ids)))) if role_ids else set()
        known_depts = set(db.session.scalars(select(Department.id).where(Department.id.in_(dept_ids)))) if dept_ids else set()
        if set(role_ids) - known_roles or set(dept_ids) - known_depts:
            abort(400, description=gettext("%(field)s: %(message)s", field=field_label("share"), message=gettext("unknown role or department")))
        report.shares = [ReportShare(role_id=i) for i in sorted(known_roles)] + [ReportShare(department_id=i) for i in sorted(known_depts)]
        db.session.commit()
        flash(gettext("Sharing of \"%(name)s\" saved.", name=report.name), "success")
        return redirect(url_for(".show", pk=pk))

    @expose("/<int:pk>/subscribe", methods=["POST"])
    @has_access
    def subscribe(self, pk: int):
        """Receive the report by e-mail (daily or weekly), or stop (``frequency`` empty)."""
        report = self._report(pk)
        frequency = request.form.get("frequency", "")
        if frequency and frequency not in SCHEDULES:
            abort(400, description=gettext("%(field)s: %(message)s", field=field_label("frequency"),
                                           message=gettext("must be one of: %(choices)s", choices=", ".join(SCHEDULES))))
        found = db.session.scalar(select(ReportSubscription).where(
            ReportSubscription.report_id == report.id, ReportSubscription.user_id == current_user.id))
        if not frequency:
            if found is not None:
                db.session.delete(found)
            flash(gettext("You will no longer receive \"%(name)s\" by e-mail.", name=report.name), "success")
        else:
            if not getattr(current_user, "email", None):
                abort(400, description=gettext("%(field)s: %(message)s", field=field_label("frequency"),
                                               message=gettext("your account has no e-mail address")))
            if found is None:
                db.session.add(ReportSubscription(report_id=report.id, user_id=current_user.id, frequency=frequency))
            else:
                found.frequency = frequency
            flash(gettext("You will receive \"%(name)s\" by e-mail: %(when)s.", name=report.name,
                          when=str(FREQUENCIES[frequency]).lower()), "success")
        db.session.commit()
        return redirect(url_for(".show", pk=pk))

    @expose("/<int:pk>/export.<fmt>")
    @has_access
    def export_saved(self, pk: int, fmt: str):
        report = self._report(pk)
        result = self._run(spec_data(request.args, base=report.spec))
        return _file(result, report.name, fmt)

    @expose("/export.<fmt>")
    @has_access
    def export_run(self, fmt: str):
        result = self._run(spec_data(request.args))
        return _file(result, str(result.subject.label), fmt)


def _file(result: ReportResult, name: str, fmt: str) -> Response:
    if fmt not in ("csv", "xlsx"):
        abort(404)
    lines = describe(result) + [gettext("Made on %(day)s", day=format_date(city_today()))]
    stem = "".join(c if c.isalnum() or c in "-_" else "-" for c in name.lower()).strip("-")[:60] or "report"
    filename = f"{stem}-{city_today().isoformat()}.{fmt}"
    if fmt == "csv":
        body, mimetype = files.to_csv(result, name, lines), "text/csv; charset=utf-8"
    else:
        body, mimetype = files.to_xlsx(result, name, lines), "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    return Response(body, mimetype=mimetype, headers={"Content-Disposition": f'attachment; filename="{filename}"',
                                                      "X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"})


def _ids(raw: list[str]) -> list[int]:
    out = []
    for value in raw:
        if not value.isdigit() or len(value) > 9:
            abort(400, description=gettext("%(field)s: %(message)s", field=field_label("share"), message=gettext("must be a whole number")))
        out.append(int(value))
    return out


def _choices(subject: Subject) -> dict[str, list]:
    """Each filter's choices (None: free text)."""
    return {f.code: (f.choices(db.session) if f.choices is not None else None) for f in subject.filters}


def _share_choices() -> dict[str, list]:
    roles = db.session.execute(select(Role.id, Role.name).where(Role.name.not_in(["Public", "Resident"])).order_by(Role.name)).all()
    from core.i18n_content import localized

    departments = db.session.execute(select(Department.id, Department.name, Department.translations).order_by(Department.name)).all()
    return {"roles": [(r.id, r.name) for r in roles], "departments": [(d.id, localized(d, "name")) for d in departments]}


def _shared(report: Report) -> dict[str, set[int]]:
    return {"roles": {s.role_id for s in report.shares if s.role_id}, "departments": {s.department_id for s in report.shares if s.department_id}}


def role_specs() -> list[RoleSpec]:
    read = (("ReportView", "can_list|can_show"), ("Reports", "menu_access"))
    build = (("ReportView", "can_list|can_show|can_add|can_edit|can_delete"), ("Reports", "menu_access"))
    return [
        RoleSpec("Dispatcher", build),
        RoleSpec("Supervisor", build),
        RoleSpec("Department staff", read),
    ]  # the fieldservice plugin gives the EOC viewer "read", the fema plugin the FEMA coordinator "build"
