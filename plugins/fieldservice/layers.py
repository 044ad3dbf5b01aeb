"""The GeoJSON of a map layer, bounded by the map's box and zoom so a city of 1,000,000 cases stays fast.

At and above the ``raw_zoom`` (config, default 15) a layer sends its features, at most ``RAW_LIMIT`` of them
(``truncated: true`` in the collection's properties when cut); below it, grid cells counted in SQL (``GROUP BY``
the cell of ``geo.grid_key``), each a GeoJSON point with its ``count`` (and its count per status for cases and
for streets in a sweep).  Zones are few and are the base map: they always come as polygons.

Nothing personal leaves here: a case is its reference, service, status and date (never its address or contact);
a ``file`` or ``table`` layer gives only the properties listed in its ``popup``.  A layer with ``roles`` is served
only to users holding one of them (Admin always): ``may_see``.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Mapping

import sqlalchemy as sa
from flask import url_for
from flask_babel import gettext

from core.i18n_content import localized
from core.models import Case, ServiceType
from core.models.case import OPEN_STATUSES, STATUSES
from core.security import acting_user, role_names, sees_all_cases, user_department_ids
from plugins.fieldservice import geo
from plugins.fieldservice.models import LayerFeature, Meter, StreetSegment, SweepCampaign, SweepSegment, Zone
from plugins.fieldservice.settings import IDENTIFIER, Layer, layers, settings, sweep_type

RAW_LIMIT = 5000  # features in one answer at most
CELL_LIMIT = 5000  # grid cells in one answer at most
CITYWIDE_CASE_ROLES = frozenset({"EOC viewer"})  # with Admin and Dispatcher: every department's cases
TABLE_SCAN_LIMIT = 20_000  # rows read from a table layer that has no position columns to filter on in SQL

CASE_STATUS_COLORS = {
    "new": "#1565c0", "acknowledged": "#00838f", "in_progress": "#ef6c00", "on_hold": "#8e24aa",
    "reopened": "#c62828", "resolved": "#2e7d32", "closed": "#616161", "duplicate": "#9e9e9e",
}

# What a popup shows for the built-in layers, when the layer declares no ``popup`` of its own.
DEFAULT_POPUP = {
    "streets": ("street", "segment", "zone", "length_m", "status_label"),
    "zones": ("name", "code"),
    "cases": ("reference", "service", "status_label", "created"),
    "meters": ("meter_number", "account_number", "kind", "zone"),
}


class LayerUnavailable(Exception):
    """The layer's source cannot be read (a ``table`` layer whose table or columns are missing)."""


@dataclass(frozen=True)
class LayerQuery:
    """A layer request's parameters, checked."""

    bbox: geo.BBox | None
    zoom: int
    raw: bool
    sweep_id: int | None = None
    statuses: tuple[str, ...] | None = None  # cases: None means every status


# ---------------------------------------------------------------- who sees what


def may_see(layer: Layer, user=None) -> bool:
    """A layer without ``roles`` is for every staff member who opens the map; otherwise one of its roles (or Admin)."""
    if not layer.roles:
        return True
    return bool(role_names(user) & (set(layer.roles) | {"Admin"}))


def visible_layers(user=None) -> list[Layer]:
    return [lay for lay in layers() if may_see(lay, user)]


def popup_fields(layer: Layer) -> tuple[str, ...]:
    return layer.popup or DEFAULT_POPUP.get(layer.source, ())


def client_config(layer: Layer) -> dict[str, Any]:
    """What the map script needs to know of a layer (no secrets: no table names)."""
    return {"code": layer.code, "name": layer.label, "source": layer.source, "geometry": layer.geometry,
            "style": layer.style, "popup": list(popup_fields(layer)), "visible": layer.visible}


# ---------------------------------------------------------------- parameters


def raw_zoom() -> int:
    return int(settings().get("raw_zoom") or 15)


