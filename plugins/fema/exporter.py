"""FEMA summary records out of the database: rows (streamed), grouping, totals, CSV and XLSX writers, the export
log (``ExportRecord``) and its reproduction.

Rows are read with ``yield_per`` (a server-side cursor on PostgreSQL): an export of 50,000 records never holds
them all in memory; grouped forms (labor: person x week, equipment: unit x operator x week) come ordered from SQL
and are grouped on the fly.

"Reproducible" means: the same disaster data, the recorded profile text, rate schedule edition, parameters and
settings (applicant, certifier) give a file with the same sha256.  CSV holds no timestamp; XLSX has its
"created" property set to the record's ``created_at`` (XlsxWriter writes fixed zip times), so both formats
reproduce byte for byte while the records they list are unchanged.
"""
from __future__ import annotations

import csv
import hashlib
from contextlib import closing
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Iterator

from sqlalchemy import func, select
from sqlalchemy.orm import aliased, joinedload

from core.models.base import utcnow
from plugins.fema import costs
from plugins.fema.models import (ContractEntry, Disaster, Employee, Equipment, EquipmentEntry, ExportRecord, LaborEntry,
                                 LoadTicket, MaterialEntry, RateSchedule, RentalEntry, Site)
from plugins.fema.profiles import DAYS, Profile, ProfileError, choose_profile, parse_profile

FORMATS = ("csv", "xlsx", "pdf")  # pdf: the package of plugins/fema/pdf_package.py
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
BATCH = 1000
ENTRY_MODELS = {"labor": LaborEntry, "equipment": EquipmentEntry, "materials": MaterialEntry, "rentals": RentalEntry,
                "contracts": ContractEntry, "load_tickets": LoadTicket}


class ExportError(ValueError):
    """A request that cannot be exported: ``field`` names what to fix."""

    def __init__(self, field_name: str, message: str):
        super().__init__(f"{field_name}: {message}")
        self.field = field_name
        self.message = message


@dataclass
class Params:
    """What was asked for (kept in ``ExportRecord.parameters``)."""

    form: str
    file_format: str = "csv"
    edition: str | None = None
    category: str | None = None
    date_from: date | None = None
    date_to: date | None = None

    def as_json(self) -> dict[str, Any]:
        return {"form": self.form, "format": self.file_format, "edition": self.edition, "category": self.category,
                "date_from": self.date_from.isoformat() if self.date_from else None,
                "date_to": self.date_to.isoformat() if self.date_to else None}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Params":
        day = lambda v: date.fromisoformat(v) if v else None  # noqa: E731
        return cls(data["form"], data.get("format", "csv"), data.get("edition"), data.get("category"),
                   day(data.get("date_from")), day(data.get("date_to")))


@dataclass
class Plan:
    """Everything an export is made from."""

    disaster: Disaster
    profile: Profile
    params: Params
    settings: dict[str, Any]  # applicant, applicant_pa_id, certifier (as used: recorded for reproduction)
    schedule: RateSchedule | None = None
    missing_rates: int = 0
    totals: dict[str, dict[str, Decimal]] = field(default_factory=dict)


# ---------------------------------------------------------------- rows


def _filtered(stmt, model, params: Params):
    if params.category:
        stmt = stmt.where(model.category == params.category)
    if params.date_from:
        stmt = stmt.where(model.work_date >= params.date_from)
    if params.date_to:
        stmt = stmt.where(model.work_date <= params.date_to)
    return stmt.execution_options(yield_per=BATCH)


def _week(day: date) -> date:
    return day - timedelta(days=day.weekday())


def _weekly(start: date, hours: dict[int, Decimal]) -> dict[str, Any]:
    row: dict[str, Any] = {"week.start": start, "week.end": start + timedelta(days=6),
                           "hours.total": sum(hours.values(), Decimal("0"))}
    for i, name in enumerate(DAYS):
        row[f"week.hours[{name}]"] = hours.get(i)
        row[f"week.date[{name}]"] = start + timedelta(days=i)
    return row


