"""FEMA costs as a report subject, and a disaster filter on the cases (and work orders) subjects.

``fema_costs`` counts one row per cost record of every kind that carries an amount (labor, equipment use,
materials, rentals, contracts and mutual aid; load tickets carry cubic yards, not dollars, and stay out).  The
rows are one UNION ALL in SQL with common columns, and each amount is computed there by the rules of
``plugins/fema/costs.py``:

- labor: regular hours x (rate + benefit) + overtime hours x (overtime rate + benefit);
- equipment: hours actually used (miles for a rate per mile; standby never) x the rate of the disaster's
  schedule (its ``rate_edition``, else the newest in effect on the declaration date: ``rates.schedule_for``
  written as a correlated subquery); no rate: no amount, as in the exports;
- materials: quantity x unit price; rentals: hours x rate; contracts: the amount billed.

Each record's amount is rounded to the cent and totals are sums of records (``cost_sql``), as in the exports
and the PDF package, so a report's total for a category, a site or a week is the exports' to the cent.

Who may use it: FEMA coordinators, dispatchers and admins see every record; department staff the records of
their departments (labor: the employee's department; equipment: the unit's; the rest: the linked case's).
"""
from __future__ import annotations

from functools import lru_cache

from flask_babel import lazy_gettext as _l
from sqlalchemy import Integer, Numeric, String, and_, case, cast, false, func, literal_column, null, or_, select, union_all

from core.models import Case, Department
from core.records import RoleSpec
from core.reports.cases import catalog_choices, catalog_labels, code_in, fixed_choices, fixed_labels, tagged
from core.reports.subjects import Choice, Dimension, Filter, Measure, Subject, SubjectFields
from core.security import role_names, user_department_ids
from plugins.fema import cost_sql
from plugins.fema.models import (CATEGORIES, ContractEntry, Disaster, Equipment, EquipmentEntry, EquipmentRate, Employee,
                                 LaborEntry, MaterialEntry, RateSchedule, RentalEntry, Site)

SEES_ALL = frozenset({"Admin", "Dispatcher", "FEMA coordinator"})
MAY_REPORT = SEES_ALL | {"Department staff"}
KINDS = {"labor": _l("Labor"), "equipment": _l("Equipment use"), "materials": _l("Materials"),
         "rentals": _l("Rented equipment"), "contracts": _l("Contracts and mutual aid")}
AMOUNT = Numeric(14, 2)
HOURS = Numeric(9, 2)


# ---------------------------------------------------------------- the rows


def _kind(code: str):
    return literal_column(f"'{code}'", String(20)).label("kind")


def _common(model, kind: str, department, amount, hours):
    return [model.id.label("record_id"), _kind(kind), model.disaster_id.label("disaster_id"),
            model.category.label("category"), model.site_id.label("site_id"), cast(department, Integer).label("department_id"),
            model.case_id.label("case_id"), model.work_date.label("work_date"), cast(amount, AMOUNT).label("amount"),
            cast(hours, HOURS).label("hours")]


def schedule_of_disaster():
    """The id of the rate schedule that applies to the disaster row in the outer query (``rates.schedule_for``)."""
    day = func.coalesce(Disaster.declaration_date, func.date(Disaster.started_at))
    by_edition = select(RateSchedule.id).where(RateSchedule.edition == Disaster.rate_edition).limit(1).scalar_subquery()
    in_effect = (select(RateSchedule.id).where(RateSchedule.effective_from <= day)
                 .order_by(RateSchedule.effective_from.desc(), RateSchedule.id.desc()).limit(1).scalar_subquery())
    return case((func.coalesce(Disaster.rate_edition, "") != "", by_edition), else_=in_effect)


def _labor():
    return (select(*_common(LaborEntry, "labor", Employee.department_id, cost_sql.labor(),
                            LaborEntry.regular_hours + LaborEntry.overtime_hours))
            .join(Employee, Employee.id == LaborEntry.employee_id))


def _equipment():
    schedules = select(Disaster.id.label("disaster_id"), schedule_of_disaster().label("schedule_id")).subquery("fema_disaster_schedule")
    amount = cost_sql.equipment(EquipmentRate.rate, EquipmentRate.unit)
    return (select(*_common(EquipmentEntry, "equipment", Equipment.department_id, amount,
                            EquipmentEntry.hours_used))
            .join(Equipment, Equipment.id == EquipmentEntry.equipment_id)
            .join(schedules, schedules.c.disaster_id == EquipmentEntry.disaster_id)
            .outerjoin(EquipmentRate, and_(EquipmentRate.schedule_id == schedules.c.schedule_id,
                                           EquipmentRate.code == func.trim(Equipment.fema_code))))


def _linked(model, kind: str, amount, hours):
    return (select(*_common(model, kind, Case.department_id, amount, hours))
            .outerjoin(Case, Case.id == model.case_id))


@lru_cache(maxsize=1)
def cost_rows():
    """The UNION ALL of every kind of cost record (built once: dimensions and measures point to its columns)."""
    return union_all(
        _labor(),
        _equipment(),
        _linked(MaterialEntry, "materials", cost_sql.materials(), null()),
        _linked(RentalEntry, "rentals", cost_sql.rentals(), RentalEntry.hours_used),
        _linked(ContractEntry, "contracts", cost_sql.contracts(), null()),
    ).subquery("fema_costs")


