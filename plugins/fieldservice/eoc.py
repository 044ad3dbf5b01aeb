"""The EOC board (Field › EOC board): a full-screen page for the big screen of the emergency operations
centre, and the two JSON answers it refreshes itself from.

- ``/fieldservice/eoc/api/summary?window=6h|24h|storm``: open cases by status and by service, new and closed
  cases in the window, sweep progress per zone of the active sweeps (progress.py), the last hour's activity;
- ``/fieldservice/eoc/api/hotspots.geojson?bbox=&zoom=&window=``: open cases and flagged sweep segments counted
  per grid cell in SQL (geo.grid_key), as cell polygons with a count and a severity score; gzip-compressed when
  the client accepts it.  The open cases are counted from one covering index (``ix_case_open_map``, core
  migration 0008), so 100,000 open cases cost an index range, not a table scan.

"Since the storm" starts when the earliest active sweep started (7 days back when none is active: the page
says so).  Everything is counted by the database (GROUP BY, bounded by the map's box and a LIMIT); nothing
names a resident: references, services, statuses and street names only.
"""
from __future__ import annotations

import gzip
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask import Response, current_app, jsonify, render_template, request
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access, has_access_api
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from core.extensions import db
from core.formats import format_number, html_lang, to_city_time
from core.i18n_content import localized
from core.models import OPEN_STATUSES, STATUSES, Case, CaseEvent, ServiceType
from core.models.base import utcnow
from core.records import Panel, RoleSpec, ViewSpec
from plugins.fieldservice import geo
from plugins.fieldservice.models import StreetSegment, SweepCampaign, SweepCheck, SweepSegment, Zone
from plugins.fieldservice.progress import total_progress, zone_progress
from plugins.fieldservice.settings import settings, sweep_type, sweep_types

WINDOWS = ("6h", "24h", "storm")
STORM_FALLBACK = timedelta(days=7)
MAX_CELLS = 5000
MAX_SWEEPS = 10
ACTIVITY_LIMIT = 25
GZIP_MIN_BYTES = 1024  # smaller answers go as they are
GZIP_LEVEL = 6
PRIORITY_WEIGHT = {"urgent": 3, "high": 2}  # a case weighs 1 on the hot-spot map, more when urgent
VIEWS = "EocView|EOC board|Field"


@dataclass(frozen=True)
class Window:
    code: str
    since: datetime
    storm_fallback: bool = False  # "since the storm" with no active sweep: the last 7 days


def parse_window(text: str | None, session: Session, now: datetime) -> Window:
    code = (text or "24h").strip()
    if code not in WINDOWS:
        raise geo.GeoError("window", gettext("must be one of: %(choices)s", choices=", ".join(WINDOWS)))
    if code == "6h":
        return Window(code, now - timedelta(hours=6))
    if code == "24h":
        return Window(code, now - timedelta(hours=24))
    start = session.scalar(sa.select(sa.func.min(SweepCampaign.started_at)).where(SweepCampaign.state == "active"))
    if start is None:
        return Window(code, now - STORM_FALLBACK, storm_fallback=True)
    return Window(code, start)


def active_sweeps(session: Session) -> list[SweepCampaign]:
    stmt = (sa.select(SweepCampaign).where(SweepCampaign.state == "active")
            .order_by(SweepCampaign.started_at, SweepCampaign.id).limit(MAX_SWEEPS))
    return list(session.scalars(stmt))


# ---------------------------------------------------------------- the summary


def _status_label(code: str) -> str:
    return str(STATUSES[code][0]) if code in STATUSES else code