def parse_query(layer: Layer, args: Mapping[str, str]) -> LayerQuery:
    """``bbox``, ``zoom``, ``sweep`` and ``status`` from the request; GeoError (400) naming the bad one."""
    threshold = raw_zoom()
    bbox = geo.parse_bbox(args.get("bbox"))
    zoom = geo.parse_zoom(args.get("zoom"), default=threshold)
    raw = zoom >= threshold or layer.source == "zones"
    if bbox is None and raw and layer.source != "zones":
        raise geo.GeoError("bbox", gettext("is required at this zoom: min_long,min_lat,max_long,max_lat"))
    sweep_id = None
    if args.get("sweep") not in (None, ""):
        value = str(args.get("sweep")).strip()
        if not value.isdigit() or len(value) > 9:
            raise geo.GeoError("sweep", gettext("must be a sweep number"))
        sweep_id = int(value)
    statuses: tuple[str, ...] | None = tuple(sorted(OPEN_STATUSES))
    wanted = (args.get("status") or "").strip()
    if wanted == "all":
        statuses = None
    elif wanted and wanted != "open":
        statuses = tuple(s.strip() for s in wanted.split(",") if s.strip())
        unknown = [s for s in statuses if s not in STATUSES]
        if unknown or not statuses:
            raise geo.GeoError("status", gettext("unknown status %(status)s (known: %(known)s, or open, or all)",
                                                 status=", ".join(unknown)[:60], known=", ".join(STATUSES)))
    return LayerQuery(bbox=bbox, zoom=zoom, raw=raw, sweep_id=sweep_id, statuses=statuses)


# ---------------------------------------------------------------- building blocks


def _collection(layer: Layer, query: LayerQuery, features: list[dict], *, truncated: bool, mode: str, **extra) -> dict[str, Any]:
    props = {"layer": layer.code, "mode": mode, "zoom": query.zoom, "count": len(features), "truncated": truncated, **extra}
    return {"type": "FeatureCollection", "properties": props, "features": features}


def _feature(fid: Any, geometry: dict, properties: dict) -> dict[str, Any]:
    return {"type": "Feature", "id": fid, "geometry": geometry, "properties": properties}


def _cut(rows: list, limit: int) -> tuple[list, bool]:
    return (rows[:limit], True) if len(rows) > limit else (rows, False)


def _cells(session, query: LayerQuery, lat_col, long_col, where: list, group_by=None, colors: Mapping[str, str] | None = None,
           labels: Mapping[str, str] | None = None) -> tuple[list[dict], bool]:
    """Grid cells of the points (lat_col, long_col) matching ``where``: count (and count per ``group_by`` value)."""
    cell = geo.cell_degrees(query.zoom)
    row, col = geo.grid_key(lat_col, long_col, cell)
    keys = [row.label("row"), col.label("col")]
    if group_by is not None:
        keys.append(group_by.label("grp"))
    stmt = sa.select(*keys, sa.func.count().label("n"), sa.func.avg(lat_col).label("lat"), sa.func.avg(long_col).label("long"))
    conditions = list(where) + [lat_col.is_not(None), long_col.is_not(None)]
    if query.bbox is not None:
        conditions.append(query.bbox.holds(lat_col, long_col))
    stmt = stmt.where(*conditions).group_by(*[k for k in keys]).limit(CELL_LIMIT * (4 if group_by is not None else 1) + 1)
    rows = session.execute(stmt).all()
    merged: dict[tuple[int, int], dict[str, Any]] = {}
    for r in rows:
        entry = merged.setdefault((r.row, r.col), {"n": 0, "lat": 0.0, "long": 0.0, "by": {}})
        entry["lat"] += float(r.lat) * r.n
        entry["long"] += float(r.long) * r.n
        entry["n"] += r.n
        if group_by is not None:
            entry["by"][r.grp or ""] = entry["by"].get(r.grp or "", 0) + r.n
    truncated = len(rows) > CELL_LIMIT * (4 if group_by is not None else 1)
    features = []
    for (r, c), entry in sorted(merged.items()):
        props: dict[str, Any] = {"count": entry["n"], "cell": [r, c], "aggregate": True}
        if group_by is not None:
            by = dict(sorted(entry["by"].items(), key=lambda kv: -kv[1]))
            props["statuses"] = by
            props["status_labels"] = {code: (labels or {}).get(code, code) for code in by}
            top = next(iter(by), "")
            props["color"] = (colors or {}).get(top)
            props["status_label"] = (labels or {}).get(top, top)
        point = {"type": "Point", "coordinates": [round(entry["long"] / entry["n"], 6), round(entry["lat"] / entry["n"], 6)]}
        features.append(_feature(f"cell-{r}-{c}", point, props))
    features, cut = _cut(features, CELL_LIMIT)
    return features, truncated or cut