def _groups(entries, key) -> Iterator[list]:
    """Consecutive entries with the same key, as lists (the stream comes ordered from SQL)."""
    current, bucket = None, []
    for entry in entries:
        k = key(entry)
        if bucket and k != current:
            yield bucket
            bucket = []
        current = k
        bucket.append(entry)
    if bucket:
        yield bucket


# Labor and equipment are read as plain rows (the columns the forms print, their person or unit joined in), not
# as ORM objects: building 50,000 objects with their joined employee cost more than writing the whole file.
LABOR_COLUMNS = (LaborEntry.employee_id, LaborEntry.work_date, LaborEntry.regular_hours, LaborEntry.overtime_hours,
                 LaborEntry.hourly_rate, LaborEntry.overtime_rate, LaborEntry.fringe_regular_pct, LaborEntry.fringe_overtime_pct,
                 Employee.name.label("employee_name"), Employee.employee_number, Employee.job_title)


def _labor_rows(session, plan: Plan) -> Iterator[dict[str, Any]]:
    stmt = (select(*LABOR_COLUMNS).join(Employee, LaborEntry.employee_id == Employee.id)
            .where(LaborEntry.disaster_id == plan.disaster.id)
            .order_by(Employee.name, Employee.id, LaborEntry.work_date, LaborEntry.id))
    stmt = _filtered(stmt, LaborEntry, plan.params)
    key = lambda e: (e.employee_id, _week(e.work_date), e.hourly_rate, e.overtime_rate,  # noqa: E731
                     e.fringe_regular_pct, e.fringe_overtime_pct)
    labels = plan.profile.row_labels
    with closing(session.execute(stmt)) as result:  # a reader that stops early still frees the server-side cursor
        yield from _labor_groups(result, key, labels)


def _labor_groups(result, key, labels) -> Iterator[dict[str, Any]]:
    for group in _groups(result, key):
        first = group[0]
        regular: dict[int, Decimal] = {}
        overtime: dict[int, Decimal] = {}
        regular_cost = overtime_cost = Decimal("0")
        for e in group:
            day = e.work_date.weekday()
            regular[day] = regular.get(day, Decimal("0")) + costs.dec(e.regular_hours)
            overtime[day] = overtime.get(day, Decimal("0")) + costs.dec(e.overtime_hours)
            each = costs.labor_cost(e)  # each record to the cent, the row their sum (plugins/fema/cost_sql.py)
            regular_cost += each.regular
            overtime_cost += each.overtime
        start = _week(first.work_date)
        person = {"employee.name": first.employee_name, "employee.number": first.employee_number,
                  "employee.job_title": first.job_title, "empty": ""}
        reg, ot = _weekly(start, regular), _weekly(start, overtime)
        cost = costs.labor_cost(SimpleNamespace(
            regular_hours=reg["hours.total"], overtime_hours=ot["hours.total"], hourly_rate=first.hourly_rate,
            overtime_rate=first.overtime_rate, fringe_regular_pct=first.fringe_regular_pct,
            fringe_overtime_pct=first.fringe_overtime_pct))
        rate, ot_rate = costs.money(costs.dec(first.hourly_rate)), costs.money(costs.dec(first.overtime_rate))
        yield {**person, **reg, "_kind": "regular", "row.kind": labels.get("regular", "REG."), "rate.hourly": rate,
               "rate.benefit": cost.regular_benefit_per_hour, "rate.total": rate + cost.regular_benefit_per_hour,
               "cost.total": regular_cost}
        yield {**person, **ot, "_kind": "overtime", "row.kind": labels.get("overtime", "O.T."), "rate.hourly": ot_rate,
               "rate.benefit": cost.overtime_benefit_per_hour, "rate.total": ot_rate + cost.overtime_benefit_per_hour,
               "cost.total": overtime_cost}


def equipment_rates(session, plan: Plan) -> dict[str, tuple[Decimal | None, str]]:
    """{code: (rate, unit)} of every code used by the disaster's equipment, from the plan's schedule (one query each)."""
    from plugins.fema import rates  # helper module written alongside; imported when needed

    codes = session.scalars(select(Equipment.fema_code).distinct()
                            .join(EquipmentEntry, EquipmentEntry.equipment_id == Equipment.id)
                            .where(EquipmentEntry.disaster_id == plan.disaster.id))
    return rates.rates_by_code(session, plan.schedule, list(codes))


