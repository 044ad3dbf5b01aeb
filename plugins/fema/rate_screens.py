"""FEMA › Rate schedules: the editions of FEMA's Schedule of Equipment Rates imported (``civic fema
import-rates``), each with its effective date, number of rates and file hash; one edition's rates, searched
by cost code or equipment, a page at a time.  Read-only: the FEMA coordinator and dispatchers read them.
"""
from __future__ import annotations

from flask import abort, request
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, or_, select

from core.extensions import db
from core.formats import format_currency, format_date, format_datetime, format_number
from core.records import RoleSpec, ViewSpec
from plugins.fema.models import EquipmentRate, RateSchedule

PAGE_SIZE = 100
MAX_SEARCH = 100
UNIT_LABELS = {"hour": _l("hour"), "mile": _l("mile")}


def schedules_with_counts(session) -> list[tuple[RateSchedule, int]]:
    """Every edition, newest first, with its number of rates (one GROUP BY)."""
    counts = (select(EquipmentRate.schedule_id, func.count().label("n"))
              .group_by(EquipmentRate.schedule_id).subquery())
    stmt = (select(RateSchedule, func.coalesce(counts.c.n, 0))
            .outerjoin(counts, counts.c.schedule_id == RateSchedule.id)
            .order_by(RateSchedule.effective_from.desc(), RateSchedule.edition.desc()))
    return [(schedule, n) for schedule, n in session.execute(stmt)]


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def rates_page(session, schedule: RateSchedule, search: str, page: int) -> tuple[list[EquipmentRate], int]:
    """One page of an edition's rates by code, those whose code or equipment contains ``search``; the total."""
    where = [EquipmentRate.schedule_id == schedule.id]
    if search:
        pattern = f"%{_escape_like(search.lower())}%"
        where.append(or_(func.lower(EquipmentRate.code).like(pattern, escape="\\"),
                         func.lower(EquipmentRate.equipment).like(pattern, escape="\\")))
    total = session.scalar(select(func.count()).select_from(EquipmentRate).where(*where))
    rows = session.scalars(select(EquipmentRate).where(*where).order_by(EquipmentRate.code)
                           .offset(page * PAGE_SIZE).limit(PAGE_SIZE))
    return list(rows), total


class RateScheduleView(BaseView):
    """The imported editions of the schedule, and the rates of one."""

    route_base = "/fema/rates"
    default_view = "index"
    base_permissions = ["can_list", "can_show"]
    method_permission_name = {"index": "list", "rates": "show"}

    @expose("/")
    @has_access
    def index(self):
        return self.render_template(
            "fema/rate_schedules.html", title=gettext("Rate schedules"), schedules=schedules_with_counts(db.session),
            format_date=format_date, format_datetime=format_datetime, format_number=format_number,
        )

    @expose("/<edition>")
    @has_access
    def rates(self, edition: str):
        schedule = db.session.scalar(select(RateSchedule).where(RateSchedule.edition == edition[:10]))
        if schedule is None:
            abort(404, description=gettext("No rate schedule of edition %(edition)s has been imported.", edition=edition[:10]))
        search = request.args.get("q", "").strip()
        if len(search) > MAX_SEARCH:
            abort(400, description=gettext("%(field)s: at most %(max)s characters", field=gettext("Search"), max=MAX_SEARCH))
        page = request.args.get("page", "0")
        if not page.isdigit() or len(page) > 6:
            abort(400, description=gettext("%(field)s: must be a page number", field=gettext("Page")))
        rows, total = rates_page(db.session, schedule, search, int(page))
        return self.render_template(
            "fema/rate_schedule.html", title=gettext("Rates of edition %(edition)s", edition=schedule.edition),
            schedule=schedule, rows=rows, total=total, search=search, page=int(page),
            pages=max(1, -(-total // PAGE_SIZE)), unit_labels=UNIT_LABELS,
            format_date=format_date, format_currency=format_currency, format_number=format_number,
        )


# ---------------------------------------------------------------- registration (plugins.fema.screens)

def view_specs() -> list[ViewSpec]:
    return [ViewSpec("Rate schedules", RateScheduleView, _l("Rate schedules"), "FEMA", _l("FEMA"), "fa-table")]


def role_specs() -> list[RoleSpec]:
    read = (("RateScheduleView", "can_list|can_show"), ("FEMA|Rate schedules", "menu_access"))
    return [RoleSpec("FEMA coordinator", read), RoleSpec("Dispatcher", read)]