# ---------------------------------------------------------------- built-in layers


def _sweep_statuses(session, sweep_id: int) -> tuple[dict[str, str], dict[str, str]]:
    sweep = session.get(SweepCampaign, sweep_id)
    if sweep is None:
        raise geo.GeoError("sweep", gettext("no such sweep"))
    kind = sweep_type(sweep.sweep_type)
    statuses = kind.statuses if kind else ()
    return {s.code: s.color for s in statuses}, {s.code: s.label for s in statuses}


def streets(session, layer: Layer, query: LayerQuery) -> dict[str, Any]:
    colors = labels = None
    status_col = None
    join = None
    if query.sweep_id is not None:
        colors, labels = _sweep_statuses(session, query.sweep_id)
        join = sa.and_(SweepSegment.segment_id == StreetSegment.id, SweepSegment.sweep_id == query.sweep_id)
        status_col = SweepSegment.status
    if not query.raw:
        where: list = []
        if join is not None:  # cells count the sweep's streets by status (the sweep's segments only)
            where = [SweepSegment.sweep_id == query.sweep_id, SweepSegment.segment_id == StreetSegment.id]
        features, truncated = _cells(session, query, StreetSegment.mid_lat, StreetSegment.mid_long, where, group_by=status_col,
                                     colors=colors, labels=labels)
        return _collection(layer, query, features, truncated=truncated, mode="cells", sweep=query.sweep_id)
    columns = [StreetSegment.id, StreetSegment.segment_key, StreetSegment.street_name, StreetSegment.zone_code,
               StreetSegment.length_m, StreetSegment.geometry]
    stmt = sa.select(*columns, *([SweepSegment.status, SweepSegment.checked_at] if join is not None else []))
    stmt = stmt.select_from(StreetSegment)
    if join is not None:
        stmt = stmt.outerjoin(SweepSegment, join)
    stmt = stmt.where(query.bbox.overlaps(StreetSegment)).order_by(StreetSegment.id).limit(RAW_LIMIT + 1)
    rows, truncated = _cut(session.execute(stmt).all(), RAW_LIMIT)
    features = []
    for r in rows:
        props = {"segment_id": r.id, "segment": r.segment_key, "street": r.street_name, "zone": r.zone_code,
                 "length_m": round(r.length_m or 0, 1)}
        if join is not None:
            props.update(status=r.status, status_label=(labels or {}).get(r.status, r.status) if r.status else None,
                         color=(colors or {}).get(r.status), checked_at=r.checked_at.isoformat() if r.checked_at else None)
        features.append(_feature(r.id, r.geometry, props))
    return _collection(layer, query, features, truncated=truncated, mode="features", sweep=query.sweep_id)


def zones(session, layer: Layer, query: LayerQuery) -> dict[str, Any]:
    stmt = sa.select(Zone.id, Zone.code, Zone.name, Zone.translations, Zone.geometry, Zone.sample)
    if query.bbox is not None:
        stmt = stmt.where(query.bbox.overlaps(Zone))
    rows, truncated = _cut(session.execute(stmt.order_by(Zone.code).limit(RAW_LIMIT + 1)).all(), RAW_LIMIT)
    features = [_feature(r.id, r.geometry, {"code": r.code, "name": localized({"name": r.name, "translations": r.translations}, "name"),
                                             "sample": bool(r.sample)}) for r in rows]
    return _collection(layer, query, features, truncated=truncated, mode="features")


def _citywide() -> bool:
    """Dispatchers, admins and EOC viewers see every case on the map (the layer carries nothing personal)."""
    return sees_all_cases() or bool(role_names() & CITYWIDE_CASE_ROLES)


def _case_scope(stmt):
    """Department staff and crews see their departments' cases; see ``_citywide`` for who sees all."""
    if _citywide():
        return stmt
    return stmt.where(Case.department_id.in_(user_department_ids(acting_user())))