def _equipment_rows(session, plan: Plan) -> Iterator[dict[str, Any]]:
    table = equipment_rates(session, plan)
    operator = aliased(Employee)
    stmt = (select(EquipmentEntry.equipment_id, EquipmentEntry.operator_id, EquipmentEntry.work_date, EquipmentEntry.hours_used,
                   EquipmentEntry.miles, Equipment.unit_number, Equipment.description.label("unit_description"),
                   Equipment.size_capacity, Equipment.horsepower, Equipment.make_model, Equipment.fema_code,
                   operator.name.label("operator_name"))
            .join(Equipment, EquipmentEntry.equipment_id == Equipment.id)
            .outerjoin(operator, EquipmentEntry.operator_id == operator.id)
            .where(EquipmentEntry.disaster_id == plan.disaster.id)
            .order_by(Equipment.unit_number, Equipment.id, func.coalesce(EquipmentEntry.operator_id, 0),
                      EquipmentEntry.work_date, EquipmentEntry.id))
    stmt = _filtered(stmt, EquipmentEntry, plan.params)
    key = lambda e: (e.equipment_id, e.operator_id, _week(e.work_date))  # noqa: E731
    with closing(session.execute(stmt)) as result:
        yield from _equipment_groups(result, key, table, plan)


def _equipment_groups(result, key, table, plan: Plan) -> Iterator[dict[str, Any]]:
    for group in _groups(result, key):
        unit = first = group[0]
        hours: dict[int, Decimal] = {}
        for e in group:
            hours[e.work_date.weekday()] = hours.get(e.work_date.weekday(), Decimal("0")) + costs.dec(e.hours_used)
        row = _weekly(_week(first.work_date), hours)
        found = table.get((unit.fema_code or "").strip())
        rate, rate_unit = found if found else (None, "")
        each = [costs.equipment_cost(e, rate, rate_unit or "hour") for e in group]  # each record to the cent
        total = None if rate is None else sum(each, Decimal("0"))
        if total is None:
            plan.missing_rates += 1
        yield {**row, "_kind": "item", "empty": "", "equipment.unit_number": unit.unit_number,
               "equipment.description": unit.unit_description, "equipment.size": unit.size_capacity,
               "equipment.hp": unit.horsepower, "equipment.make_model": unit.make_model,
               "equipment.code": unit.fema_code or "", "operator.name": first.operator_name or "",
               "rate.equipment": rate, "rate.unit": rate_unit, "cost.total": total}


def _common(e) -> dict[str, Any]:
    return {"_kind": "item", "empty": "", "work_date": e.work_date, "category": e.category,
            "site.name": e.site_name or "", "description": e.description}


def _record_rows(session, plan: Plan, model, order, values) -> Iterator[dict[str, Any]]:
    """One row per record, read as plain rows (the record's columns and its site's name), not ORM objects."""
    stmt = (select(*model.__table__.columns, Site.name.label("site_name"))
            .outerjoin(Site, model.site_id == Site.id)
            .where(model.disaster_id == plan.disaster.id).order_by(*order, model.id))
    with closing(session.execute(_filtered(stmt, model, plan.params))) as result:
        for e in result:
            yield {**_common(e), **values(e)}


def _ticket_rows(session, plan: Plan) -> Iterator[dict[str, Any]]:
    """Load tickets need their truck's certification: ORM objects, the site and the truck joined in."""
    stmt = (select(LoadTicket).options(joinedload(LoadTicket.site), joinedload(LoadTicket.truck))
            .where(LoadTicket.disaster_id == plan.disaster.id)
            .order_by(LoadTicket.work_date, LoadTicket.ticket_number, LoadTicket.id))
    with closing(session.scalars(_filtered(stmt, LoadTicket, plan.params))) as result:
        for e in result:
            yield {"_kind": "item", "empty": "", "work_date": e.work_date, "category": e.category,
                   "site.name": e.site.name if e.site else "", "description": e.description, **_ticket(e)}