def case_counts(session: Session, window: Window) -> dict[str, Any]:
    """Open cases reported in the window, by status and by service; new and closed in the window; all open."""
    recent_open = sa.and_(Case.status.in_(OPEN_STATUSES), Case.created_at >= window.since)
    by_status = dict(session.execute(sa.select(Case.status, sa.func.count()).where(recent_open).group_by(Case.status)).all())
    by_service_rows = session.execute(
        sa.select(Case.service_type_id, sa.func.count()).where(recent_open).group_by(Case.service_type_id)
        .order_by(sa.func.count().desc()).limit(50)
    ).all()
    services = {s.id: s for s in session.scalars(sa.select(ServiceType).where(ServiceType.id.in_([r[0] for r in by_service_rows])))}
    new = session.scalar(sa.select(sa.func.count()).select_from(Case).where(Case.created_at >= window.since)) or 0
    # closed_at <= updated_at always: the updated_at index finds them without scanning every case.
    closed = session.scalar(sa.select(sa.func.count()).select_from(Case)
                            .where(Case.updated_at >= window.since, Case.closed_at >= window.since)) or 0
    open_all = session.scalar(sa.select(sa.func.count()).select_from(Case).where(Case.status.in_(OPEN_STATUSES))) or 0
    return {
        "by_status": [{"status": code, "label": _status_label(code), "count": int(by_status.get(code, 0))}
                      for code in STATUSES if code in OPEN_STATUSES],
        "by_service": [{"service": services[sid].code, "label": localized(services[sid], "name"), "count": int(n)}
                       for sid, n in by_service_rows if sid in services],
        "open_in_window": int(sum(by_status.values())),
        "new": int(new), "closed": int(closed), "open_total": int(open_all),
    }


def sweep_summary(session: Session) -> list[dict[str, Any]]:
    """Each active sweep: its zones' progress and the whole (progress.py: one GROUP BY per sweep)."""
    out = []
    for sweep in active_sweeps(session):
        zones = zone_progress(session, sweep)
        kind = sweep_type(sweep.sweep_type)
        out.append({"id": sweep.id, "name": sweep.name, "type": kind.label if kind else sweep.sweep_type,
                    "started_at": sweep.started_at.isoformat() if sweep.started_at else None,
                    "total": total_progress(zones).as_json(), "zones": [z.as_json() for z in zones]})
    return out


def _status_names() -> dict[tuple[str, str], str]:
    return {(t.code, s.code): s.label for t in sweep_types() for s in t.statuses}


def recent_activity(session: Session, now: datetime) -> list[dict[str, Any]]:
    """The last hour: check-offs (street, status, zone) and case events (reference, service, status); no names,
    no notes (a note may name someone)."""
    since = now - timedelta(hours=1)
    names = _status_names()
    checks = session.execute(
        sa.select(SweepCheck.received_at, SweepCheck.status, StreetSegment.street_name,
                  sa.func.coalesce(Zone.name, SweepSegment.zone_code), SweepCampaign.sweep_type)
        .join(SweepSegment, SweepSegment.id == SweepCheck.sweep_segment_id)
        .join(StreetSegment, StreetSegment.id == SweepSegment.segment_id)
        .join(SweepCampaign, SweepCampaign.id == SweepSegment.sweep_id)
        .outerjoin(Zone, Zone.code == SweepSegment.zone_code)
        .where(SweepCheck.received_at >= since).order_by(SweepCheck.received_at.desc()).limit(ACTIVITY_LIMIT)
    ).all()
    events = session.execute(
        sa.select(CaseEvent.created_at, CaseEvent.kind, CaseEvent.data, Case.reference, Case.status, Case.service_type_id)
        .join(Case, Case.id == CaseEvent.case_id)
        .where(CaseEvent.created_at >= since, CaseEvent.kind.in_(("created", "status_changed")))
        .order_by(CaseEvent.created_at.desc()).limit(ACTIVITY_LIMIT)
    ).all()
    services = {s.id: s for s in session.scalars(sa.select(ServiceType).where(ServiceType.id.in_({e.service_type_id for e in events})))}
    items: list[dict[str, Any]] = []
    for at, status, street, zone, kind in checks:
        items.append({"at": at.isoformat(), "time": to_city_time(at).strftime("%H:%M"), "kind": "check", "street": street,
                      "zone": zone, "status": status, "label": names.get((kind, status), status)})
    for at, kind, data, reference, current, service_id in events:
        new = (data or {}).get("new") if kind == "status_changed" else "new"
        service = services.get(service_id)
        items.append({"at": at.isoformat(), "time": to_city_time(at).strftime("%H:%M"), "kind": "case_" + kind,
                      "reference": reference, "service": localized(service, "name") if service else "",
                      "status": new, "label": _status_label(new) if new else ""})
    items.sort(key=lambda i: i["at"], reverse=True)
    return items[:ACTIVITY_LIMIT]


def summary(session: Session, window: Window, now: datetime) -> dict[str, Any]:
    return {
        "window": window.code, "since": window.since.isoformat(), "storm_fallback": window.storm_fallback,
        "updated_at": now.isoformat(), "updated_time": to_city_time(now).strftime("%H:%M"),
        "cases": case_counts(session, window), "sweeps": sweep_summary(session), "activity": recent_activity(session, now),
    }


