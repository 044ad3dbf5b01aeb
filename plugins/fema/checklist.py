"""What to fix before exporting a disaster's records: each check one SQL query (GROUP BY, bounded), never a
Python loop over all the rows.

- equipment used whose unit has no rate in the disaster's schedule (no FEMA code, or the schedule's rate is
  missing or "see note");
- more than 24 hours in one day for one person;
- straight-time (regular) hours of budgeted staff on emergency work (categories A and B): not eligible;
- standby hours recorded on equipment: not eligible;
- load tickets without a loading or a disposal monitor;
- sites without photos.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.orm import Session

from plugins.fema.models import (EMERGENCY_CATEGORIES, Disaster, Employee, Equipment, EquipmentEntry, LaborEntry,
                                 LoadTicket, Site, SitePhoto)

LIMIT = 200  # problems listed per kind
KINDS = {
    "equipment_without_rate": _l("Equipment without a rate"),
    "over_24_hours": _l("More than 24 hours in a day"),
    "budgeted_straight_time": _l("Straight time of budgeted staff on A/B work"),
    "standby_hours": _l("Standby hours recorded"),
    "ticket_without_monitor": _l("Load tickets without a monitor"),
    "site_without_photos": _l("Sites without photos"),
}


@dataclass(frozen=True)
class Problem:
    """One thing to fix: its kind (a key of KINDS), a sentence, and the record it is about (id and label)."""

    kind: str
    message: str
    record_id: int | None = None
    label: str = ""
    count: int = 1


def _hours(value) -> str:
    return f"{Decimal(str(value or 0)).normalize():f}"


def equipment_without_rate(session: Session, disaster: Disaster) -> list[Problem]:
    """Units used in the disaster (one GROUP BY) whose FEMA code has no rate ("see note" counts as none)."""
    used = session.execute(
        select(Equipment.id, Equipment.unit_number, Equipment.description, Equipment.fema_code, func.count(EquipmentEntry.id))
        .join(EquipmentEntry, EquipmentEntry.equipment_id == Equipment.id)
        .where(EquipmentEntry.disaster_id == disaster.id)
        .group_by(Equipment.id, Equipment.unit_number, Equipment.description, Equipment.fema_code)
        .order_by(Equipment.unit_number)
    ).all()
    from plugins.fema import rates

    found = rates.rates_by_code(session, rates.schedule_for(session, disaster), [u.fema_code for u in used])
    rated = {code for code, (rate, _unit) in found.items() if rate is not None}
    problems = []
    for unit_id, unit_number, description, code, count in used:
        if code and code.strip() in rated:
            continue
        label = f"{unit_number} {description}"
        message = (gettext("%(unit)s: FEMA code %(code)s has no rate in the disaster's schedule (%(count)s entries)",
                           unit=label, code=code, count=count) if code
                   else gettext("%(unit)s: no FEMA cost code (%(count)s entries)", unit=label, count=count))
        problems.append(Problem("equipment_without_rate", message, unit_id, label, count))
    return problems


def over_24_hours(session: Session, disaster: Disaster) -> list[Problem]:
    total = func.sum(LaborEntry.regular_hours + LaborEntry.overtime_hours)
    rows = session.execute(
        select(LaborEntry.employee_id, Employee.employee_number, LaborEntry.work_date, total.label("hours"), func.count(LaborEntry.id))
        .join(Employee, Employee.id == LaborEntry.employee_id)
        .where(LaborEntry.disaster_id == disaster.id)
        .group_by(LaborEntry.employee_id, Employee.employee_number, LaborEntry.work_date)
        .having(total > 24)
        .order_by(LaborEntry.work_date, Employee.employee_number)
        .limit(LIMIT)
    ).all()
    return [Problem("over_24_hours", gettext("Employee %(number)s: %(hours)s hours on %(date)s (%(count)s entries)",
                                             number=number, hours=_hours(hours), date=day.isoformat(), count=count),
                    employee_id, number, count)
            for employee_id, number, day, hours, count in rows]


def budgeted_straight_time(session: Session, disaster: Disaster) -> list[Problem]:
    rows = session.execute(
        select(Employee.id, Employee.employee_number, func.sum(LaborEntry.regular_hours), func.count(LaborEntry.id))
        .join(LaborEntry, LaborEntry.employee_id == Employee.id)
        .where(LaborEntry.disaster_id == disaster.id, Employee.budgeted.is_(True),
               LaborEntry.category.in_(sorted(EMERGENCY_CATEGORIES)), LaborEntry.regular_hours > 0)
        .group_by(Employee.id, Employee.employee_number)
        .order_by(Employee.employee_number)
        .limit(LIMIT)
    ).all()
    return [Problem("budgeted_straight_time",
                    gettext("Employee %(number)s (budgeted): %(hours)s regular hours on A/B work are not eligible (%(count)s entries)",
                            number=number, hours=_hours(hours), count=count), employee_id, number, count)
            for employee_id, number, hours, count in rows]


def standby_hours(session: Session, disaster: Disaster) -> list[Problem]:
    rows = session.execute(
        select(Equipment.id, Equipment.unit_number, Equipment.description, func.sum(EquipmentEntry.standby_hours),
               func.count(EquipmentEntry.id))
        .join(EquipmentEntry, EquipmentEntry.equipment_id == Equipment.id)
        .where(EquipmentEntry.disaster_id == disaster.id, EquipmentEntry.standby_hours > 0)
        .group_by(Equipment.id, Equipment.unit_number, Equipment.description)
        .order_by(Equipment.unit_number)
        .limit(LIMIT)
    ).all()
    return [Problem("standby_hours", gettext("%(unit)s: %(hours)s standby hours recorded (not eligible; %(count)s entries)",
                                             unit=f"{unit} {description}", hours=_hours(hours), count=count),
                    unit_id, f"{unit} {description}", count)
            for unit_id, unit, description, hours, count in rows]


def _blank(column):
    return or_(column.is_(None), func.trim(column) == "")


def ticket_without_monitor(session: Session, disaster: Disaster) -> list[Problem]:
    where = and_(LoadTicket.disaster_id == disaster.id, or_(_blank(LoadTicket.loading_monitor), _blank(LoadTicket.disposal_monitor)))
    count = session.scalar(select(func.count()).select_from(LoadTicket).where(where)) or 0
    if not count:
        return []
    rows = session.execute(select(LoadTicket.id, LoadTicket.ticket_number, LoadTicket.loading_monitor, LoadTicket.disposal_monitor)
                           .where(where).order_by(LoadTicket.ticket_number).limit(LIMIT)).all()
    problems = []
    for ticket_id, number, loading, disposal in rows:
        missing = [gettext("loading monitor")] if not (loading or "").strip() else []
        missing += [gettext("disposal monitor")] if not (disposal or "").strip() else []
        problems.append(Problem("ticket_without_monitor", gettext("Load ticket %(number)s: no %(missing)s",
                                                                  number=number, missing=", ".join(missing)), ticket_id, number))
    if count > len(rows):
        problems.append(Problem("ticket_without_monitor", gettext("… and %(count)s more load tickets", count=count - len(rows)),
                                None, "", count - len(rows)))
    return problems


def site_without_photos(session: Session, disaster: Disaster) -> list[Problem]:
    where = and_(Site.disaster_id == disaster.id, ~exists().where(SitePhoto.site_id == Site.id))
    rows = session.execute(select(Site.id, Site.name).where(where).order_by(Site.name).limit(LIMIT)).all()
    problems = [Problem("site_without_photos", gettext("Site %(name)s has no photo", name=name), site_id, name) for site_id, name in rows]
    if len(rows) == LIMIT:
        more = (session.scalar(select(func.count()).select_from(Site).where(where)) or 0) - LIMIT
        if more > 0:
            problems.append(Problem("site_without_photos", gettext("… and %(count)s more sites", count=more), None, "", more))
    return problems


CHECKS = (equipment_without_rate, over_24_hours, budgeted_straight_time, standby_hours, ticket_without_monitor, site_without_photos)


def problems(session: Session, disaster: Disaster) -> list[Problem]:
    """Every problem of the disaster's records, kind by kind (in the order of KINDS)."""
    return [problem for check in CHECKS for problem in check(session, disaster)]


def counts(found: list[Problem]) -> dict[str, int]:
    """Records concerned, per kind (every kind present, 0 when clean)."""
    out = {kind: 0 for kind in KINDS}
    for problem in found:
        out[problem.kind] += problem.count
    return out
