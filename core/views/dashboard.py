"""The staff dashboard: open cases by department and status, overdue cases, today's intake by channel,
the weekly median time to close (last 12 weeks) and this week's busiest services.

Every number is one aggregate query (GROUP BY on indexed columns), scoped to each department's own cases
(all of them for dispatchers and admins, like the "cases" report subject), so the page costs the same at a
thousand cases as at millions.  Plugins add blocks through ``dashboard_widgets`` (the intake plugin's
satisfaction trend uses ``week_starts`` and ``weekly`` from here, so both trends share one calendar).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from functools import partial

from babel import dates
from flask import current_app
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access
from flask_babel import lazy_gettext as _l
from markupsafe import Markup
from sqlalchemy import func, select
from sqlalchemy.orm import Session, joinedload

from core.extensions import db
from core.i18n_content import localized
from core.metrics import seconds_between
from core.models import CHANNELS, OPEN_STATUSES, STATUSES, Case, Department, ServiceType
from core.models.base import utcnow
from core.reports.charts import duration_tick_unit, render_chart
from core.reports.formatting import format_value
from core.reports.sql import as_date, bucket, percentile
from core.security import department_case_scope
from core.formats import city_timezone, format_locale, timezone_name
from core.views.cases import case_list_url, channel_label, status_label

# Open statuses in workflow order (the columns of the table).
OPEN_COLUMNS = [code for code in STATUSES if code in OPEN_STATUSES]
OVERDUE_LIST_SIZE = 10
TREND_WEEKS = 12
TOP_SERVICES = 5
RATING_SCALE = (1, 2, 3, 4, 5)


@dataclass
class DepartmentRow:
    id: int
    name: str
    by_status: dict[str, int] = field(default_factory=dict)
    overdue: int = 0

    @property
    def total(self) -> int:
        return sum(self.by_status.values())


def _scoped(stmt, scope):
    return stmt if scope is None else stmt.where(scope)


def today_bounds_utc(now_utc: datetime, tz) -> tuple[datetime, datetime]:
    """Midnight to midnight of the city's today, as naive UTC (how the database stores time)."""
    local_today = now_utc.replace(tzinfo=timezone.utc).astimezone(tz).date()
    start = datetime.combine(local_today, time.min, tzinfo=tz)
    end = datetime.combine(local_today + timedelta(days=1), time.min, tzinfo=tz)
    return tuple(t.astimezone(timezone.utc).replace(tzinfo=None) for t in (start, end))


def open_by_department(session: Session, scope, now_utc: datetime) -> list[DepartmentRow]:
    """Open cases per department and status, and how many of them are overdue."""
    is_open = Case.status.in_(OPEN_STATUSES)
    counts = session.execute(
        _scoped(select(Case.department_id, Case.status, func.count()).where(is_open), scope).group_by(Case.department_id, Case.status)
    ).all()
    overdue = session.execute(
        _scoped(select(Case.department_id, func.count()).where(is_open, Case.expected_at < now_utc), scope).group_by(Case.department_id)
    ).all()
    ids = {d for d, _, _ in counts} | {d for d, _ in overdue}
    departments = session.execute(select(Department.id, Department.name, Department.translations).where(Department.id.in_(ids))).all() if ids else []
    names = {d.id: localized(d, "name") for d in departments}  # in the request's language
    rows = {i: DepartmentRow(i, names.get(i, str(i))) for i in ids}
    for department_id, status, n in counts:
        rows[department_id].by_status[status] = n
    for department_id, n in overdue:
        rows[department_id].overdue = n
    return sorted(rows.values(), key=lambda r: r.name.lower())


def most_overdue(session: Session, scope, now_utc: datetime, limit: int = OVERDUE_LIST_SIZE) -> list[Case]:
    """The open cases furthest past their expected date (uses the expected_at index)."""
    stmt = (select(Case).where(Case.status.in_(OPEN_STATUSES), Case.expected_at < now_utc).order_by(Case.expected_at).limit(limit)
            .options(joinedload(Case.service_type), joinedload(Case.department)))  # the list shows both: no query per row
    return list(session.scalars(_scoped(stmt, scope)))


def intake_by_channel(session: Session, scope, start: datetime, end: datetime) -> dict[str, int]:
    """New cases per channel between two naive-UTC instants."""
    stmt = select(Case.channel, func.count()).where(Case.created_at >= start, Case.created_at < end).group_by(Case.channel)
    return dict(session.execute(_scoped(stmt, scope)).all())


# ---------------------------------------------------------------- trends


def local_midnight_utc(day: date, tz) -> datetime:
    """The start of a day on the city's calendar, as naive UTC."""
    return datetime.combine(day, time.min, tzinfo=tz).astimezone(timezone.utc).replace(tzinfo=None)


def week_starts(today: date, count: int = TREND_WEEKS) -> list[date]:
    """The Mondays of the last ``count`` weeks on the city's calendar, oldest first; this week is the last."""
    monday = today - timedelta(days=today.weekday())
    return [monday - timedelta(weeks=count - 1 - i) for i in range(count)]


