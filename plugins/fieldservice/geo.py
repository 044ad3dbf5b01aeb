"""Plain geometry for the map, without a spatial extension: bounding boxes, distances, lengths,
point-in-polygon, and the grid cells the map and the EOC board aggregate into (in SQL).

Coordinates follow GeoJSON: ``[long, lat]`` pairs, WGS 84 degrees.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Iterable

import sqlalchemy as sa
from flask_babel import gettext

EARTH_RADIUS_M = 6_371_008.8
METRES_PER_DEGREE_LAT = 111_320.0
MAX_ZOOM = 22


class GeoError(ValueError):
    """A bad map parameter: ``field`` names it, ``message`` says what is wrong (shown with a 400)."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message

    @property
    def errors(self) -> dict[str, list[str]]:
        return {self.field: [self.message]}


@dataclass(frozen=True)
class BBox:
    min_long: float
    min_lat: float
    max_long: float
    max_lat: float

    def contains(self, lat: float, long: float) -> bool:
        return self.min_lat <= lat <= self.max_lat and self.min_long <= long <= self.max_long

    def overlaps(self, columns: Any) -> sa.ColumnElement[bool]:
        """SQL: the feature's extent (a model with min_/max_ lat/long columns) meets this box."""
        return sa.and_(columns.max_lat >= self.min_lat, columns.min_lat <= self.max_lat,
                       columns.max_long >= self.min_long, columns.min_long <= self.max_long)

    def holds(self, lat_col: Any, long_col: Any) -> sa.ColumnElement[bool]:
        """SQL: the point (two columns) is inside this box."""
        return sa.and_(lat_col.between(self.min_lat, self.max_lat), long_col.between(self.min_long, self.max_long))


def parse_bbox(text: str | None, field: str = "bbox") -> BBox | None:
    """``min_long,min_lat,max_long,max_lat`` (the Open311 extension's order) -> BBox; None when empty."""
    if text is None or not str(text).strip():
        return None
    parts = str(text).split(",")
    if len(parts) != 4:
        raise GeoError(field, gettext("must be four numbers: min_long,min_lat,max_long,max_lat"))
    try:
        values = [float(p) for p in parts]
    except ValueError:
        raise GeoError(field, gettext("must be four numbers: min_long,min_lat,max_long,max_lat")) from None
    if not all(math.isfinite(v) for v in values):
        raise GeoError(field, gettext("must be four numbers: min_long,min_lat,max_long,max_lat"))
    min_long, min_lat, max_long, max_lat = values
    if not (-180 <= min_long <= max_long <= 180 and -90 <= min_lat <= max_lat <= 90):
        raise GeoError(field, gettext("must be west,south,east,north in degrees, west before east and south before north"))
    return BBox(min_long, min_lat, max_long, max_lat)


def parse_zoom(text: str | None, default: int = 15, field: str = "zoom") -> int:
    if text is None or str(text).strip() == "":
        return default
    value = str(text).strip()
    if not value.isdigit() or int(value) > MAX_ZOOM:
        raise GeoError(field, gettext("must be a whole number from 0 to %(max)d", max=MAX_ZOOM))
    return int(value)


# ---------------------------------------------------------------- distances and shapes


