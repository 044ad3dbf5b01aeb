"""The demo city's sample map: generated zones and streets around Palm Coast's neighbourhoods, and one meter per
utility account that has a position.  Everything is labelled as sample data (``sample = True``, zone names say
"(sample)" / "(exemple)"), so nobody mistakes it for the city's GIS.

Deterministic (seeded) and idempotent: a second run finds every row by its key and adds nothing; a zone the
city imported for real (``sample = False``) is never overwritten.  Meters go where the billing export puts the
account (intake's ``intake_utility_account``), else, for the demo's accounts, beside a sample street.
"""
from __future__ import annotations

import math
import random
import re
from typing import Any

import sqlalchemy as sa

from core.demo import LAT_RANGE, LONG_RANGE, NEIGHBOURHOODS
from core.models import Account
from core.models.base import utcnow
from plugins.fieldservice import geo
from plugins.fieldservice.importer import ZoneFinder
from plugins.fieldservice.models import Meter, StreetSegment, Zone

SEED = 311
KEY_PREFIX = "SAMPLE-"
ZONE_NAMES = {
    "north": ("North (sample)", "Nord (exemple)"),
    "east": ("East (sample)", "Est (exemple)"),
    "central": ("Central (sample)", "Centre (exemple)"),
    "south": ("South (sample)", "Sud (exemple)"),
    "west": ("West (sample)", "Ouest (exemple)"),
}
BLOCK_LAT, BLOCK_LONG = 0.0018, 0.0021  # about 200 m between generated streets
BLOCKS = 8  # a neighbourhood's grid: BLOCKS+1 streets each way, BLOCKS segments each
WORDS = ("Alder", "Aspen", "Banyan", "Birch", "Cedar", "Cypress", "Dogwood", "Driftwood", "Egret", "Elm", "Falcon",
         "Fern", "Gardenia", "Grove", "Harbor", "Heron", "Ibis", "Iris", "Jasmine", "Juniper", "Kestrel", "Kingfisher",
         "Laurel", "Lily", "Magnolia", "Mango", "Nectar", "Nutmeg", "Oak", "Osprey", "Palmetto", "Pelican", "Quail",
         "Quince", "Raven", "Reef", "Sabal", "Sandpiper", "Tarpon", "Teal", "Umber", "Vista", "Willow", "Wren",
         "Yarrow", "Yucca", "Zephyr", "Zinnia", "Coral", "Dune", "Bay", "Pine", "Sea Grape", "Tern")
SUFFIXES = ("Ln", "Dr", "Ct", "Pl", "Way", "Trl")


def _zone_centres() -> dict[str, tuple[float, float]]:
    """Each zone's centre: the mean of its neighbourhoods' centres (lat, long)."""
    groups: dict[str, list[tuple[float, float]]] = {}
    for hood in NEIGHBOURHOODS:
        groups.setdefault(hood.zone, []).append((hood.lat, hood.long))
    return {code: (sum(p[0] for p in pts) / len(pts), sum(p[1] for p in pts) / len(pts)) for code, pts in groups.items()}


def _clip(polygon: list[tuple[float, float]], keep) -> list[tuple[float, float]]:
    """Sutherland-Hodgman: the part of a convex polygon (x, y) where ``keep(p) >= 0`` (a linear function)."""
    out: list[tuple[float, float]] = []
    for i, current in enumerate(polygon):
        previous = polygon[i - 1]
        a, b = keep(previous), keep(current)
        if (a >= 0) != (b >= 0):
            t = a / (a - b)
            out.append((previous[0] + t * (current[0] - previous[0]), previous[1] + t * (current[1] - previous[1])))
        if b >= 0:
            out.append(current)
    return out