def _material(e) -> dict[str, Any]:
    return {"material.vendor": e.vendor, "material.item": e.item, "material.quantity": e.quantity,
            "material.unit_price": e.unit_price, "material.date_purchased": e.date_purchased,
            "material.from_stock": e.from_stock, "material.invoice": e.invoice_number, "cost.total": costs.material_cost(e)}


def _rental(e) -> dict[str, Any]:
    return {"rental.vendor": e.vendor, "rental.equipment_type": e.equipment_type, "rental.hours": e.hours_used,
            "rental.rate": e.rate, "rental.with_operator": e.with_operator, "rental.invoice": e.invoice_number,
            "rental.date_paid": e.date_paid, "rental.amount_paid": e.amount_paid, "rental.check_number": e.check_number,
            "cost.total": costs.rental_cost(e)}


def _contract(e) -> dict[str, Any]:
    return {"contract.contractor": e.contractor, "contract.number": e.contract_number, "contract.date_to": e.date_to,
            "contract.invoice": e.invoice_number, "contract.date_paid": e.date_paid, "contract.amount_paid": e.amount_paid,
            "contract.check_number": e.check_number, "contract.mutual_aid": e.mutual_aid, "cost.total": costs.contract_cost(e)}


def _ticket(e) -> dict[str, Any]:
    return {"ticket.number": e.ticket_number, "ticket.contract_number": e.contract_number,
            "truck.contractor": e.truck.contractor, "truck.number": e.truck.truck_number, "truck.plate": e.truck.plate,
            "truck.capacity_cy": e.truck.capacity_cy, "ticket.driver": e.driver, "ticket.loading_location": e.loading_location,
            "ticket.lat": e.lat, "ticket.long": e.long, "ticket.loaded_at": e.loaded_at, "ticket.debris_type": e.debris_type,
            "ticket.load_call_pct": e.load_call_pct, "ticket.quantity_cy": costs.load_quantity_cy(e.truck.capacity_cy, e.load_call_pct),
            "ticket.disposal_site": e.disposal_site, "ticket.arrived_at": e.arrived_at,
            "ticket.loading_monitor": e.loading_monitor, "ticket.disposal_monitor": e.disposal_monitor}


def _site_rows(session, plan: Plan) -> Iterator[dict[str, Any]]:
    stmt = select(Site).where(Site.disaster_id == plan.disaster.id).order_by(Site.category, Site.name, Site.id)
    if plan.params.category:
        stmt = stmt.where(Site.category == plan.params.category)
    with closing(session.scalars(stmt.execution_options(yield_per=BATCH))) as result:
        yield from (_site_row(s) for s in result)


def _site_row(s: Site) -> dict[str, Any]:
    return {"_kind": "item", "empty": "", "site.category": s.category, "site.name": s.name, "site.address": s.address,
            "site.lat": s.lat, "site.long": s.long, "site.damage_description": s.damage_description, "site.cause": s.cause,
            "site.cost_estimate": s.cost_estimate, "site.percent_complete": s.percent_complete,
            "site.labor_type": s.labor_type, "site.environmental_issues": s.environmental_issues,
            "site.insured": s.insured, "site.priority": s.priority}


def rows(session, plan: Plan) -> Iterator[dict[str, Any]]:
    """The data rows of the export, each a {source: value} dict plus ``_kind`` (regular | overtime | item)."""
    form = plan.profile.form
    if form == "labor":
        return _labor_rows(session, plan)
    if form == "equipment":
        return _equipment_rows(session, plan)
    if form == "damage_inventory":
        return _site_rows(session, plan)
    if form == "load_tickets":
        return _ticket_rows(session, plan)
    model = ENTRY_MODELS[form]
    values = {"materials": _material, "rentals": _rental, "contracts": _contract}[form]
    return _record_rows(session, plan, model, (model.work_date,), values)


