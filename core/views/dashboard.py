"""The staff dashboard: open cases by department and status, overdue cases, today's intake by channel.

Every number is one aggregate query (GROUP BY on indexed columns), scoped like
the case list, so the page costs the same at a thousand cases as at millions.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time, timedelta, timezone

from flask import current_app
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.extensions import db
from core.i18n_content import localized
from core.models import CHANNELS, OPEN_STATUSES, STATUSES, Case, Department
from core.models.base import utcnow
from core.security import department_case_scope
from core.formats import city_timezone, timezone_name
from core.views.cases import case_list_url, channel_label, status_label

# Open statuses in workflow order (the columns of the table).
OPEN_COLUMNS = [code for code in STATUSES if code in OPEN_STATUSES]
OVERDUE_LIST_SIZE = 10


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
    stmt = select(Case).where(Case.status.in_(OPEN_STATUSES), Case.expected_at < now_utc).order_by(Case.expected_at).limit(limit)
    return list(session.scalars(_scoped(stmt, scope)))


def intake_by_channel(session: Session, scope, start: datetime, end: datetime) -> dict[str, int]:
    """New cases per channel between two naive-UTC instants."""
    stmt = select(Case.channel, func.count()).where(Case.created_at >= start, Case.created_at < end).group_by(Case.channel)
    return dict(session.execute(_scoped(stmt, scope)).all())


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
            today=start.replace(tzinfo=timezone.utc).astimezone(tz).date(),
            timezone_name=timezone_name(),
            widgets=sorted((w for w in widgets if w.html), key=lambda p: p.order),
            case_list_url=case_list_url,
            localized=localized,
            now_utc=now,
        )
