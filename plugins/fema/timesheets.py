"""Timesheet CSV import: one force-account labor entry per good row, each bad row reported by line and reason.

Columns (header names matched loosely: case, spaces, punctuation and common synonyms do not matter):
employee number, date, regular hours, overtime hours, category, site (name or id), description, case reference
(optional).  Rates are the employee's current ones.  A row identical to one already recorded (same employee, date,
hours, category and site) is skipped and reported, so importing a file twice does not double the hours.
"""
from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import IO, Iterable

from flask_babel import gettext
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.formats import city_today
from plugins.fema.costs import money
from plugins.fema.models import CATEGORIES, Disaster, Employee, LaborEntry, Site

MAX_HOURS = Decimal("24")
CHUNK = 500  # rows per INSERT batch and per IN (...) lookup
COLUMNS = {
    "employee": ("employeenumber", "employeeno", "employee", "employeeid", "empno", "empnumber", "empid", "badge", "badgenumber"),
    "date": ("date", "workdate", "day", "dateworked"),
    "regular": ("regularhours", "regular", "reghours", "reg", "straighttime", "sthours", "hours"),
    "overtime": ("overtimehours", "overtime", "othours", "ot"),
    "category": ("category", "cat", "fema category", "workcategory"),
    "site": ("site", "sitename", "siteid", "location", "facility"),
    "description": ("description", "workperformed", "notes", "work"),
    "case": ("casereference", "case", "casenumber", "caseref", "reference"),
}
REQUIRED = ("employee", "date", "regular", "category", "site")


@dataclass
class ImportResult:
    """What an import did: rows inserted, rows skipped as already recorded, rows refused (line, reason)."""

    inserted: int = 0
    duplicates: list[int] = field(default_factory=list)
    errors: list[tuple[int, str]] = field(default_factory=list)


class TimesheetError(ValueError):
    """The file as a whole cannot be read (no header, a required column missing)."""