# ---------------------------------------------------------------- the hot-spot cells


def cell_size(zoom: int) -> float:
    """A cell's side in degrees: about 48 px on screen, never under ``hotspot_cell_m`` (reached at the raw zoom)."""
    return max(geo.cell_degrees(zoom), geo.metres_to_degrees(float(settings().get("hotspot_cell_m") or 400)))


def _severity_case(statuses: list[tuple[str, str, int]]) -> Any:
    """SQL: a flagged segment's weight, from its sweep type's status severity (config)."""
    whens = [(sa.and_(SweepCampaign.sweep_type == t, SweepSegment.status == s), sev) for t, s, sev in statuses]
    return sa.case(*whens, else_=0) if whens else sa.literal(0)


def hotspots(session: Session, bbox: geo.BBox, zoom: int, window: Window) -> dict[str, Any]:
    """Open cases reported in the window and flagged segments of active sweeps checked in the window, counted
    per grid cell inside ``bbox``: a GeoJSON FeatureCollection of cell polygons (count, flagged, score)."""
    cell = cell_size(zoom)
    row, col = geo.grid_key(Case.lat, Case.long, cell)
    weight = sa.case(*[(Case.priority == p, w) for p, w in PRIORITY_WEIGHT.items()], else_=1)
    case_rows = session.execute(
        sa.select(row.label("r"), col.label("c"), sa.func.count(), sa.func.sum(weight))
        .where(Case.status.in_(OPEN_STATUSES), Case.lat.is_not(None), Case.long.is_not(None), bbox.holds(Case.lat, Case.long),
               Case.created_at >= window.since)
        .group_by(row, col).order_by(sa.func.count().desc()).limit(MAX_CELLS + 1)
    ).all()
    flagged = [(t.code, s.code, s.severity) for t in sweep_types() for s in t.statuses if s.flagged]
    seg_rows = []
    if flagged:
        srow, scol = geo.grid_key(StreetSegment.mid_lat, StreetSegment.mid_long, cell)
        severity = _severity_case(flagged)
        seg_rows = session.execute(
            sa.select(srow.label("r"), scol.label("c"), sa.func.count(), sa.func.sum(severity))
            .select_from(SweepSegment)
            .join(SweepCampaign, SweepCampaign.id == SweepSegment.sweep_id)
            .join(StreetSegment, StreetSegment.id == SweepSegment.segment_id)
            .where(SweepCampaign.state == "active", SweepSegment.status.in_({s for _, s, _ in flagged}),
                   bbox.holds(StreetSegment.mid_lat, StreetSegment.mid_long),
                   sa.or_(SweepSegment.checked_at >= window.since, SweepSegment.checked_at.is_(None)))
            .group_by(srow, scol).order_by(sa.func.count().desc()).limit(MAX_CELLS + 1)
        ).all()
    cells: dict[tuple[int, int], dict[str, int]] = {}
    for r, c, n, w in case_rows[:MAX_CELLS]:
        found = cells.setdefault((int(r), int(c)), {"count": 0, "flagged": 0, "score": 0})
        found["count"] += int(n)
        found["score"] += int(w or 0)
    for r, c, n, w in seg_rows[:MAX_CELLS]:
        found = cells.setdefault((int(r), int(c)), {"count": 0, "flagged": 0, "score": 0})
        found["flagged"] += int(n)
        found["score"] += int(w or 0)
    truncated = len(case_rows) > MAX_CELLS or len(seg_rows) > MAX_CELLS
    top = max((v["score"] for v in cells.values()), default=0)
    features = [
        {"type": "Feature", "geometry": geo.cell_polygon(r, c, cell),
         "properties": {**values, "level": round(values["score"] / top, 3) if top else 0}}
        for (r, c), values in sorted(cells.items(), key=lambda kv: -kv[1]["score"])
    ]
    return {"type": "FeatureCollection", "features": features,
            "properties": {"zoom": zoom, "cell_degrees": cell, "window": window.code, "since": window.since.isoformat(),
                           "max_score": top, "truncated": truncated}}


# ---------------------------------------------------------------- the page and its JSON