def cases(session, layer: Layer, query: LayerQuery) -> dict[str, Any]:
    where = [Case.status.in_(query.statuses)] if query.statuses is not None else []
    labels = {code: str(label) for code, (label, _) in STATUSES.items()}
    if not query.raw:
        if not _citywide():
            where.append(Case.department_id.in_(user_department_ids(acting_user())))
        features, truncated = _cells(session, query, Case.lat, Case.long, where, group_by=Case.status,
                                     colors=CASE_STATUS_COLORS, labels=labels)
        return _collection(layer, query, features, truncated=truncated, mode="cells")
    stmt = (sa.select(Case.id, Case.reference, Case.status, Case.created_at, Case.lat, Case.long,
                      ServiceType.code.label("service_code"), ServiceType.name.label("service_name"),
                      ServiceType.translations.label("service_translations"))
            .join(ServiceType, ServiceType.id == Case.service_type_id)
            .where(*where, query.bbox.holds(Case.lat, Case.long)))
    stmt = _case_scope(stmt).order_by(Case.created_at.desc()).limit(RAW_LIMIT + 1)
    rows, truncated = _cut(session.execute(stmt).all(), RAW_LIMIT)
    features = []
    for r in rows:
        service = localized({"name": r.service_name, "translations": r.service_translations}, "name")
        props = {"reference": r.reference, "service": service, "service_code": r.service_code, "status": r.status,
                 "status_label": labels.get(r.status, r.status), "color": CASE_STATUS_COLORS.get(r.status, "#616161"),
                 "created": r.created_at.date().isoformat() if r.created_at else None,
                 "url": url_for("CaseView.show", pk=r.id)}
        features.append(_feature(r.id, {"type": "Point", "coordinates": [r.long, r.lat]}, props))
    return _collection(layer, query, features, truncated=truncated, mode="features")


def meters(session, layer: Layer, query: LayerQuery) -> dict[str, Any]:
    if not query.raw:
        features, truncated = _cells(session, query, Meter.lat, Meter.long, [])
        return _collection(layer, query, features, truncated=truncated, mode="cells")
    stmt = (sa.select(Meter.id, Meter.meter_number, Meter.account_number, Meter.kind, Meter.zone_code, Meter.lat, Meter.long)
            .where(query.bbox.holds(Meter.lat, Meter.long)).order_by(Meter.id).limit(RAW_LIMIT + 1))
    rows, truncated = _cut(session.execute(stmt).all(), RAW_LIMIT)
    features = [_feature(r.id, {"type": "Point", "coordinates": [r.long, r.lat]},
                         {"meter_number": r.meter_number, "account_number": r.account_number, "kind": r.kind, "zone": r.zone_code})
                for r in rows]
    return _collection(layer, query, features, truncated=truncated, mode="features")


def _only(properties: Mapping[str, Any] | None, names: tuple[str, ...]) -> dict[str, Any]:
    properties = properties or {}
    return {name: properties.get(name) for name in names if name in properties}


def file_layer(session, layer: Layer, query: LayerQuery) -> dict[str, Any]:
    if not query.raw:
        features, truncated = _cells(session, query, LayerFeature.mid_lat, LayerFeature.mid_long, [LayerFeature.layer == layer.code])
        return _collection(layer, query, features, truncated=truncated, mode="cells")
    stmt = (sa.select(LayerFeature.id, LayerFeature.feature_key, LayerFeature.geometry, LayerFeature.properties)
            .where(LayerFeature.layer == layer.code, query.bbox.overlaps(LayerFeature)).order_by(LayerFeature.id).limit(RAW_LIMIT + 1))
    rows, truncated = _cut(session.execute(stmt).all(), RAW_LIMIT)
    features = [_feature(r.id, r.geometry, {"key": r.feature_key, **_only(r.properties, layer.popup)}) for r in rows]
    return _collection(layer, query, features, truncated=truncated, mode="features")


# ---------------------------------------------------------------- a table or view of the city's database


def _identifier(name: str | None) -> str | None:
    if name is None:
        return None
    if not IDENTIFIER.match(name):  # also checked at start-up; never trust it twice removed
        raise LayerUnavailable(f"not a plain identifier: {name!r}")
    return name


def _table(layer: Layer):
    """``sa.table`` of the declared columns: SQLAlchemy quotes each name with the dialect's identifier preparer."""
    names = {n for n in (layer.lat_column, layer.long_column, layer.geometry_column, layer.key_column, *layer.popup) if n}
    table = sa.table(_identifier(layer.table), *[sa.column(_identifier(n)) for n in sorted(names)])
    return table