def _key(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", (name or "").lower())


def match_columns(header: Iterable[str]) -> dict[str, int]:
    """Which position holds each of our columns; raises TimesheetError naming the missing ones."""
    found: dict[str, int] = {}
    for index, name in enumerate(header):
        key = _key(name)
        for column, aliases in COLUMNS.items():
            if column not in found and key in {_key(a) for a in aliases}:
                found[column] = index
                break
    missing = [c for c in REQUIRED if c not in found]
    if missing:
        raise TimesheetError(gettext("Missing columns: %(columns)s", columns=", ".join(missing)))
    return found


def parse_date(text: str) -> date:
    text = text.strip()
    for fmt in ("%Y-%m-%d", "%m/%d/%Y", "%m/%d/%y", "%d.%m.%Y"):
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise ValueError(text)


def parse_hours(text: str) -> Decimal:
    text = (text or "").strip()
    if not text:
        return Decimal("0")
    value = Decimal(text)
    if not value.is_finite():
        raise InvalidOperation(text)
    return value


@dataclass
class _Row:
    line: int
    employee_number: str
    work_date: date
    regular: Decimal
    overtime: Decimal
    category: str
    site: str
    description: str
    case_reference: str


def _read_rows(reader, columns: dict[str, int], today: date, result: ImportResult) -> list[_Row]:
    rows = []
    for line, cells in reader:
        if not any(c.strip() for c in cells):
            continue

        def cell(name: str) -> str:
            i = columns.get(name)
            return cells[i].strip() if i is not None and i < len(cells) else ""

        problems = []
        try:
            work_date = parse_date(cell("date"))
            if work_date > today:
                problems.append(gettext("date %(date)s is in the future", date=work_date.isoformat()))
        except ValueError:
            work_date = None
            problems.append(gettext("bad date “%(value)s” (expected YYYY-MM-DD or MM/DD/YYYY)", value=cell("date")))
        hours = []
        for name, label in (("regular", gettext("regular hours")), ("overtime", gettext("overtime hours"))):
            try:
                value = parse_hours(cell(name))
                if value < 0 or value > MAX_HOURS:
                    problems.append(gettext("%(field)s must be between 0 and 24", field=label))
                hours.append(value)
            except InvalidOperation:
                problems.append(gettext("%(field)s: “%(value)s” is not a number", field=label, value=cell(name)))
                hours.append(Decimal("0"))
        if len(hours) == 2 and sum(hours) > MAX_HOURS:
            problems.append(gettext("more than 24 hours in one day"))
        category = cell("category").upper()
        if category not in CATEGORIES:
            problems.append(gettext("unknown category “%(value)s” (A to G)", value=cell("category")))
        if not cell("employee"):
            problems.append(gettext("employee number is missing"))
        if not cell("site"):
            problems.append(gettext("site is missing"))
        if problems:
            result.errors.append((line, "; ".join(problems)))
            continue
        rows.append(_Row(line, cell("employee"), work_date, money(hours[0]), money(hours[1]), category, cell("site"),
                         cell("description"), cell("case")))
    return rows


def _lookup(session: Session, disaster: Disaster, rows: list[_Row]):
    """Employees, sites and cases named by the rows: bounded IN (...) queries, chunked."""
    from core.models import Case

    def chunks(values):
        values = sorted(values)
        for i in range(0, len(values), CHUNK):
            yield values[i:i + CHUNK]

    employees: dict[str, Employee] = {}
    for part in chunks({r.employee_number for r in rows}):
        employees.update({e.employee_number: e for e in session.scalars(select(Employee).where(Employee.employee_number.in_(part)))})
    names = {r.site for r in rows}
    ids = {int(n) for n in names if n.isdigit() and len(n) < 10}
    sites: dict[str, int] = {}
    for part in chunks(names):
        for site_id, name in session.execute(select(Site.id, Site.name).where(Site.disaster_id == disaster.id, Site.name.in_(part))):
            sites[name] = site_id
    for part in chunks(ids):
        for (site_id,) in session.execute(select(Site.id).where(Site.disaster_id == disaster.id, Site.id.in_(part))):
            sites.setdefault(str(site_id), site_id)
    cases: dict[str, int] = {}
    for part in chunks({r.case_reference for r in rows if r.case_reference}):
        cases.update(dict(session.execute(select(Case.reference, Case.id).where(Case.reference.in_(part))).all()))
    return employees, sites, cases


def _existing(session: Session, disaster: Disaster, employee_ids: set[int], first: date, last: date) -> set[tuple]:
    """Labor rows already recorded for these employees in the file's period (the duplicate check)."""
    found = set()
    ids = sorted(employee_ids)
    for i in range(0, len(ids), CHUNK):
        query = select(LaborEntry.employee_id, LaborEntry.work_date, LaborEntry.regular_hours, LaborEntry.overtime_hours,
                       LaborEntry.category, LaborEntry.site_id).where(
            LaborEntry.disaster_id == disaster.id, LaborEntry.employee_id.in_(ids[i:i + CHUNK]),
            LaborEntry.work_date.between(first, last))
        found.update((e, d, money(Decimal(r)), money(Decimal(o)), c, s) for e, d, r, o, c, s in session.execute(query))
    return found


def plan_timesheets(session: Session, disaster: Disaster, stream: IO[str] | str, created_by_id: int | None = None,
                    today: date | None = None) -> tuple[list[tuple[int, LaborEntry]], ImportResult]:
    """Read a timesheet CSV: the labor entries its good rows make, each with its line (not added to the session),
    and the rows skipped as already recorded or refused.  The staff screen shows this as a preview."""
    text = stream if isinstance(stream, str) else stream.read()
    text = text.lstrip("\ufeff")
    sample = text[:4096]
    try:
        dialect = csv.Sniffer().sniff(sample, delimiters=",;\t") if sample else csv.excel
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text), dialect)
    header = next(reader, None)
    if not header:
        raise TimesheetError(gettext("The file is empty."))
    columns = match_columns(header)
    result = ImportResult()
    rows = _read_rows(((reader.line_num, cells) for cells in reader), columns, today or city_today(), result)
    if not rows:
        result.errors.sort()
        return [], result
    employees, sites, cases = _lookup(session, disaster, rows)
    known = {e.id for e in employees.values()}
    existing = _existing(session, disaster, known, min(r.work_date for r in rows), max(r.work_date for r in rows)) if known else set()
    planned: list[tuple[int, LaborEntry]] = []
    for row in rows:
        employee, site_id = employees.get(row.employee_number), sites.get(row.site)
        problems = []
        if employee is None:
            problems.append(gettext("unknown employee “%(value)s”", value=row.employee_number))
        if site_id is None:
            problems.append(gettext("unknown site “%(value)s”", value=row.site))
        if row.case_reference and row.case_reference not in cases:
            problems.append(gettext("unknown case “%(value)s”", value=row.case_reference))
        if problems:
            result.errors.append((row.line, "; ".join(problems)))
            continue
        key = (employee.id, row.work_date, row.regular, row.overtime, row.category, site_id)
        if key in existing:
            result.duplicates.append(row.line)
            continue
        existing.add(key)
        planned.append((row.line, new_labor_entry(employee, disaster_id=disaster.id, site_id=site_id, work_date=row.work_date,
                                                  category=row.category, regular_hours=row.regular, overtime_hours=row.overtime,
                                                  description=row.description, case_id=cases.get(row.case_reference),
                                                  created_by_id=created_by_id)))
    result.errors.sort()
    return planned, result


