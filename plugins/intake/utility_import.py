"""Load the city's utility billing export (CSV) into ``intake_utility_account``.

``civic intake import-utility-accounts FILE`` calls ``import_utility_accounts``.  The export has
one row per account: account number, service address, lat, long, holder last name, ZIP and an
optional zone.  Header names are matched loosely ("Account #", "ACCT_NO", "Service Address",
"Latitude", "Last Name", "Zip Code" ...), rows are upserted by account number, and each refused
row is reported with its line number and a reason that never repeats the holder's name.
"""
from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass, field
from pathlib import Path

from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.models.base import utcnow
from plugins.intake.accounts import normalise_account_number, normalise_name, normalise_zip
from plugins.intake.models import UtilityAccount, address_key

# Our field -> header spellings seen in billing exports (compared lower-case, letters and digits only).
HEADERS: dict[str, tuple[str, ...]] = {
    "account_number": ("accountnumber", "account", "accountno", "accountnum", "acctnumber", "acctno", "acctnum", "acct",
                       "utilityaccount", "utilityaccountnumber", "customeraccount", "customeraccountnumber"),
    "service_address": ("serviceaddress", "address", "serviceaddr", "premiseaddress", "premise", "location", "streetaddress"),
    "lat": ("lat", "latitude", "y"),
    "long": ("long", "lon", "lng", "longitude", "x"),
    "holder_last_name": ("holderlastname", "lastname", "holder", "holdername", "surname", "accountholderlastname",
                         "customerlastname", "familyname", "name"),
    "zipcode": ("zip", "zipcode", "zip5", "postalcode", "postcode", "servicezip"),
    "zone": ("zone", "servicezone", "district", "area"),
}
REQUIRED = ("account_number", "service_address", "lat", "long", "holder_last_name", "zipcode")
LIMITS = {"account_number": 40, "service_address": 300, "holder_last_name": 120, "zipcode": 10, "zone": 50}
BATCH = 500

# How a column is named in messages.
LABELS = {
    "account_number": _l("account number"), "service_address": _l("service address"), "lat": "lat", "long": "long",
    "holder_last_name": _l("holder last name"), "zipcode": _l("ZIP"), "zone": _l("zone"),
}


class ImportFileError(Exception):
    """The file cannot be read as an export at all (missing columns, not a CSV); nothing was loaded."""


@dataclass
class ImportReport:
    imported: int = 0
    updated: int = 0
    rejected: list[tuple[int, str]] = field(default_factory=list)  # (line number, reason)

    def summary(self) -> str:
        return gettext(
            "%(imported)d imported, %(updated)d updated, %(rejected)d rejected",
            imported=self.imported, updated=self.updated, rejected=len(self.rejected),
        )

    def lines(self) -> list[str]:
        return [self.summary()] + [gettext("line %(line)d: %(reason)s", line=line, reason=reason) for line, reason in self.rejected]


def _plain(header: str) -> str:
    return "".join(ch for ch in header.lower() if ch.isalnum())


def column_map(headers: list[str]) -> dict[str, int]:
    """Our field -> column index, from the file's header row; raises ImportFileError naming what is missing."""
    plain = [_plain(h or "") for h in headers]
    found: dict[str, int] = {}
    for name, spellings in HEADERS.items():
        for spelling in spellings:  # the most specific spelling first
            if spelling in plain and plain.index(spelling) not in found.values():
                found[name] = plain.index(spelling)
                break
    missing = [name for name in REQUIRED if name not in found]
    if missing:
        raise ImportFileError(
            gettext(
                "the file has no column for: %(missing)s (its columns are: %(columns)s)",
                missing=", ".join(str(LABELS[m]) for m in missing), columns=", ".join(h.strip() for h in headers if h and h.strip()) or "-",
            )
        )
    return found


def _read_text(source: str | Path | bytes) -> str:
    data = source if isinstance(source, bytes) else Path(source).read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")  # exports from Windows billing systems