def _totalled(plan: Plan, stream: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Pass rows through while adding up the profile's total columns by row kind."""
    plan.totals = {}
    for row in stream:
        sums = plan.totals.setdefault(row["_kind"], {})
        for source in plan.profile.totals:
            if row.get(source) is not None:
                sums[source] = sums.get(source, Decimal("0")) + costs.dec(row[source])
        yield row


def total_rows(plan: Plan) -> list[tuple[str, dict[str, Decimal]]]:
    """(label, {source: sum}) lines under the data: by row kind when the profile asks, then the grand total."""
    if not plan.profile.totals:
        return []
    labels, out = plan.profile.total_labels, []
    if plan.profile.totals_by_kind:
        for kind in ("regular", "overtime"):
            out.append((labels.get(kind, kind.upper()), plan.totals.get(kind, {})))
    grand: dict[str, Decimal] = {}
    for sums in plan.totals.values():
        for source, value in sums.items():
            grand[source] = grand.get(source, Decimal("0")) + value
    out.append((labels["grand"], grand))
    return out


# ---------------------------------------------------------------- header and certification


def _period(session, plan: Plan) -> tuple[date | None, date | None]:
    p = plan.params
    model = ENTRY_MODELS.get(plan.profile.form)
    if model is None or (p.date_from and p.date_to):
        return p.date_from, p.date_to
    stmt = select(func.min(model.work_date), func.max(model.work_date)).where(model.disaster_id == plan.disaster.id)
    if p.category:
        stmt = stmt.where(model.category == p.category)
    first, last = session.execute(stmt).one()
    return p.date_from or first, p.date_to or last


def header_values(session, plan: Plan) -> list[tuple[str, Any]]:
    d, s = plan.disaster, plan.settings
    start, end = _period(session, plan)
    known = {"applicant": s.get("applicant", ""), "pa_id": d.applicant_pa_id or s.get("applicant_pa_id", ""),
             "disaster.number": d.number or "", "disaster.title": d.title, "disaster.declaration_date": d.declaration_date,
             "project_number": "", "site": "", "category": plan.params.category or "", "period.from": start,
             "period.to": end, "description": "", "form_number": plan.profile.form_numbers[0] if plan.profile.form_numbers else "",
             "profile.id": plan.profile.id, "profile.edition": plan.profile.edition, "empty": ""}
    return [(f.label, known[f.source]) for f in plan.profile.header]


def certification_values(plan: Plan) -> list[tuple[str, Any]]:
    who = plan.settings.get("certifier") or {}
    known = {"certifier.name": who.get("name", ""), "certifier.title": who.get("title", ""), "certifier.date": "",
             "empty": ""}
    return [(f.label, known[f.source]) for f in plan.profile.certification]


# ---------------------------------------------------------------- writers


def safe_text(value: str) -> str:
    """A text cell that a spreadsheet would run as a formula gets a leading apostrophe."""
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def csv_cell(value: Any, kind: str = "text") -> str:
    if value is None:
        return ""
    exact = type(value)  # the two commonest cells first: a 50,000-row export writes over half a million
    if exact is str:
        return "'" + value if value.startswith(FORMULA_STARTS) else value
    if exact is Decimal:
        return str(costs.money(value)) if kind in ("money", "hours") else str(value)
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(costs.money(value)) if kind in ("money", "hours") else str(value)
    if isinstance(value, (int, float)):
        return str(value)
    return safe_text(str(value))


def write_csv(session, plan: Plan, path: Path) -> int:
    """The record as CSV: title, header block, column headers, rows, totals, certification.  Returns the row count."""
    profile, count = plan.profile, 0
    with open(path, "w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow([safe_text(profile.title), safe_text(" / ".join(profile.form_numbers))])
        for label, value in header_values(session, plan):
            out.writerow([safe_text(label), csv_cell(value)])
        out.writerow([])
        out.writerow([safe_text(c.label) for c in profile.columns])
        columns = [(c.source, profile.kind_of(c.source)) for c in profile.columns]
        for row in _totalled(plan, rows(session, plan)):
            out.writerow([csv_cell(row.get(source), kind) for source, kind in columns])
            count += 1
        for label, sums in total_rows(plan):
            cells = [csv_cell(sums.get(c.source, Decimal("0")), profile.kind_of(c.source)) if c.source in profile.totals else ""
                     for c in profile.columns]
            cells[0] = safe_text(label)
            out.writerow(cells)
        out.writerow([])
        if profile.certification_text:
            out.writerow([safe_text(profile.certification_text)])
        for label, value in certification_values(plan):
            out.writerow([safe_text(label), csv_cell(value)])
    return count


def write_xlsx(session, plan: Plan, path: Path, created: datetime) -> int:
    """The record as XLSX (XlsxWriter, constant memory): text always written as strings, money as numbers."""
    import xlsxwriter

    profile, count = plan.profile, 0
    book = xlsxwriter.Workbook(str(path), {"constant_memory": True, "strings_to_formulas": False,
                                           "strings_to_urls": False, "strings_to_numbers": False})
    book.set_properties({"title": profile.title, "created": created, "author": "Civic Connect"})
    bold = book.add_format({"bold": True})
    fmt = {"money": book.add_format({"num_format": "#,##0.00"}), "hours": book.add_format({"num_format": "0.00"}),
           "date": book.add_format({"num_format": "yyyy-mm-dd"}), "datetime": book.add_format({"num_format": "yyyy-mm-dd hh:mm"}),
           "number": None}
    total_fmt = {k: book.add_format({"bold": True, "num_format": v}) for k, v in (("money", "#,##0.00"), ("hours", "0.00"), ("number", "General"))}
    sheet = book.add_worksheet(profile.form[:31])

    def cell(r: int, c: int, value: Any, kind: str = "text", style=None) -> None:
        if value is None or value == "":
            return
        if isinstance(value, bool):
            sheet.write_string(r, c, "Yes" if value else "No")
        elif isinstance(value, datetime):
            sheet.write_datetime(r, c, value, fmt["datetime"])
        elif isinstance(value, date):
            sheet.write_datetime(r, c, datetime(value.year, value.month, value.day), fmt["date"])
        elif isinstance(value, (Decimal, int, float)):
            number = float(costs.money(value)) if isinstance(value, Decimal) and kind in ("money", "hours") else float(value)
            sheet.write_number(r, c, number, style or fmt.get(kind))
        else:
            sheet.write_string(r, c, str(value), style)

    r = 0
    cell(r, 0, profile.title, style=bold)
    cell(r, 1, " / ".join(profile.form_numbers))
    for label, value in header_values(session, plan):
        r += 1
        cell(r, 0, label, style=bold)
        cell(r, 1, value)
    r += 2
    for c, column in enumerate(profile.columns):
        cell(r, c, column.label, style=bold)
    for row in _totalled(plan, rows(session, plan)):
        r += 1
        count += 1
        for c, column in enumerate(profile.columns):
            cell(r, c, row.get(column.source), profile.kind_of(column.source))
    for label, sums in total_rows(plan):
        r += 1
        cell(r, 0, label, style=bold)
        for c, column in enumerate(profile.columns):
            if column.source in profile.totals:
                kind = profile.kind_of(column.source)
                cell(r, c, sums.get(column.source, Decimal("0")), kind, total_fmt.get(kind))
    r += 1
    if profile.certification_text:
        r += 1
        cell(r, 0, profile.certification_text)
    for label, value in certification_values(plan):
        r += 1
        cell(r, 0, label, style=bold)
        cell(r, 1, value)
    book.close()
    return count


# ---------------------------------------------------------------- running, recording, reproducing


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 16), b""):
            digest.update(chunk)
    return digest.hexdigest()


