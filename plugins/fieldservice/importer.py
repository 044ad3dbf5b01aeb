"""Loading the city's GIS exports: street segments, zones, utility meters and the features of ``file`` layers.

Street segments come as GeoJSON (a FeatureCollection of LineString/MultiLineString), a shapefile (``.shp`` or a
``.zip`` holding one, read with pyshp) or a CSV file with a WKT column.  Property names are matched loosely
(``SEGMENT_ID``, ``segid``, ``OBJECTID`` ... all name the segment id), so a city's export loads as it is.

Every bad feature is reported by its number and the reason, and the good ones still load; a file that cannot be
read at all raises ``ImportFileError`` before anything is written.  Rows are upserted by their key (the GIS
segment id, the zone code, the meter number) in batches: importing the same file again updates, never duplicates.
Coordinates are WGS 84 degrees (``[long, lat]``, as GeoJSON); a projected shapefile is refused feature by feature.
"""
from __future__ import annotations

import csv
import io
import json
import math
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator

import sqlalchemy as sa
from flask_babel import gettext

from core.models.base import utcnow
from plugins.fieldservice import geo
from plugins.fieldservice.models import LayerFeature, Meter, StreetSegment, Zone

BATCH = 1000
MAX_BYTES = 512 * 1024 * 1024  # a GeoJSON file larger than this is refused (use a shapefile or CSV)

# Property names, compared without case, spaces, dashes or underscores.
SEGMENT_ID_NAMES = ("segmentid", "segid", "segmentkey", "segkey", "streetsegid", "id", "objectid", "fid", "gid", "roadid")
STREET_NAMES = ("street", "streetname", "fullname", "fullstreet", "fullstname", "stname", "name", "roadname", "label")
ZONE_NAMES = ("zone", "zonecode", "district", "districtcode", "sector", "ward", "area")
LENGTH_NAMES = ("length", "lengthm", "lengthmeters", "lengthmetres", "shapelength", "shapeleng", "len", "seglength")
ZONE_CODE_NAMES = ("code", "zonecode", "zone", "districtcode", "district", "id")
ZONE_LABEL_NAMES = ("name", "zonename", "label", "districtname", "title")
METER_NAMES = ("meternumber", "meterno", "meternum", "meterid", "meter", "serial")
ACCOUNT_NAMES = ("accountnumber", "accountno", "accountnum", "account", "acct", "acctno")
LAT_NAMES = ("lat", "latitude", "y", "pointy")
LONG_NAMES = ("long", "lon", "lng", "longitude", "x", "pointx")
KIND_NAMES = ("kind", "type", "metertype", "service")
WKT_NAMES = ("wkt", "geometry", "geom", "thegeom", "shape", "wktgeom")

LINES = ("LineString", "MultiLineString")
POINTS = ("Point", "MultiPoint")
POLYGONS = ("Polygon", "MultiPolygon")
LAYER_TYPES = {"point": POINTS, "line": LINES, "polygon": POLYGONS}


class ImportFileError(Exception):
    """The file cannot be read at all (missing, not GeoJSON, not a shapefile ...): nothing was loaded."""


@dataclass
class ImportReport:
    """What an import did: rows added and updated, and one line per feature it could not read."""

    what: str
    added: int = 0
    updated: int = 0
    problems: list[str] = field(default_factory=list)

    def problem(self, number: int, message: str) -> None:
        self.problems.append(gettext("feature %(number)d: %(message)s", number=number, message=message))

    @property
    def skipped(self) -> int:
        return len(self.problems)

    def lines(self) -> list[str]:
        summary = gettext("%(what)s: %(added)d added, %(updated)d updated, %(skipped)d not read.",
                          what=self.what, added=self.added, updated=self.updated, skipped=self.skipped)
        return [*self.problems, summary]


# ---------------------------------------------------------------- property names


def _norm(name: Any) -> str:
    return re.sub(r"[^a-z0-9]", "", str(name).lower())


def pick(props: dict[str, Any], names: tuple[str, ...]) -> Any:
    """The value of the first property whose loose name is in ``names`` (in the order of ``names``)."""
    loose = {_norm(k): v for k, v in props.items()}
    for name in names:
        value = loose.get(name)
        if value is not None and str(value).strip() != "":
            return value
    return None


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # shapefiles store ids as 12345.0
    return str(value).strip()


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


# ---------------------------------------------------------------- geometry checks


