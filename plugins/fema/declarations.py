"""Import disasters from an OpenFEMA ``DisasterDeclarationsSummaries`` file (CSV, or the API's JSON).

OpenFEMA has one row per designated county; they become one Disaster per declaration ("DR-4468") with the
counties gathered in ``designated_areas``.  Importing again updates (upsert by number).  Rows that cannot be
read are skipped and reported with their reason."""
from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import sqlalchemy as sa
from flask_babel import gettext

from plugins.fema.events import event_tag

TYPES = ("DR", "EM")
MAX_BYTES = 200 * 1024 * 1024


class DeclarationFileError(ValueError):
    """The file cannot be read at all (nothing is imported)."""


@dataclass
class DeclarationReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    skipped: list[tuple[int, str]] = field(default_factory=list)  # (row number, reason)
    filtered: int = 0  # rows of other states / counties

    def lines(self) -> list[str]:
        out = [gettext("row %(row)s skipped: %(reason)s", row=row, reason=reason) for row, reason in self.skipped]
        out.append(gettext("%(created)s disasters created, %(updated)s updated, %(skipped)s rows skipped, %(filtered)s rows of other areas",
                           created=len(self.created), updated=len(self.updated), skipped=len(self.skipped), filtered=self.filtered))
        return out


def _date(value) -> date | None:
    """OpenFEMA dates: "2019-10-22T00:00:00.000Z", "2019-10-22T00:00:00Z", "2019-10-22" or empty."""
    text = str(value or "").strip()
    if not text:
        return None
    return datetime.strptime(text[:10], "%Y-%m-%d").date()


def read_rows(path: str | Path) -> list[dict]:
    """The file's rows as dicts (CSV with a header, or JSON: a list or {"DisasterDeclarationsSummaries": [...]})."""
    path = Path(path)
    if not path.is_file():
        raise DeclarationFileError(gettext("no such file"))
    if path.stat().st_size > MAX_BYTES:
        raise DeclarationFileError(gettext("the file is too large"))
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise DeclarationFileError(gettext("the file is not UTF-8 text")) from None
    if text.lstrip().startswith(("{", "[")):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise DeclarationFileError(gettext("not valid JSON: %(error)s", error=str(exc))) from None
        if isinstance(data, dict):
            data = data.get("DisasterDeclarationsSummaries")
        if not isinstance(data, list):
            raise DeclarationFileError(gettext("the JSON has no DisasterDeclarationsSummaries list"))
        return [row if isinstance(row, dict) else {} for row in data]
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames or "disasterNumber" not in [f.strip() for f in reader.fieldnames]:
        raise DeclarationFileError(gettext("the CSV has no disasterNumber column"))
    return [{(k or "").strip(): v for k, v in row.items()} for row in reader]


def _county_matches(area: str, county: str) -> bool:
    name = area.split("(")[0].strip().lower()
    return name == county.strip().lower()


def import_declarations(session, path: str | Path, state: str | None = None, county: str | None = None) -> DeclarationReport:
    """Create or update one Disaster per declaration of the file (optionally only a state / a county's); commit."""
    from plugins.fema.models import Disaster

    report = DeclarationReport()
    grouped: dict[str, dict] = {}
    for i, row in enumerate(read_rows(path), start=1):
        kind = str(row.get("declarationType") or "").strip().upper()
        raw_number = str(row.get("disasterNumber") or "").strip()
        if not raw_number.isdigit():
            report.skipped.append((i, gettext("disasterNumber: must be a number, not %(value)r", value=raw_number)))
            continue
        if kind not in TYPES:
            report.skipped.append((i, gettext("declarationType: %(value)r is not DR or EM", value=kind)))
            continue
        row_state = str(row.get("state") or "").strip().upper()
        area = str(row.get("designatedArea") or "").strip()
        if (state and row_state != state.strip().upper()) or (county and not _county_matches(area, county)):
            report.filtered += 1
            continue
        try:
            declared = _date(row.get("declarationDate"))
            begin, end = _date(row.get("incidentBeginDate")), _date(row.get("incidentEndDate"))
        except ValueError:
            report.skipped.append((i, gettext("a date is not a date (YYYY-MM-DD)")))
            continue
        title = str(row.get("declarationTitle") or "").strip()
        if not title:
            report.skipped.append((i, gettext("declarationTitle: is empty")))
            continue
        number = f"{kind}-{int(raw_number)}"
        entry = grouped.setdefault(number, {"type": kind, "state": row_state[:2], "declared": declared, "begin": begin, "end": end,
                                            "title": title[:200], "areas": []})
        if area and area not in entry["areas"]:
            entry["areas"].append(area)
    if not grouped:
        return report
    existing = {d.number: d for d in session.scalars(sa.select(Disaster).where(Disaster.number.in_(list(grouped))))}
    for number, entry in grouped.items():
        disaster = existing.get(number)
        if disaster is None:
            title = entry["title"].title()
            disaster = Disaster(number=number, tag=event_tag(title, number), title=title, designated_areas=[], profile_editions={})
            session.add(disaster)
            report.created.append(number)
        else:
            report.updated.append(number)
        disaster.declaration_type = entry["type"]
        disaster.state = entry["state"] or None
        disaster.declaration_date = entry["declared"]
        disaster.incident_begin = entry["begin"]
        disaster.incident_end = entry["end"]
        disaster.designated_areas = sorted(set(disaster.designated_areas or []) | set(entry["areas"]))
    session.commit()
    return report