def find_disaster(session, key: str) -> Disaster | None:
    """A disaster by its number (DR-4468) or its tag."""
    return session.scalar(select(Disaster).where((Disaster.number == key) | (Disaster.tag == key)))


def current_settings() -> dict[str, Any]:
    from flask import current_app

    fema = current_app.extensions["civic"].plugin_config.get("fema") or {}
    return {"applicant": fema.get("applicant", ""), "applicant_pa_id": fema.get("applicant_pa_id", ""),
            "certifier": dict(fema.get("certifier") or {})}


def plan_export(session, disaster: Disaster, params: Params, profiles: dict[str, Profile], settings: dict[str, Any]) -> Plan:
    """Check the request and choose the profile and rate schedule (ExportError naming the field otherwise)."""
    from flask_babel import gettext

    from plugins.fema import rates

    if params.file_format not in FORMATS:
        raise ExportError("format", gettext("must be one of %(choices)s", choices=", ".join(FORMATS)))
    if params.category and (len(params.category) != 1 or params.category not in "ABCDEFG"):
        raise ExportError("category", gettext("must be a letter from A to G"))
    if params.date_from and params.date_to and params.date_from > params.date_to:
        raise ExportError("date_to", gettext("must not be before the start of the period"))
    if params.form not in {p.form for p in profiles.values()}:
        raise ExportError("form", gettext("no export profile for the form %(form)s", form=params.form))
    try:
        profile = choose_profile(profiles, params.form, disaster, params.edition)
    except ProfileError:
        if params.edition or (disaster.profile_editions or {}).get(params.form):
            raise ExportError("edition", gettext("no profile of this edition for the form %(form)s", form=params.form)) from None
        raise ExportError("form", gettext("no profile of the form %(form)s is in effect on the declaration date; choose an edition",
                                          form=params.form)) from None
    schedule = rates.schedule_for(session, disaster) if profile.form == "equipment" or params.file_format == "pdf" else None
    return Plan(disaster, profile, params, settings, schedule)