# ---------------------------------------------------------------- labels, choices, scope


def _disaster_labels(session, ids):
    rows = session.scalars(select(Disaster).where(Disaster.id.in_(ids))).all() if ids else []
    return {d.id: str(d) for d in rows}


def _disaster_choices(session):
    rows = session.scalars(select(Disaster).order_by(Disaster.started_at.desc()).limit(200)).all()
    return [Choice(d.number or d.tag, str(d)) for d in rows]


def disaster_ids(values):
    """Disasters named by number (DR-4468) or tag (hurricane-milton)."""
    return select(Disaster.id).where(or_(Disaster.number.in_(values), Disaster.tag.in_(values)))


def _site_labels(session, ids):
    return dict(session.execute(select(Site.id, Site.name).where(Site.id.in_(ids))).all()) if ids else {}


def _site_choices(session):
    rows = session.execute(select(Site.id, Site.name, Disaster.number, Disaster.tag).join(Disaster, Disaster.id == Site.disaster_id)
                           .order_by(Disaster.started_at.desc(), Site.name).limit(500)).all()
    return [Choice(str(r.id), f"{r.name} ({r.number or r.tag})") for r in rows]


def _site_condition(values):
    ids = [int(v) for v in values if v.isdigit() and len(v) < 10]
    return cost_rows().c.site_id.in_(ids)


def may_report(user) -> bool:
    return bool(role_names(user) & MAY_REPORT)


def scope(user):
    if not may_report(user):
        return false()
    if role_names(user) & SEES_ALL:
        return None
    return cost_rows().c.department_id.in_(user_department_ids(user))


# ---------------------------------------------------------------- the subject


def _sum_of(kind: str):
    rows = cost_rows()
    return lambda: func.sum(case((rows.c.kind == kind, rows.c.amount)))


def fema_costs_subject() -> Subject:
    rows = cost_rows()
    return Subject(
        code="fema_costs",
        label=_l("FEMA costs"),
        source=lambda: rows,
        date=lambda: rows.c.work_date,
        date_label=_l("Work date"),
        date_is_day=True,
        scope=scope,
        allowed=may_report,
        order=60,
        dimensions=[
            Dimension("disaster", _l("Disaster"), lambda: rows.c.disaster_id, _disaster_labels),
            Dimension("kind", _l("Kind of cost"), lambda: rows.c.kind, fixed_labels(KINDS)),
            Dimension("category", _l("Category"), lambda: rows.c.category, fixed_labels(CATEGORIES)),
            Dimension("department", _l("Department"), lambda: rows.c.department_id, catalog_labels(Department)),
            Dimension("site", _l("Site"), lambda: rows.c.site_id, _site_labels),
        ],
        filters=[
            Filter("disaster", _l("Disaster"), lambda values: rows.c.disaster_id.in_(disaster_ids(values)), _disaster_choices),
            Filter("kind", _l("Kind of cost"), lambda values: rows.c.kind.in_(values), fixed_choices(KINDS)),
            Filter("category", _l("Category"), lambda values: rows.c.category.in_([v.upper() for v in values]),
                   fixed_choices(CATEGORIES)),
            Filter("department", _l("Department"), code_in(rows.c.department_id, Department), catalog_choices(Department)),
            Filter("site", _l("Site"), _site_condition, _site_choices),
        ],
        measures=[
            Measure("total", _l("Total cost"), lambda: func.sum(rows.c.amount), "money"),
            Measure("labor", _l("Labor cost"), _sum_of("labor"), "money"),
            Measure("equipment", _l("Equipment cost"), _sum_of("equipment"), "money"),
            Measure("materials", _l("Materials"), _sum_of("materials"), "money"),
            Measure("rentals", _l("Rented equipment"), _sum_of("rentals"), "money"),
            Measure("contracts", _l("Contracts and mutual aid"), _sum_of("contracts"), "money"),
            Measure("hours", _l("Hours"), lambda: func.sum(rows.c.hours), "number"),
            Measure("records", _l("Records"), lambda: func.count(rows.c.record_id)),
        ],
        default_measures=("total", "records"),
    )


def subjects() -> list[Subject]:
    return [fema_costs_subject()]


def role_specs() -> list[RoleSpec]:
    """FEMA coordinators build, save and share reports (the Reports screens are the core's)."""
    return [RoleSpec("FEMA coordinator", (("ReportView", "can_list|can_show|can_add|can_edit|can_delete"),
                                          ("Reports", "menu_access")))]


# ---------------------------------------------------------------- the disaster filter on cases and work orders


def _tagged_with_disaster(case_id_column):
    """Cases carrying the tag of the disasters named (by number or tag)."""
    by_tag = tagged(case_id_column)

    def condition(values):
        from core.extensions import db

        tags = db.session.scalars(select(Disaster.tag).where(Disaster.id.in_(disaster_ids(values)))).all()
        return by_tag(tags) if tags else false()

    return condition


def fields() -> list[SubjectFields]:
    from core.models import Task

    return [
        SubjectFields("cases", filters=[Filter("disaster", _l("Disaster"), _tagged_with_disaster(Case.id), _disaster_choices)]),
        SubjectFields("work_orders", filters=[Filter("disaster", _l("Disaster"), _tagged_with_disaster(Task.case_id),
                                                      _disaster_choices)]),
    ]