def zone_polygons() -> dict[str, dict[str, Any]]:
    """Voronoi cells of the zone centres, clipped to the demo city's box: the zones tile the whole city."""
    centres = _zone_centres()
    scale = math.cos(math.radians(sum(LAT_RANGE) / 2))  # a degree of longitude is shorter
    box = [(LONG_RANGE[0], LAT_RANGE[0]), (LONG_RANGE[1], LAT_RANGE[0]), (LONG_RANGE[1], LAT_RANGE[1]), (LONG_RANGE[0], LAT_RANGE[1])]
    shapes = {}
    for code, (lat, long) in centres.items():
        cell = box
        for other, (olat, olong) in centres.items():
            if other == code:
                continue
            # keep the side nearer to this centre: (p - mid) . (this - other) >= 0, in scaled coordinates
            dx, dy = (long - olong) * scale * scale, lat - olat
            mx, my = (long + olong) / 2, (lat + olat) / 2
            cell = _clip(cell, lambda p, dx=dx, dy=dy, mx=mx, my=my: (p[0] - mx) * dx + (p[1] - my) * dy)
        ring = [[round(x, 6), round(y, 6)] for x, y in cell]
        shapes[code] = {"type": "Polygon", "coordinates": [ring + [ring[0]]]}
    return shapes


def _slug(text: str) -> str:
    return re.sub(r"[^A-Z0-9]+", "", text.upper())[:6]


def _street_names(hood, rng: random.Random, count: int) -> list[str]:
    """The neighbourhood's real street names first, then generated ones starting with its section's letter."""
    names = list(hood.streets)
    letter = hood.name[0]
    words = [w for w in WORDS if w.startswith(letter)] or list(WORDS)
    used = set(names)
    while len(names) < count:
        word = rng.choice(words if rng.random() < 0.7 else WORDS)
        name = f"{word} {rng.choice(SUFFIXES)}"
        if name not in used:
            used.add(name)
            names.append(name)
    return names


def _clamp(lat: float, long: float) -> list[float]:
    lat = min(max(lat, LAT_RANGE[0] + 0.001), LAT_RANGE[1] - 0.001)
    long = min(max(long, LONG_RANGE[0] + 0.001), LONG_RANGE[1] - 0.001)
    return [round(long, 6), round(lat, 6)]


def street_network(seed: int = SEED) -> list[dict[str, Any]]:
    """Rows of generated segments: a wobbly grid around each neighbourhood centre (key, street, geometry)."""
    rng = random.Random(seed)
    rows: list[dict[str, Any]] = []
    for hood in NEIGHBOURHOODS:
        blocks = max(4, round(BLOCKS * min(1.0, 0.4 + hood.weight)))
        names = _street_names(hood, rng, 2 * (blocks + 1))
        rng.shuffle(names)
        half = blocks / 2
        # grid nodes, nudged so the streets are not ruler-straight
        nodes = {(i, j): (hood.lat + (i - half) * BLOCK_LAT + rng.uniform(-0.0002, 0.0002),
                          hood.long + (j - half) * BLOCK_LONG + rng.uniform(-0.0002, 0.0002))
                 for i in range(blocks + 1) for j in range(blocks + 1)}
        number = 0
        for direction in ("ew", "ns"):
            for line in range(blocks + 1):
                street = names[line if direction == "ew" else blocks + 1 + line]
                for step in range(blocks):
                    a, b = ((line, step), (line, step + 1)) if direction == "ew" else ((step, line), (step + 1, line))
                    (lat1, long1), (lat2, long2) = nodes[a], nodes[b]
                    mid = ((lat1 + lat2) / 2 + rng.uniform(-0.00012, 0.00012), (long1 + long2) / 2 + rng.uniform(-0.00012, 0.00012))
                    number += 1
                    rows.append({"segment_key": f"{KEY_PREFIX}{_slug(hood.name)}-{number:04d}", "street_name": street,
                                 "geometry": {"type": "LineString",
                                              "coordinates": [_clamp(lat1, long1), _clamp(*mid), _clamp(lat2, long2)]}})
    return rows


def _load_zones(session) -> int:
    existing = {code: sample for code, sample in session.execute(sa.select(Zone.code, Zone.sample))}
    added = 0
    for code, geometry in zone_polygons().items():
        if code in existing:
            continue  # already there: ours from an earlier run, or the city's real zone (never overwritten)
        english, french = ZONE_NAMES.get(code, (f"{code.title()} (sample)", f"{code.title()} (exemple)"))
        session.add(Zone(code=code, name=english, translations={"fr": {"name": french}}, geometry=geometry, sample=True,
                         **geo.extent(geometry)))
        added += 1
    session.flush()
    return added