def haversine_m(lat1: float, long1: float, lat2: float, long2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(long2 - long1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def lines_of(geometry: dict[str, Any]) -> list[list[list[float]]]:
    """The coordinate lists of a LineString or MultiLineString."""
    kind, coords = geometry.get("type"), geometry.get("coordinates") or []
    if kind == "LineString":
        return [coords]
    if kind == "MultiLineString":
        return list(coords)
    return []


def line_length_m(geometry: dict[str, Any]) -> float:
    total = 0.0
    for line in lines_of(geometry):
        for (x1, y1), (x2, y2) in zip(line, line[1:]):
            total += haversine_m(y1, x1, y2, x2)
    return total


def _positions(coords: Any) -> Iterable[tuple[float, float]]:
    """Every [long, lat] pair in a (nested) GeoJSON coordinates array."""
    if coords and isinstance(coords[0], (int, float)):
        yield float(coords[0]), float(coords[1])
        return
    for item in coords or ():
        yield from _positions(item)


def extent(geometry: dict[str, Any]) -> dict[str, float]:
    """min/max/mid lat/long of a geometry (the columns of ``models._Extent``); the middle of a line is a point
    on it (its middle vertex), so a street's marker sits on the street."""
    points = list(_positions(geometry.get("coordinates")))
    if not points:
        raise ValueError("a geometry without coordinates")
    longs, lats = [p[0] for p in points], [p[1] for p in points]
    if geometry.get("type") in ("LineString", "MultiLineString"):
        mid_long, mid_lat = points[len(points) // 2] if len(points) % 2 else _between(points[len(points) // 2 - 1], points[len(points) // 2])
    elif geometry.get("type") == "Point":
        mid_long, mid_lat = points[0]
    else:
        mid_long, mid_lat = (min(longs) + max(longs)) / 2, (min(lats) + max(lats)) / 2
    return {"min_lat": min(lats), "max_lat": max(lats), "min_long": min(longs), "max_long": max(longs),
            "mid_lat": mid_lat, "mid_long": mid_long}


def _between(a: tuple[float, float], b: tuple[float, float]) -> tuple[float, float]:
    return (a[0] + b[0]) / 2, (a[1] + b[1]) / 2


def _in_ring(lat: float, long: float, ring: list[list[float]]) -> bool:
    inside = False
    for (x1, y1), (x2, y2) in zip(ring, ring[1:] + ring[:1]):
        if (y1 > lat) != (y2 > lat) and long < (x2 - x1) * (lat - y1) / (y2 - y1) + x1:
            inside = not inside
    return inside


def point_in_polygon(lat: float, long: float, geometry: dict[str, Any]) -> bool:
    """True when the point is inside a Polygon or MultiPolygon (holes respected)."""
    kind, coords = geometry.get("type"), geometry.get("coordinates") or []
    polygons = [coords] if kind == "Polygon" else coords if kind == "MultiPolygon" else []
    for rings in polygons:
        if rings and _in_ring(lat, long, rings[0]) and not any(_in_ring(lat, long, hole) for hole in rings[1:]):
            return True
    return False


# ---------------------------------------------------------------- grid cells (aggregates in SQL)


def cell_degrees(zoom: int, cell_px: int = 48) -> float:
    """The side of a grid cell, in degrees of latitude, that shows as about ``cell_px`` pixels at ``zoom``."""
    return 360.0 / (256 * 2 ** zoom) * cell_px


def metres_to_degrees(metres: float) -> float:
    return metres / METRES_PER_DEGREE_LAT


def grid_key(lat_col: Any, long_col: Any, cell: float) -> tuple[sa.ColumnElement[int], sa.ColumnElement[int]]:
    """SQL expressions numbering the grid cell of a point: (row, column), counted from the south-west corner
    of the world (``floor``: SQLite's math functions, built into Python's SQLite since 3.35, and PostgreSQL)."""
    row = sa.cast(sa.func.floor((lat_col + 90.0) / cell), sa.Integer)
    col = sa.cast(sa.func.floor((long_col + 180.0) / cell), sa.Integer)
    return row, col


def cell_bounds(row: int, col: int, cell: float) -> BBox:
    """The box of a grid cell numbered by ``grid_key``."""
    return BBox(col * cell - 180.0, row * cell - 90.0, (col + 1) * cell - 180.0, (row + 1) * cell - 90.0)


def cell_polygon(row: int, col: int, cell: float) -> dict[str, Any]:
    b = cell_bounds(row, col, cell)
    ring = [[b.min_long, b.min_lat], [b.max_long, b.min_lat], [b.max_long, b.max_lat], [b.min_long, b.max_lat], [b.min_long, b.min_lat]]
    return {"type": "Polygon", "coordinates": [[[round(x, 6), round(y, 6)] for x, y in ring]]}