def _dialect(text: str):
    sample = text[:8192]
    try:
        return csv.Sniffer().sniff(sample.splitlines()[0] if sample else "", delimiters=",;\t|")
    except csv.Error:
        return csv.excel


def _coordinate(value: str, low: float, high: float, name: str) -> tuple[float | None, str | None]:
    if not value:
        return None, None
    try:
        number = float(value.replace(",", ".")) if value.count(",") == 1 and "." not in value else float(value)
    except ValueError:
        return None, gettext("%(column)s is not a number", column=name)
    if not math.isfinite(number) or not low <= number <= high:
        return None, gettext("%(column)s is out of range (%(low)s to %(high)s)", column=name, low=int(low), high=int(high))
    return number, None


def parse_row(cells: list[str], columns: dict[str, int]) -> tuple[dict | None, str | None]:
    """One export row as UtilityAccount values, or the reason it is refused."""
    def cell(name: str) -> str:
        index = columns.get(name)
        return (cells[index] if index is not None and index < len(cells) else "").strip()

    values = {
        "account_number": normalise_account_number(cell("account_number")),
        "service_address": " ".join(cell("service_address").split()),
        "holder_last_name": normalise_name(cell("holder_last_name")),
        "zipcode": normalise_zip(cell("zipcode")),
        "zone": cell("zone") or None,
    }
    for name in ("account_number", "service_address", "holder_last_name", "zipcode"):
        if not values[name]:
            return None, gettext("%(column)s is empty", column=LABELS[name])
    for name, limit in LIMITS.items():
        if values[name] and len(values[name]) > limit:
            return None, gettext("%(column)s is longer than %(limit)d characters", column=LABELS[name], limit=limit)
    lat, problem = _coordinate(cell("lat"), -90, 90, "lat")
    if problem:
        return None, problem
    long, problem = _coordinate(cell("long"), -180, 180, "long")
    if problem:
        return None, problem
    if (lat is None) != (long is None):
        return None, gettext("lat and long go together: give both or neither")
    values.update(lat=lat, long=long, address_key=address_key(values["service_address"]))
    return values, None


def import_utility_accounts(session: Session, source: str | Path | bytes) -> ImportReport:
    """Upsert every good row of the export by account number; commit in batches; report the rest."""
    text = _read_text(source)
    reader = csv.reader(io.StringIO(text, newline=""), _dialect(text))
    try:
        headers = next(reader)
    except StopIteration:
        raise ImportFileError(gettext("the file is empty")) from None
    except csv.Error as exc:
        raise ImportFileError(gettext("the file is not a CSV file: %(problem)s", problem=str(exc))) from None
    columns = column_map(headers)
    report = ImportReport()
    first_line: dict[str, int] = {}
    pending: list[tuple[int, dict]] = []
    try:
        for cells in reader:
            line = reader.line_num
            if not any(c.strip() for c in cells):
                continue
            values, problem = parse_row(cells, columns)
            if problem:
                report.rejected.append((line, problem))
                continue
            number = values["account_number"]
            if number in first_line:
                report.rejected.append((line, gettext("account number repeated (first on line %(line)d)", line=first_line[number])))
                continue
            first_line[number] = line
            pending.append((line, values))
            if len(pending) >= BATCH:
                _upsert(session, pending, report)
                pending = []
    except csv.Error as exc:
        report.rejected.append((reader.line_num, gettext("the file is not a CSV file: %(problem)s", problem=str(exc))))
    _upsert(session, pending, report)
    return report


def _upsert(session: Session, rows: list[tuple[int, dict]], report: ImportReport) -> None:
    if not rows:
        return
    numbers = [values["account_number"] for _line, values in rows]
    existing = {u.account_number: u for u in session.scalars(select(UtilityAccount).where(UtilityAccount.account_number.in_(numbers)))}
    now = utcnow()
    for _line, values in rows:
        utility = existing.get(values["account_number"])
        if utility is None:
            session.add(UtilityAccount(**values, imported_at=now))
            report.imported += 1
        else:
            for name, value in values.items():
                setattr(utility, name, value)
            utility.imported_at = now
            report.updated += 1
    session.commit()