def _load_segments(session, zones: ZoneFinder) -> int:
    rows = street_network()
    keys = [r["segment_key"] for r in rows]
    existing: set[str] = set()
    for start in range(0, len(keys), 1000):
        existing.update(session.scalars(sa.select(StreetSegment.segment_key).where(StreetSegment.segment_key.in_(keys[start:start + 1000]))))
    now = utcnow()
    new = []
    for row in rows:
        if row["segment_key"] in existing:
            continue
        box = geo.extent(row["geometry"])
        new.append({**row, **box, "zone_code": zones.find(box["mid_lat"], box["mid_long"]),
                    "length_m": round(geo.line_length_m(row["geometry"]), 1), "sample": True, "imported_at": now})
    for start in range(0, len(new), 1000):
        session.execute(sa.insert(StreetSegment), new[start:start + 1000])
    return len(new)


def _account_positions(session) -> dict[str, tuple[float, float]]:
    """Where each utility account's meter goes: the billing export's position (intake's table) when it has one;
    else, for a demo account with a utility account number, beside a sample street (seeded: the same every run)."""
    positions: dict[str, tuple[float, float]] = {}
    if sa.inspect(session.get_bind()).has_table("intake_utility_account"):
        accounts = sa.table("intake_utility_account", sa.column("account_number"), sa.column("lat"), sa.column("long"))
        rows = session.execute(sa.select(accounts.c.account_number, accounts.c.lat, accounts.c.long)
                               .where(accounts.c.lat.is_not(None), accounts.c.long.is_not(None))
                               .order_by(accounts.c.account_number).limit(100_000))
        positions.update({number: (lat, long) for number, lat, long in rows})
    numbers = session.scalars(sa.select(Account.utility_account_number).where(Account.utility_account_number.is_not(None))
                              .order_by(Account.utility_account_number).limit(100_000)).all()
    missing = [n for n in numbers if n not in positions]
    if missing:
        spots = session.execute(sa.select(StreetSegment.mid_lat, StreetSegment.mid_long)
                                .where(StreetSegment.segment_key.like(f"{KEY_PREFIX}%")).order_by(StreetSegment.segment_key)).all()
        rng = random.Random(SEED + 1)
        for number in missing if spots else ():
            lat, long = rng.choice(spots)
            positions[number] = (round(lat + rng.uniform(-0.0003, 0.0003), 6), round(long + rng.uniform(-0.0003, 0.0003), 6))
    return positions


def _load_meters(session, zones: ZoneFinder) -> int:
    """One sample meter per utility account (see ``_account_positions``), numbered ``SAMPLE-<account number>``."""
    wanted = {f"{KEY_PREFIX}{number}"[:40]: (number, lat, long) for number, (lat, long) in _account_positions(session).items()}
    existing: set[str] = set()
    numbers = list(wanted)
    for start in range(0, len(numbers), 1000):
        existing.update(session.scalars(sa.select(Meter.meter_number).where(Meter.meter_number.in_(numbers[start:start + 1000]))))
    now = utcnow()
    new = [{"meter_number": meter, "account_number": number, "kind": "water", "lat": lat, "long": long,
            "zone_code": zones.find(lat, long), "sample": True, "imported_at": now}
           for meter, (number, lat, long) in wanted.items() if meter not in existing]
    for start in range(0, len(new), 1000):
        session.execute(sa.insert(Meter), new[start:start + 1000])
    return len(new)


def load_sample_network(session) -> dict[str, int]:
    """Load the sample zones, streets and meters (what is already there is kept); counts of rows added."""
    counts = {"zones": _load_zones(session)}
    zones = ZoneFinder(session)
    counts["segments"] = _load_segments(session, zones)
    counts["meters"] = _load_meters(session, zones)
    session.commit()
    return counts