def short_day(day: date) -> str:
    """A week's Monday on a chart axis: ``Nov 23`` / ``23 nov.``."""
    return dates.format_skeleton("MMMd", day, locale=format_locale())


def weekly(session: Session, stmt, column, weeks: list[date]) -> list:
    """The value ``stmt`` selects (one aggregate, with its FROM, joins and scope) for each week of ``weeks``
    that ``column`` (a naive-UTC timestamp) falls in, on the city's calendar; None for a week without rows.
    One GROUP BY."""
    tz = city_timezone()
    key = bucket(column, "week", tz.key)
    stmt = stmt.add_columns(key.label("week")).where(column >= local_midnight_utc(weeks[0], tz)).group_by(key)
    found = {as_date(week): value for value, week in session.execute(stmt)}
    return [found.get(week) for week in weeks]


def close_time_trend(session: Session, scope, weeks: list[date]) -> list[float | None]:
    """The median time to close (seconds) of the cases closed in each week: by the week they closed, so a
    recent week is not flattered by counting only the cases that happened to close quickly."""
    median = percentile(seconds_between(Case.created_at, Case.closed_at), 0.5)
    return weekly(session, _scoped(select(median).select_from(Case), scope), Case.closed_at, weeks)


def trend_chart(weeks: list[date], name, values: list, kind: str, title) -> Markup:
    """A line chart of one value per week (a measure ``kind`` of core.reports.formatting), labelled with the
    weeks' Mondays; durations count in minutes, hours or days, ratings on their 1 to 5 scale."""
    numbers = [v for v in values if v is not None]
    unit = duration_tick_unit(max(numbers, default=0)) if kind == "duration" else 1
    shown = partial(format_value, kind)
    return render_chart("line", [short_day(w) for w in weeks], [(str(name), values)], value_format=lambda v: "0" if v == 0 else shown(v),
                        title=str(title), tick_unit=unit, ticks=RATING_SCALE if kind == "rating" else None)


@dataclass
class ServiceCount:
    id: int
    code: str
    name: str
    count: int


def top_services(session: Session, scope, start: datetime, limit: int = TOP_SERVICES) -> list[ServiceCount]:
    """The services with the most new cases since ``start`` (naive UTC), busiest first: one GROUP BY,
    joined to the catalog for the names."""
    n = func.count(Case.id)
    counted = (_scoped(select(Case.service_type_id.label("id"), n.label("n")).where(Case.created_at >= start), scope)
               .group_by(Case.service_type_id).order_by(n.desc(), Case.service_type_id).limit(limit).subquery())
    rows = session.execute(
        select(ServiceType.id, ServiceType.code, ServiceType.name, ServiceType.translations, counted.c.n)
        .join(counted, counted.c.id == ServiceType.id).order_by(counted.c.n.desc(), ServiceType.code)
    ).all()
    return [ServiceCount(r.id, r.code, localized(r, "name"), r.n) for r in rows]


class DashboardView(BaseView):
    """One page of numbers for the signed-in staff member's departments (all of them for dispatchers)."""

    route_base = "/dashboard"
    default_view = "index"
    # Staff, crews and dispatchers hold "can_list" on the case screens (core/defaults.py).
    method_permission_name = {"index": "list"}
    base_permissions = ["can_list"]

    @expose("/")
    @has_access
    def index(self):
        session = db.session
        scope = department_case_scope()  # each department's own cases (not those it only holds a task on)
        now = utcnow()
        tz = city_timezone()
        start, end = today_bounds_utc(now, tz)
        rows = open_by_department(session, scope, now)
        intake = intake_by_channel(session, scope, start, end)
        today = start.replace(tzinfo=timezone.utc).astimezone(tz).date()
        weeks = week_starts(today)
        close_times = close_time_trend(session, scope, weeks)
        widgets = current_app.extensions["civic"].pm.flatten("dashboard_widgets")
        return self.render_template(
            "civic/dashboard.html",
            title=_l("Dashboard"),
            rows=rows,
            statuses=[(code, status_label(code)) for code in OPEN_COLUMNS],
            column_totals={code: sum(r.by_status.get(code, 0) for r in rows) for code in OPEN_COLUMNS},
            open_total=sum(r.total for r in rows),
            overdue_total=sum(r.overdue for r in rows),
            overdue_cases=most_overdue(session, scope, now),
            intake=[(code, channel_label(code), intake.get(code, 0)) for code in CHANNELS]
            + [(code, code, n) for code, n in intake.items() if code not in CHANNELS],
            intake_total=sum(intake.values()),
            today=today,
            close_chart=trend_chart(weeks, _l("Median time to close"), close_times, "duration", _l("Median time to close, by week closed")),
            week_start=weeks[-1],
            trend_weeks=len(weeks),
            top_services=top_services(session, scope, local_midnight_utc(weeks[-1], tz)),
            timezone_name=timezone_name(),
            widgets=sorted((w for w in widgets if w.html), key=lambda p: p.order),
            case_list_url=case_list_url,
            localized=localized,
            now_utc=now,
        )