def _position_problem(position: Any) -> str | None:
    if not isinstance(position, (list, tuple)) or len(position) < 2:
        return gettext("a position is not a [longitude, latitude] pair")
    long, lat = position[0], position[1]
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in (long, lat)):
        return gettext("a coordinate is not a number")
    if not (-180 <= long <= 180 and -90 <= lat <= 90):
        return gettext("coordinates out of range (%(long)s, %(lat)s): expected longitude, latitude in degrees (WGS 84)",
                       long=long, lat=lat)
    return None


def _positions_problem(coords: Any, depth: int, min_points: int) -> str | None:
    """Check a coordinates array of ``depth`` nesting levels above positions (0: a position)."""
    if depth == 0:
        return _position_problem(coords)
    if not isinstance(coords, (list, tuple)) or not coords:
        return gettext("empty coordinates")
    if depth == 1 and len(coords) < min_points:
        return gettext("a line needs at least two points") if min_points == 2 else gettext("a ring needs at least four points")
    for item in coords:
        problem = _positions_problem(item, depth - 1, min_points)
        if problem:
            return problem
    return None


DEPTH = {"Point": (0, 1), "MultiPoint": (1, 1), "LineString": (1, 2), "MultiLineString": (2, 2),
         "Polygon": (2, 4), "MultiPolygon": (3, 4)}


def geometry_problem(geometry: Any, allowed: tuple[str, ...]) -> str | None:
    """Why this GeoJSON geometry cannot be loaded (None when it can)."""
    if isinstance(geometry, dict) and geometry.get("wkt_error"):
        return gettext("unreadable WKT geometry")
    if not isinstance(geometry, dict) or not geometry.get("type"):
        return gettext("no geometry")
    kind = geometry.get("type")
    if kind not in allowed:
        return gettext("wrong geometry type %(type)s (expected %(allowed)s)", type=str(kind)[:40], allowed=" / ".join(allowed))
    depth, min_points = DEPTH[kind]
    return _positions_problem(geometry.get("coordinates"), depth, min_points)


def _clean(geometry: dict[str, Any]) -> dict[str, Any]:
    """Only type and coordinates (rounded to 7 decimals, about 1 cm; a Z value is dropped)."""

    def walk(c):
        if c and isinstance(c[0], (int, float)):
            return [round(float(c[0]), 7), round(float(c[1]), 7)]
        return [walk(item) for item in c]

    return {"type": geometry["type"], "coordinates": walk(geometry["coordinates"])}


# ---------------------------------------------------------------- WKT (for CSV files)

_WKT = re.compile(r"^\s*(POINT|LINESTRING|MULTILINESTRING|POLYGON|MULTIPOLYGON|MULTIPOINT)\s*(?:Z|M|ZM)?\s*(\(.*\))\s*$", re.I | re.S)
WKT_TYPES = {"POINT": "Point", "LINESTRING": "LineString", "MULTILINESTRING": "MultiLineString", "POLYGON": "Polygon",
             "MULTIPOLYGON": "MultiPolygon", "MULTIPOINT": "MultiPoint"}


def parse_wkt(text: str) -> dict[str, Any]:
    """``LINESTRING (-81.2 29.5, -81.21 29.51)`` -> a GeoJSON geometry; ValueError when it is not WKT."""
    match = _WKT.match(text or "")
    if not match:
        raise ValueError("not WKT")
    kind, body = WKT_TYPES[match.group(1).upper()], match.group(2)
    # Turn "(x y, x y)" into JSON "[[x,y],[x,y]]".
    body = re.sub(r"\(\s*", "[", body)
    body = re.sub(r"\s*\)", "]", body)
    body = re.sub(r"(-?[\d.eE+-]+)\s+(-?[\d.eE+-]+)(?:\s+-?[\d.eE+-]+)*", r"[\1,\2]", body)
    try:
        coords = json.loads(body)
    except json.JSONDecodeError:
        raise ValueError("not WKT") from None
    if kind == "Point":
        coords = coords[0]
    elif kind == "MultiPoint":
        coords = [c[0] if c and isinstance(c[0], list) else c for c in coords]
    return {"type": kind, "coordinates": coords}


# ---------------------------------------------------------------- readers: (number, properties, geometry)

Feature = tuple[int, dict[str, Any], Any]