def table_layer(session, layer: Layer, query: LayerQuery) -> dict[str, Any]:
    table = _table(layer)
    c = table.c
    lat = c[layer.lat_column] if layer.lat_column else None
    long = c[layer.long_column] if layer.long_column else None
    try:
        if lat is not None and long is not None and not query.raw:
            features, truncated = _cells(session, query, lat, long, [])
            return _collection(layer, query, features, truncated=truncated, mode="cells")
        columns = [c[n] for n in sorted(set(layer.popup) | {n for n in (layer.key_column, layer.geometry_column) if n})]
        stmt = sa.select(*columns, *([lat, long] if lat is not None else []))
        if lat is not None and long is not None:
            if query.bbox is not None:
                stmt = stmt.where(query.bbox.holds(lat, long))
            stmt = stmt.where(lat.is_not(None), long.is_not(None))
            limit = RAW_LIMIT + 1
        else:
            limit = TABLE_SCAN_LIMIT + 1  # GeoJSON text only: the box is checked below, on a bounded read
        if layer.key_column:
            stmt = stmt.order_by(c[layer.key_column])
        rows = session.execute(stmt.limit(limit)).mappings().all()
    except sa.exc.DBAPIError as exc:
        session.rollback()
        raise LayerUnavailable(str(exc.orig).splitlines()[0][:200]) from None
    scanned_all = len(rows) < limit
    features = []
    for number, row in enumerate(rows[: limit - 1]):
        geometry = _table_geometry(layer, row)
        if geometry is None:
            continue
        if query.bbox is not None and layer.geometry_column and lat is None:
            box = geo.extent(geometry)
            if box["max_lat"] < query.bbox.min_lat or box["min_lat"] > query.bbox.max_lat or \
                    box["max_long"] < query.bbox.min_long or box["min_long"] > query.bbox.max_long:
                continue
        key = row[layer.key_column] if layer.key_column else number
        props = {"key": _plain(key), **{n: _plain(row[n]) for n in layer.popup}}
        features.append(_feature(_plain(key), geometry, props))
    if not query.raw:  # GeoJSON text only: cells counted here from the bounded read
        features = _cells_in_python(features, query)
    features, cut = _cut(features, CELL_LIMIT if not query.raw else RAW_LIMIT)
    return _collection(layer, query, features, truncated=cut or not scanned_all, mode="features" if query.raw else "cells")


def _plain(value: Any) -> Any:
    return value if value is None or isinstance(value, (str, int, float, bool)) else str(value)


def _table_geometry(layer: Layer, row: Mapping[str, Any]) -> dict[str, Any] | None:
    if layer.geometry_column:
        value = row[layer.geometry_column]
        try:
            geometry = json.loads(value) if isinstance(value, str) else value
        except (TypeError, ValueError):
            return None
        if isinstance(geometry, dict) and geometry.get("type") and geometry.get("coordinates"):
            return {"type": geometry["type"], "coordinates": geometry["coordinates"]}
        return None
    lat, long = row[layer.lat_column], row[layer.long_column]
    if lat is None or long is None:
        return None
    return {"type": "Point", "coordinates": [float(long), float(lat)]}


def _cells_in_python(features: list[dict], query: LayerQuery) -> list[dict]:
    cell = geo.cell_degrees(query.zoom)
    merged: dict[tuple[int, int], list[float]] = {}
    for feature in features:
        box = geo.extent(feature["geometry"])
        key = (int((box["mid_lat"] + 90) // cell), int((box["mid_long"] + 180) // cell))
        entry = merged.setdefault(key, [0, 0.0, 0.0])
        entry[0] += 1
        entry[1] += box["mid_lat"]
        entry[2] += box["mid_long"]
    return [_feature(f"cell-{r}-{c}", {"type": "Point", "coordinates": [round(lo / n, 6), round(la / n, 6)]},
                     {"count": n, "cell": [r, c], "aggregate": True}) for (r, c), (n, la, lo) in sorted(merged.items())]


SOURCES = {"streets": streets, "zones": zones, "cases": cases, "meters": meters, "file": file_layer, "table": table_layer}


def layer_geojson(session, layer: Layer, query: LayerQuery) -> dict[str, Any]:
    """The layer's GeoJSON FeatureCollection for this box and zoom (see the module docstring)."""
    return SOURCES[layer.source](session, layer, query)

