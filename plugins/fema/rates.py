"""FEMA's Schedule of Equipment Rates: import an edition from FEMA's CSV, and find the rate that applies.

FEMA republishes the schedule (2017, 2019, 2021, 2023, 2025 ...) and its CSV drifts from one edition to the
next: stray spaces in the headers, a "2019 Updated Rate" or "2025 Rates" column, rates written ``$1.62 ``
or ``see note``, units ``Hour``/``hour``/``MILE``, rows without a code.  ``import_rates`` copes with all of
this and reports what it could not read; ``schedule_for`` and ``rate_for`` answer "which schedule, which rate"
for a disaster (the checklist and the exports call exactly these).
"""
from __future__ import annotations

import csv
import hashlib
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path

from flask_babel import gettext
from sqlalchemy import delete, select

from core.models.base import utcnow
from plugins.fema.models import Disaster, EquipmentRate, RateSchedule

HERE = Path(__file__).resolve().parent
SAMPLE_FILE = HERE / "data" / "rates-2025-sample.csv"
SAMPLE_EDITION = "2025"
SAMPLE_EFFECTIVE_FROM = date(2025, 1, 1)

HEADER_SEARCH_LINES = 10  # a title or a blank line may come before the header row
MAX_RATE = Decimal("99999999.9999")  # what Numeric(12, 4) holds
COLUMN_SIZES = {"code": 10, "equipment": 200, "specification": 200, "capacity": 100, "horsepower": 30, "unit": 10}


class RateFileError(Exception):
    """The file cannot be read as a rate schedule at all: nothing was loaded."""


@dataclass
class RateImportReport:
    """What an import did: rows imported, rows of the earlier import of the edition replaced, rows skipped."""

    edition: str
    effective_from: date
    sha256: str
    imported: int = 0
    replaced: int = 0
    skipped: list[tuple[int, str]] = field(default_factory=list)  # (line of the file, reason)

    def lines(self) -> list[str]:
        """What the command prints (in the admin's language when called inside ``cli_language``)."""
        out = [gettext("line %(line)s: %(reason)s", line=line, reason=reason) for line, reason in self.skipped]
        out.append(gettext("edition %(edition)s (effective from %(date)s): %(imported)s rates imported, "
                           "%(replaced)s earlier rates replaced, %(skipped)s lines skipped or noted; sha256 %(sha)s",
                           edition=self.edition, date=self.effective_from.isoformat(), imported=self.imported,
                           replaced=self.replaced, skipped=len(self.skipped), sha=self.sha256[:12]))
        return out


# ---------------------------------------------------------------- reading the file

def _norm(header: str) -> str:
    return " ".join(header.replace("\ufeff", "").split()).lower()


def _field_of(header: str) -> str | None:
    """Which field of ours a header names, whatever its spaces and case (None: a column we do not keep)."""
    h = _norm(header)
    if not h:
        return None
    if "code" in h:
        return "code"
    if "rate" in h:
        return "rate"
    if h.startswith("equipment"):
        return "equipment"
    if h.startswith("specification"):
        return "specification"
    if "capacity" in h or h == "size":
        return "capacity"
    if h in ("hp", "horsepower", "horse power"):
        return "horsepower"
    if h.startswith("note"):
        return "notes"
    if h == "unit" or h.startswith("unit "):
        return "unit"
    return None