def write(session, plan: Plan, path: Path, created: datetime) -> int:
    if plan.params.file_format == "xlsx":
        return write_xlsx(session, plan, path, created)
    if plan.params.file_format == "pdf":
        from plugins.fema import pdf_package

        return pdf_package.write_pdf(session, plan, path, created)
    return write_csv(session, plan, path)


def run_export(session, disaster: Disaster, params: Params, path: Path, who: str,
               profiles: dict[str, Profile], settings: dict[str, Any] | None = None) -> tuple[ExportRecord, Plan]:
    """Write the export to ``path`` and log it (committed).  Returns the record and the plan (for its checks)."""
    settings = current_settings() if settings is None else settings
    plan = plan_export(session, disaster, params, profiles, settings)
    created = utcnow().replace(microsecond=0)
    count = write(session, plan, Path(path), created)
    record = ExportRecord(
        disaster_id=disaster.id, form=params.form, profile=plan.profile.id, profile_sha256=plan.profile.sha256,
        rate_edition=plan.schedule.edition if plan.schedule else None,
        rate_sha256=plan.schedule.sha256 if plan.schedule else None, file_format=params.file_format,
        parameters={**params.as_json(), "profile_toml": plan.profile.text, "settings": settings},
        row_count=count, file_sha256=file_sha256(Path(path)), created_by=who[:120], created_at=created)
    session.add(record)
    session.commit()
    return record, plan


@dataclass
class Reproduction:
    record: ExportRecord
    sha256: str
    row_count: int
    notes: list[str]

    @property
    def matches(self) -> bool:
        return self.sha256 == self.record.file_sha256


def reproduce(session, record: ExportRecord, path: Path) -> Reproduction:
    """Re-run a logged export with its recorded profile text, rate schedule edition, parameters and settings."""
    from flask_babel import gettext

    params = Params.from_json(record.parameters)
    profile = parse_profile(record.parameters["profile_toml"], f"export {record.id} ({record.profile})")
    notes = []
    if profile.sha256 != record.profile_sha256:
        notes.append(gettext("the recorded profile text has sha256 %(actual)s, not %(recorded)s", actual=profile.sha256,
                             recorded=record.profile_sha256))
    schedule = None
    if record.rate_edition:
        schedule = session.scalar(select(RateSchedule).where(RateSchedule.edition == record.rate_edition))
        if schedule is None:
            notes.append(gettext("rate schedule %(edition)s is no longer in the database", edition=record.rate_edition))
        elif schedule.sha256 != record.rate_sha256:
            notes.append(gettext("rate schedule %(edition)s was re-imported from another file (sha256 %(sha)s)",
                                 edition=record.rate_edition, sha=schedule.sha256))
    plan = Plan(record.disaster, profile, params, record.parameters.get("settings") or {}, schedule)
    count = write(session, plan, Path(path), record.created_at.replace(microsecond=0))
    if count != record.row_count:
        notes.append(gettext("%(now)s rows now, %(then)s then: the records changed since", now=count, then=record.row_count))
    return Reproduction(record, file_sha256(Path(path)), count, notes)
