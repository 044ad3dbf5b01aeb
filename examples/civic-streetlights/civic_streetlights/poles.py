"""What the plugin knows about poles: the nearest ones to a point, and an import from the utility's CSV."""
from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field

from flask_babel import gettext
from sqlalchemy import select
from sqlalchemy.orm import Session

from civic_streetlights.models import StreetlightPole

METRES_PER_DEGREE = 111_320.0
COLUMNS = ("pole", "street", "lat", "long")


def distance_m(lat1: float, long1: float, lat2: float, long2: float) -> float:
    """Flat-earth distance in metres: exact enough across a street or two."""
    north = (lat2 - lat1) * METRES_PER_DEGREE
    east = (long2 - long1) * METRES_PER_DEGREE * math.cos(math.radians(lat1))
    return math.hypot(north, east)


def nearest(session: Session, lat: float, long: float, radius_m: float, limit: int = 3) -> list[tuple[StreetlightPole, float]]:
    """The poles within ``radius_m`` of the point, nearest first (a box on the position index, then the distance)."""
    dlat = radius_m / METRES_PER_DEGREE
    dlong = dlat / max(math.cos(math.radians(lat)), 0.01)
    poles = session.scalars(select(StreetlightPole).where(
        StreetlightPole.lat.between(lat - dlat, lat + dlat), StreetlightPole.long.between(long - dlong, long + dlong)))
    near = sorted(((p, distance_m(lat, long, p.lat, p.long)) for p in poles), key=lambda pair: pair[1])
    return [(p, d) for p, d in near if d <= radius_m][:limit]


class ImportFileError(Exception):
    """The file cannot be read at all: nothing was imported."""


@dataclass
class ImportReport:
    added: int = 0
    updated: int = 0
    skipped: list[tuple[int, str]] = field(default_factory=list)  # (line, why)


def import_poles(session: Session, path: str) -> ImportReport:
    """Add or update poles by number from a CSV (pole, street, lat, long[, lamp]); a bad line is skipped and said."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            rows = list(csv.DictReader(f))
            header = [h.strip().lower() for h in (rows[0].keys() if rows else [])]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise ImportFileError(gettext("%(file)s cannot be read: %(error)s", file=path, error=exc)) from None
    missing = [c for c in COLUMNS if rows and c not in header]
    if missing:
        raise ImportFileError(gettext("%(file)s lacks the columns: %(columns)s", file=path, columns=", ".join(missing)))
    report = ImportReport()
    known = {p.pole: p for p in session.scalars(select(StreetlightPole))}
    for line, raw in enumerate(rows, start=2):
        row = {(k or "").strip().lower(): (v or "").strip() for k, v in raw.items()}
        if not row["pole"]:
            report.skipped.append((line, gettext("pole: is required")))
            continue
        try:
            lat, long = float(row["lat"]), float(row["long"])
        except ValueError:
            report.skipped.append((line, gettext("lat/long: not a number")))
            continue
        if not (-90 <= lat <= 90 and -180 <= long <= 180):
            report.skipped.append((line, gettext("lat/long: outside the globe")))
            continue
        pole = known.get(row["pole"])
        if pole is None:
            pole = known[row["pole"]] = StreetlightPole(pole=row["pole"][:40])
            session.add(pole)
            report.added += 1
        else:
            report.updated += 1
        pole.street, pole.lat, pole.long = row["street"][:200], lat, long
        pole.lamp = (row.get("lamp") or pole.lamp or "LED")[:20]
    session.commit()
    return report