def gzipped(response: Response) -> Response:
    """The answer gzip-compressed when the client accepts it and it is worth it: a board refreshing thousands of
    cells every 30 s over a storm-day network sends a tenth of the bytes."""
    if response.status_code != 200 or response.direct_passthrough or "Content-Encoding" in response.headers:
        return response
    response.vary.add("Accept-Encoding")  # caches keep the two versions apart
    if not request.accept_encodings["gzip"]:
        return response
    body = response.get_data()
    if len(body) < GZIP_MIN_BYTES:
        return response
    response.set_data(gzip.compress(body, compresslevel=GZIP_LEVEL))
    response.headers["Content-Encoding"] = "gzip"
    return response



def _bad(exc: geo.GeoError):
    return jsonify(errors=exc.errors, message=gettext("%(field)s: %(message)s", field=exc.field, message=exc.message)), 400


def leaflet_url(filename: str) -> str | None:
    from plugins.fieldservice.workorder_screens import leaflet_url as find

    return find(filename)


def zones_layer_url() -> str | None:
    """The map's zones layer when the map is there: the board's base map when no tile server is configured."""
    from plugins.fieldservice.workorder_screens import layer_url

    return layer_url("zones")


class EocView(BaseView):
    """The EOC board and its JSON (dispatchers, supervisors and the "EOC viewer" role)."""

    route_base = "/fieldservice/eoc"
    default_view = "index"
    base_permissions = ["can_show", "can_api"]
    method_permission_name = {"index": "show", "summary": "api", "hotspots": "api"}

    @expose("/")
    @has_access
    def index(self):
        now = utcnow()
        storm_start = parse_window("storm", db.session, now)
        config = current_app.extensions["civic"].config
        conf = settings()
        return render_template(
            "fieldservice/eoc.html", title=gettext("EOC board"), lang=html_lang(), city=config.city["name"], center=config.city.get("center") or [0, 0],
            refresh_seconds=int(conf.get("refresh_seconds") or 30), tile_url=conf.get("tile_url") or "",
            tile_attribution=conf.get("tile_attribution") or "", storm_fallback=storm_start.storm_fallback,
            leaflet_css=leaflet_url("leaflet.css"), leaflet_js=leaflet_url("leaflet.js"),
            zones_url=zones_layer_url(),
        )

    @expose("/api/summary")
    @has_access_api
    def summary(self):
        now = utcnow()
        try:
            window = parse_window(request.args.get("window"), db.session, now)
        except geo.GeoError as exc:
            return _bad(exc)
        return gzipped(jsonify(summary(db.session, window, now)))

    @expose("/api/hotspots.geojson")
    @has_access_api
    def hotspots(self):
        now = utcnow()
        try:
            window = parse_window(request.args.get("window"), db.session, now)
            bbox = geo.parse_bbox(request.args.get("bbox"))
            if bbox is None:
                raise geo.GeoError("bbox", gettext("is required: min_long,min_lat,max_long,max_lat"))
            zoom = geo.parse_zoom(request.args.get("zoom"), default=13)
        except geo.GeoError as exc:
            return _bad(exc)
        response = jsonify(hotspots(db.session, bbox, zoom, window))
        response.mimetype = "application/geo+json"
        return gzipped(response)


# ---------------------------------------------------------------- the dashboard widget


def dashboard_widgets() -> list[Panel]:
    """"Active sweeps: X% checked" on the staff dashboard; nothing when no sweep is active."""
    sweeps = active_sweeps(db.session)
    if not sweeps:
        return []
    rows = [(sweep, total_progress(zone_progress(db.session, sweep))) for sweep in sweeps]
    may_open = current_app.appbuilder.sm.has_access("can_show", "EocView")
    html = render_template("fieldservice/eoc_widget.html", rows=rows, may_open=may_open, format_number=format_number)
    return [Panel(_l("Active sweeps"), html, order=30)]


# ---------------------------------------------------------------- registration


def view_specs() -> list[ViewSpec]:
    return [ViewSpec("EOC board", EocView, _l("EOC board"), "Field", _l("Field"), "fa-desktop")]


def role_specs() -> list[RoleSpec]:
    board = ((VIEWS, "can_show|can_api|menu_access"),)
    reports = (("ReportView", "can_list|can_show"), ("Reports", "menu_access"))  # the core's Reports, read and run
    return [RoleSpec("Dispatcher", board), RoleSpec("Supervisor", board), RoleSpec("EOC viewer", board + reports)]