def import_timesheets(session: Session, disaster: Disaster, stream: IO[str] | str, created_by_id: int | None = None,
                      today: date | None = None) -> ImportResult:
    """Read a timesheet CSV and add its good rows as labor entries of ``disaster`` (the caller commits)."""
    planned, result = plan_timesheets(session, disaster, stream, created_by_id, today)
    for start in range(0, len(planned), CHUNK):
        session.add_all(entry for _, entry in planned[start:start + CHUNK])
        session.flush()
    result.inserted = len(planned)
    return result


def fill_rates(entry: LaborEntry, employee: Employee) -> None:
    """Rates left empty are copied from the employee (overtime = hourly rate x the employee's multiplier)."""
    if entry.hourly_rate is None:
        entry.hourly_rate = employee.hourly_rate
    if entry.overtime_rate is None:
        entry.overtime_rate = (Decimal(str(entry.hourly_rate)) * Decimal(str(employee.overtime_multiplier or 1))).quantize(Decimal("0.0001"))
    if entry.fringe_regular_pct is None:
        entry.fringe_regular_pct = employee.fringe_regular_pct
    if entry.fringe_overtime_pct is None:
        entry.fringe_overtime_pct = employee.fringe_overtime_pct


def new_labor_entry(employee: Employee, **values) -> LaborEntry:
    """A labor entry with the employee's current rates."""
    entry = LaborEntry(employee_id=employee.id, hourly_rate=None, overtime_rate=None, fringe_regular_pct=None,
                       fringe_overtime_pct=None, **values)
    fill_rates(entry, employee)
    return entry


def find_disaster(session: Session, number_or_tag: str) -> Disaster | None:
    return session.scalar(select(Disaster).where((Disaster.number == number_or_tag) | (Disaster.tag == number_or_tag)))


def run_cli_import(path: str, number_or_tag: str) -> ImportResult:
    """``civic fema import-timesheets FILE --disaster DR-4468``: import, commit, print what was skipped and why."""
    import click

    from core.extensions import db

    disaster = find_disaster(db.session, number_or_tag)
    if disaster is None:
        raise click.BadParameter(gettext("no disaster numbered or tagged “%(value)s”", value=number_or_tag), param_hint="--disaster")
    try:
        with open(path, encoding="utf-8-sig", newline="") as handle:
            result = import_timesheets(db.session, disaster, handle)
    except (TimesheetError, UnicodeDecodeError, csv.Error) as exc:
        db.session.rollback()
        raise click.ClickException(gettext("%(file)s: %(error)s (nothing was imported)", file=click.format_filename(path), error=exc)) from None
    db.session.commit()
    click.echo(gettext("%(count)s row(s) imported into %(disaster)s.", count=result.inserted, disaster=str(disaster)))
    if result.duplicates:
        click.echo(gettext("%(count)s row(s) already recorded, skipped: line %(lines)s", count=len(result.duplicates),
                           lines=", ".join(map(str, result.duplicates))))
    for line, reason in result.errors:
        click.echo(gettext("line %(line)s: %(reason)s", line=line, reason=reason))
    return result