def _header_map(row: list[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for index, header in enumerate(row):
        name = _field_of(header)
        if name and name not in found:
            found[name] = index
    return found


def _decode(data: bytes) -> str:
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise RateFileError(gettext("not a text file (neither UTF-8 nor Windows-1252)"))


def parse_rate(text: str) -> tuple[Decimal | None, str | None]:
    """``"$1,234.50 "`` -> (Decimal("1234.50"), None); ``"see note"`` -> (None, None);
    anything else unreadable -> (None, the reason)."""
    cleaned = re.sub(r"[\s$,\u00a0]", "", text or "")
    if not cleaned:
        return None, gettext("no rate")
    if "note" in cleaned.lower():
        return None, None
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        value = None
    if value is None or not value.is_finite() or value < 0 or value > MAX_RATE:
        return None, gettext("rate is not a number: %(text)s", text=repr(text.strip()))
    return value.quantize(Decimal("0.0001")), None


@dataclass
class _Row:
    line: int
    values: dict


def read_rows(data: bytes, report: RateImportReport) -> list[_Row]:
    """The rows of the file, one per code (a later row of a code replaces an earlier one, with a note)."""
    reader = csv.reader(io.StringIO(_decode(data), newline=""))
    columns: dict[str, int] = {}
    try:
        for row in reader:
            columns = _header_map(row)
            if "code" in columns and "rate" in columns:
                break
            if reader.line_num >= HEADER_SEARCH_LINES:
                break
        if "code" not in columns or "rate" not in columns:
            raise RateFileError(gettext("no header row with a cost code column and a rate column in its first lines"))
        by_code: dict[str, _Row] = {}
        for row in reader:
            line = reader.line_num
            if not any(cell.strip() for cell in row):
                continue  # a blank line
            values = {name: (row[i].strip() if i < len(row) else "") for name, i in columns.items()}
            reason = _check(values)
            if reason:
                report.skipped.append((line, reason))
                continue
            earlier = by_code.get(values["code"])
            if earlier is not None:
                report.skipped.append((earlier.line, gettext("code %(code)s appears again on line %(line)s: the later row is kept",
                                                             code=values["code"], line=line)))
            by_code[values["code"]] = _Row(line, values)
    except csv.Error as exc:
        raise RateFileError(gettext("not a readable CSV file (line %(line)s: %(error)s)", line=reader.line_num, error=exc)) from None
    return list(by_code.values())


def _check(values: dict) -> str | None:
    """Clean one row in place; the reason it cannot be imported, or None."""
    code = values.get("code", "")
    if not code:
        what = " ".join(v for v in (values.get("equipment", ""), values.get("capacity", "")) if v)
        return gettext("no cost code (%(what)s)", what=what) if what else gettext("no cost code")
    if len(code) > COLUMN_SIZES["code"]:
        return gettext("cost code too long: %(code)s", code=repr(code))
    rate, problem = parse_rate(values.get("rate", ""))
    if problem:
        return gettext("code %(code)s: %(problem)s", code=code, problem=problem)
    raw_rate = values["rate"]
    values["rate"] = rate
    unit = _norm(values.get("unit", "")) or "hour"
    if len(unit) > COLUMN_SIZES["unit"]:
        return gettext("code %(code)s: %(problem)s", code=code, problem=gettext("unit too long: %(unit)s", unit=repr(unit)))
    values["unit"] = unit
    notes = values.get("notes", "")
    if rate is None and not notes:
        notes = raw_rate.strip()  # "see note" with an empty Notes column: keep what the rate said
    values["notes"] = notes
    for name in ("equipment", "specification", "capacity", "horsepower"):
        values[name] = values.get(name, "")[: COLUMN_SIZES[name]]
    return None


# ---------------------------------------------------------------- loading it

def default_effective_from(edition: str) -> date:
    """1 January of the edition's year ("2019" -> 2019-01-01)."""
    match = re.match(r"(\d{4})", edition)
    if not match:
        raise RateFileError(gettext("edition %(edition)s does not start with a year: give the date it takes effect from",
                                    edition=repr(edition)))
    return date(int(match.group(1)), 1, 1)


def import_rates(session, path: str | Path, edition: str, effective_from: date | None = None) -> RateImportReport:
    """Load one edition of the schedule from a CSV file, replacing an earlier import of that edition, in one
    transaction (committed here).  Raises RateFileError, with nothing loaded, when the file cannot be read."""
    edition = (edition or "").strip()
    if not edition or len(edition) > 10:
        raise RateFileError(gettext("the edition must be 1 to 10 characters, such as 2019"))
    effective = effective_from or default_effective_from(edition)
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise RateFileError(gettext("cannot read the file (%(error)s)", error=exc.strerror or exc)) from None
    report = RateImportReport(edition, effective, hashlib.sha256(data).hexdigest())
    rows = read_rows(data, report)
    if not rows:
        raise RateFileError(gettext("no rate could be read from the file"))
    try:
        schedule = session.scalar(select(RateSchedule).where(RateSchedule.edition == edition))
        if schedule is None:
            schedule = RateSchedule(edition=edition)
            session.add(schedule)
        else:
            report.replaced = session.execute(delete(EquipmentRate).where(EquipmentRate.schedule_id == schedule.id)).rowcount
        schedule.effective_from = effective
        schedule.source_name = Path(path).name[:255]
        schedule.sha256 = report.sha256
        schedule.imported_at = utcnow()
        session.flush()
        session.add_all(EquipmentRate(schedule_id=schedule.id, **row.values) for row in rows)
        session.commit()
    except Exception:
        session.rollback()
        raise
    report.imported = len(rows)
    return report


def load_sample_rates(session) -> RateImportReport | None:
    """For ``civic fema demo``: the sample schedule as edition 2025, effective 2025-01-01, unless there is one."""
    if session.scalar(select(RateSchedule.id).where(RateSchedule.edition == SAMPLE_EDITION)) is not None:
        return None
    return import_rates(session, SAMPLE_FILE, SAMPLE_EDITION, SAMPLE_EFFECTIVE_FROM)


# ---------------------------------------------------------------- which schedule, which rate

def reference_date(disaster: Disaster) -> date | None:
    """The declaration date, or the day the event began for the city while it is not declared."""
    if disaster.declaration_date:
        return disaster.declaration_date
    started = disaster.started_at
    return started.date() if isinstance(started, datetime) else started


def schedule_for(session, disaster: Disaster) -> RateSchedule | None:
    """The disaster's ``rate_edition`` when set (None if that edition is not imported), else the newest
    schedule in effect on its declaration date (the event's start while not declared)."""
    if disaster.rate_edition:
        return session.scalar(select(RateSchedule).where(RateSchedule.edition == disaster.rate_edition))
    when = reference_date(disaster)
    if when is None:
        return None
    stmt = (select(RateSchedule).where(RateSchedule.effective_from <= when)
            .order_by(RateSchedule.effective_from.desc(), RateSchedule.id.desc()).limit(1))
    return session.scalar(stmt)


def rates_by_code(session, schedule: RateSchedule | None, codes: Iterable[str | None]) -> dict[str, tuple[Decimal | None, str]]:
    """{code: (rate, unit)} of the given codes in one query (for lists and exports: no query per row)."""
    wanted = sorted({c.strip() for c in codes if c and c.strip()})
    if schedule is None or not wanted:
        return {}
    out: dict[str, tuple[Decimal | None, str]] = {}
    for start in range(0, len(wanted), 500):
        stmt = select(EquipmentRate.code, EquipmentRate.rate, EquipmentRate.unit).where(
            EquipmentRate.schedule_id == schedule.id, EquipmentRate.code.in_(wanted[start:start + 500]))
        out.update({code: (rate, unit) for code, rate, unit in session.execute(stmt)})
    return out


def rate_for(session, disaster: Disaster, code: str | None) -> tuple[Decimal | None, str] | None:
    """(rate, unit) of a FEMA cost code in the schedule that applies to the disaster; the rate is None for
    "see note".  None when no schedule applies or the code is not in it."""
    if not code or not code.strip():
        return None
    return rates_by_code(session, schedule_for(session, disaster), [code]).get(code.strip())