def _open_geojson(path: Path) -> list[Any]:
    if path.stat().st_size > MAX_BYTES:
        raise ImportFileError(gettext("the file is larger than %(size)d MB: split it or use a shapefile", size=MAX_BYTES // 2**20))
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ImportFileError(gettext("not a GeoJSON file (%(error)s)", error=str(exc)[:200])) from None
    if isinstance(data, dict) and data.get("type") == "Feature":
        return [data]
    if not isinstance(data, dict) or data.get("type") != "FeatureCollection" or not isinstance(data.get("features"), list):
        raise ImportFileError(gettext("not a GeoJSON FeatureCollection (no \"features\" list)"))
    return data["features"]


def _geojson_features(path: Path) -> Iterator[Feature]:
    for number, feature in enumerate(_open_geojson(path), start=1):
        if not isinstance(feature, dict):
            yield number, {}, None
            continue
        props = feature.get("properties") if isinstance(feature.get("properties"), dict) else {}
        if feature.get("id") is not None and "id" not in props:
            props = {**props, "id": feature["id"]}
        yield number, props, feature.get("geometry")


def _shapefile_reader(path: Path):
    try:
        import shapefile  # pyshp
    except ImportError:  # pragma: no cover -- installed with the plugin
        raise ImportFileError(gettext("reading shapefiles needs the pyshp package (pip install pyshp)")) from None
    try:
        if path.suffix.lower() == ".zip":
            with zipfile.ZipFile(path) as archive:
                names = {Path(n).suffix.lower(): n for n in archive.namelist() if not n.startswith("__MACOSX")}
                if ".shp" not in names or ".dbf" not in names:
                    raise ImportFileError(gettext("the zip file holds no shapefile (.shp and .dbf)"))
                parts = {ext: io.BytesIO(archive.read(names[ext])) for ext in (".shp", ".shx", ".dbf") if ext in names}
            return shapefile.Reader(shp=parts[".shp"], shx=parts.get(".shx"), dbf=parts[".dbf"], encoding="utf-8",
                                    encodingErrors="replace")
        return shapefile.Reader(str(path), encoding="utf-8", encodingErrors="replace")
    except ImportFileError:
        raise
    except Exception as exc:  # noqa: BLE001 -- pyshp raises many kinds; all mean "cannot read"
        raise ImportFileError(gettext("not a readable shapefile (%(error)s)", error=str(exc)[:200])) from None


def _shapefile_features(path: Path) -> Iterator[Feature]:
    reader = _shapefile_reader(path)
    with reader:
        for number, item in enumerate(reader.iterShapeRecords(), start=1):
            try:
                geometry = item.shape.__geo_interface__ if item.shape.shapeType else None
                geometry = json.loads(json.dumps(geometry)) if geometry else None  # tuples -> lists
            except Exception:  # noqa: BLE001 -- a broken shape record: reported as "no geometry"
                geometry = None
            yield number, dict(item.record.as_dict()), geometry


class _CsvRows:
    """A CSV file's header and its rows as dicts, read as they are used; ``close()`` when giving up early."""

    def __init__(self, path: Path):
        self.handle = path.open(encoding="utf-8-sig", newline="")
        try:
            sample = self.handle.read(64 * 1024)
            self.handle.seek(0)
            try:
                dialect = csv.Sniffer().sniff(sample, delimiters=",;\t|")
            except csv.Error:
                dialect = csv.excel
            self.reader = csv.DictReader(self.handle, dialect=dialect)
            self.header = self.reader.fieldnames or []
        except UnicodeDecodeError:
            self.close()
            raise ImportFileError(gettext("not a UTF-8 CSV file")) from None
        if not self.header:
            self.close()
            raise ImportFileError(gettext("an empty CSV file (no header line)"))

    def close(self) -> None:
        self.handle.close()

    def fail(self, message: str) -> ImportFileError:
        self.close()
        return ImportFileError(message)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        try:
            yield from self.reader
        except (UnicodeDecodeError, csv.Error) as exc:
            raise ImportFileError(gettext("the CSV file cannot be read past line %(line)d (%(error)s)",
                                          line=self.reader.line_num, error=str(exc)[:200])) from None
        finally:
            self.close()


def _csv_wkt_features(path: Path) -> Iterator[Feature]:
    rows = _CsvRows(path)
    wkt_column = next((h for h in rows.header if _norm(h) in WKT_NAMES), None)
    if wkt_column is None:
        raise rows.fail(gettext("the CSV file has no WKT column (name it WKT or geometry)"))
    for number, row in enumerate(rows, start=1):
        text = row.pop(wkt_column, "") or ""
        try:
            geometry = parse_wkt(text) if text.strip() else None
        except ValueError:
            geometry = {"wkt_error": True}
        yield number, {k: v for k, v in row.items() if k is not None}, geometry


def read_features(path: str | Path) -> Iterator[Feature]:
    """The features of a GeoJSON, shapefile (.shp/.zip) or WKT CSV file. The file is opened (and, for GeoJSON,
    parsed) before the first feature is yielded, so an unreadable file fails before anything is written."""
    path = Path(path)
    if not path.is_file():
        raise ImportFileError(gettext("no such file"))
    suffix = path.suffix.lower()
    if suffix in (".shp", ".zip"):
        features = _shapefile_features(path)
    elif suffix in (".csv", ".txt", ".tsv"):
        features = _csv_wkt_features(path)
    else:
        features = _geojson_features(path)
    try:
        first = next(features)
    except StopIteration:
        return iter(())
    return _chain(first, features)


def _chain(first: Feature, rest: Iterator[Feature]) -> Iterator[Feature]:
    yield first
    yield from rest


def _batches(items: Iterable[Any], size: int = BATCH) -> Iterator[list[Any]]:
    batch: list[Any] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


# ---------------------------------------------------------------- zones (also used to place segments and meters)


class ZoneFinder:
    """The zone whose polygon holds a point; zones are read once, their boxes checked before their polygons."""

    def __init__(self, session):
        rows = session.execute(sa.select(Zone.code, Zone.geometry, Zone.min_lat, Zone.max_lat, Zone.min_long, Zone.max_long)
                               .order_by(Zone.code))
        self.zones = [tuple(r) for r in rows]

    def find(self, lat: float, long: float) -> str | None:
        for code, geometry, min_lat, max_lat, min_long, max_long in self.zones:
            if min_lat <= lat <= max_lat and min_long <= long <= max_long and geo.point_in_polygon(lat, long, geometry):
                return code
        return None


def _upsert(session, model, key: str, rows: dict[str, dict[str, Any]], report: ImportReport) -> None:
    """Insert the new rows of a batch and update the known ones (matched by ``key``), two statements each."""
    column = getattr(model, key)
    existing = dict(session.execute(sa.select(column, model.id).where(column.in_(list(rows)))).all())
    new = [row for k, row in rows.items() if k not in existing]
    known = [{**row, "id": existing[k]} for k, row in rows.items() if k in existing]
    if new:
        session.execute(sa.insert(model), new)
    if known:
        session.execute(sa.update(model), known)
    report.added += len(new)
    report.updated += len(known)


def import_zones(session, path: str | Path) -> ImportReport:
    """Zones from a GeoJSON file of polygons with a code and a name (``name_fr`` gives the French name)."""
    report = ImportReport(gettext("zones"))
    rows: dict[str, dict[str, Any]] = {}
    now = utcnow()
    for number, props, geometry in read_features(path):
        problem = geometry_problem(geometry, POLYGONS)
        code = _text(pick(props, ZONE_CODE_NAMES))[:50]
        if not problem and not code:
            problem = gettext("no zone code (a property named code, zone or district)")
        if problem:
            report.problem(number, problem)
            continue
        geometry = _clean(geometry)
        name = _text(pick(props, ZONE_LABEL_NAMES))[:200] or code
        translations = {}
        for key, value in props.items():
            match = re.match(r"^name[_-]([a-z]{2})$", str(key).lower())
            if match and _text(value):
                translations[match.group(1)] = {"name": _text(value)[:200]}
        rows[code] = {"code": code, "name": name, "translations": translations, "geometry": geometry,
                      "sample": False, "imported_at": now, **geo.extent(geometry)}
    for batch in _batches(list(rows.items())):
        _upsert(session, Zone, "code", dict(batch), report)
    session.commit()
    return report


# ---------------------------------------------------------------- street segments


def _length(props: dict[str, Any], geometry: dict[str, Any]) -> float:
    """The length in the file when it is plausibly metres (within 4x of the measured one), else the measured one."""
    measured = geo.line_length_m(geometry)
    given = _number(pick(props, LENGTH_NAMES))
    if given and given > 0 and (measured == 0 or 0.25 <= given / measured <= 4):
        return round(given, 1)
    return round(measured, 1)


def import_streets(session, path: str | Path) -> ImportReport:
    """Street segments from the city's GIS export (see the module docstring); upserted by segment id."""
    report = ImportReport(gettext("street segments"))
    zones = ZoneFinder(session)
    seen: set[str] = set()
    now = utcnow()

    def rows() -> Iterator[dict[str, Any]]:
        for number, props, geometry in read_features(path):
            problem = geometry_problem(geometry, LINES)
            key = _text(pick(props, SEGMENT_ID_NAMES))
            if not problem and not key:
                problem = gettext("no segment id (a property named SEGMENT_ID, segid, id or OBJECTID)")
            if not problem and len(key) > 64:
                problem = gettext("the segment id is longer than 64 characters")
            if not problem and key in seen:
                problem = gettext("segment id %(key)s appears twice in the file: this one was skipped", key=key)
            if problem:
                report.problem(number, problem)
                continue
            seen.add(key)
            geometry = _clean(geometry)
            box = geo.extent(geometry)
            zone = _text(pick(props, ZONE_NAMES))[:50] or zones.find(box["mid_lat"], box["mid_long"])
            yield {"segment_key": key, "street_name": _text(pick(props, STREET_NAMES))[:200], "zone_code": zone or None,
                   "length_m": _length(props, geometry), "geometry": geometry, "sample": False, "imported_at": now, **box}

    for batch in _batches(rows()):
        _upsert(session, StreetSegment, "segment_key", {row["segment_key"]: row for row in batch}, report)
    session.commit()
    return report


# ---------------------------------------------------------------- utility meters (CSV)


def import_meters(session, path: str | Path) -> ImportReport:
    """Utility meters from a CSV file: meter number, account number, lat, long, kind; the zone from the zones."""
    path = Path(path)
    if not path.is_file():
        raise ImportFileError(gettext("no such file"))
    lines = _CsvRows(path)
    loose = {_norm(h) for h in lines.header}
    for names, label in ((METER_NAMES, "meter_number"), (LAT_NAMES, "lat"), (LONG_NAMES, "long")):
        if not loose & set(names):
            raise lines.fail(gettext("the CSV file has no %(column)s column", column=label))
    report = ImportReport(gettext("meters"))
    zones = ZoneFinder(session)
    seen: set[str] = set()
    now = utcnow()

    def rows() -> Iterator[dict[str, Any]]:
        for number, row in enumerate(lines, start=1):
            meter = _text(pick(row, METER_NAMES))
            lat, long = _number(pick(row, LAT_NAMES)), _number(pick(row, LONG_NAMES))
            problem = None
            if not meter:
                problem = gettext("no meter number")
            elif len(meter) > 40:
                problem = gettext("the meter number is longer than 40 characters")
            elif meter in seen:
                problem = gettext("meter %(number)s appears twice in the file: this one was skipped", number=meter)
            elif lat is None or long is None:
                problem = gettext("no position (lat and long must be numbers)")
            else:
                problem = _position_problem([long, lat])
            if problem:
                report.problem(number, problem)
                continue
            seen.add(meter)
            kind = _text(pick(row, KIND_NAMES)).lower()[:20] or "water"
            yield {"meter_number": meter, "account_number": _text(pick(row, ACCOUNT_NAMES))[:40] or None, "kind": kind,
                   "lat": lat, "long": long, "zone_code": zones.find(lat, long), "sample": False, "imported_at": now}

    for batch in _batches(rows()):
        _upsert(session, Meter, "meter_number", {row["meter_number"]: row for row in batch}, report)
    session.commit()
    return report


# ---------------------------------------------------------------- features of a declared ``file`` layer


def import_layer(session, layer, path: str | Path) -> ImportReport:
    """A ``file`` layer's GeoJSON into LayerFeature, replacing that layer's features (one transaction)."""
    report = ImportReport(layer.code)
    allowed = LAYER_TYPES.get(layer.geometry, POINTS)
    features = read_features(path)  # fails here, before the old features are removed, when unreadable
    session.execute(sa.delete(LayerFeature).where(LayerFeature.layer == layer.code))
    now = utcnow()

    def rows() -> Iterator[dict[str, Any]]:
        for number, props, geometry in features:
            problem = geometry_problem(geometry, allowed)
            if problem:
                report.problem(number, problem)
                continue
            geometry = _clean(geometry)
            key = _text(props.get(layer.key_column) if layer.key_column else props.get("id"))[:120] or None
            safe = json.loads(json.dumps(props, default=str))
            yield {"layer": layer.code, "feature_key": key, "geometry": geometry, "properties": safe, "imported_at": now,
                   **geo.extent(geometry)}

    for batch in _batches(rows()):
        session.execute(sa.insert(LayerFeature), batch)
        report.added += len(batch)
    session.commit()
    return report
