"""``GET requests.{fmt}``: the search, every filter in SQL, always bounded.

Standard parameters: ``service_request_id`` (comma list; overrides every other filter, paging
included), ``service_code`` (comma list), ``status`` (open, closed), ``start_date``/``end_date`` on
requested_datetime.  Without dates: the last 90 days, at most 1,000 requests.

Extensions (see docs/open311.md):

- Paging, only when ``page`` or ``page_size`` is given: ``page`` from 1, ``page_size`` 1 to 500
  (default 50).  It replaces the 1,000 cap, not the date window.  A full page answers a
  ``Link: <...>; rel="next"`` header.
- ``updated_after``/``updated_before`` on updated_datetime.  When one is given and neither
  start_date nor end_date is, the 90-day default window moves from requested_datetime to
  updated_datetime, so an old request updated yesterday is found.
- ``lat`` + ``long`` (+ ``radius`` in metres, default 1,000, at most 50,000): a lat/long box
  narrows the search, then the great-circle distance decides, in SQL (the haversine of
  ``core.duplicates.distance_m``), so pages stay exact.  ``bbox=min_long,min_lat,max_long,max_lat``
  (the FixMyStreet, OpenLayers and GeoJSON order).  Both may be given: a request must match both.

Order: requested_datetime newest first, then id (stable across pages).
"""
from __future__ import annotations

import math
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask_babel import gettext
from sqlalchemy import func, select
from sqlalchemy.orm import defaultload, lazyload

from core.duplicates import EARTH_RADIUS_M
from core.extensions import db
from core.models import CLOSED_STATUSES, OPEN_STATUSES, Case, Department, ServiceType
from core.models.base import utcnow
from plugins.intake.open311.params import Open311Error, _list_param, _number_param, _param, _parse_date, _whole_param

MAX_REQUESTS = 1000
DEFAULT_DAYS = 90
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 500
MAX_PAGE = 100_000
DEFAULT_RADIUS_M = 1000.0
MAX_RADIUS_M = 50_000.0
METRES_PER_DEGREE = EARTH_RADIUS_M * math.pi / 180  # along a meridian, on the haversine's sphere


@dataclass(frozen=True)
class Search:
    """What ``search()`` found in the query string: the statement (unordered), the window, paging."""

    statement: object
    limit: int
    offset: int = 0
    page: int | None = None
    page_size: int | None = None


def public_cases():
    """Cases of public services; the tags and the departments' staff (never shown; both eager by default) are
    not loaded."""
    return (
        select(Case)
        .join(ServiceType, Case.service_type_id == ServiceType.id)
        .where(ServiceType.public.is_(True))
        .options(lazyload(Case.tags), defaultload(Case.department).lazyload(Department.staff),
                 defaultload(Case.service_type).defaultload(ServiceType.department).lazyload(Department.staff))
    )


def ordered(statement):
    return statement.order_by(Case.created_at.desc(), Case.id.desc())


def search() -> Search:
    """Read the search parameters; raise one Open311Error (400) listing every bad one."""
    stmt = public_cases()
    ids = _list_param("service_request_id")
    if ids:  # overrides every other filter
        return Search(stmt.where(Case.reference.in_([i[:32] for i in ids[:MAX_REQUESTS]])), MAX_REQUESTS)
    problems: list[str] = []
    for step in (_by_service, _by_status, _by_dates, _by_radius, _by_bbox):
        try:
            stmt = step(stmt)
        except Open311Error as exc:
            problems.extend(exc.descriptions)
    try:
        page, page_size = _paging()
    except Open311Error as exc:
        problems.extend(exc.descriptions)
        page = page_size = None
    if problems:
        raise Open311Error(400, *problems)
    if page is None:
        return Search(stmt, MAX_REQUESTS)
    return Search(stmt, page_size, (page - 1) * page_size, page, page_size)


def _by_service(stmt):
    codes = _list_param("service_code")
    if codes:
        stmt = stmt.where(ServiceType.code.in_([c[:64] for c in codes[:MAX_REQUESTS]]))
    return stmt


def _by_status(stmt):
    statuses = [s.lower() for s in _list_param("status")]
    bad = [s for s in statuses if s not in ("open", "closed")]
    if bad:
        raise Open311Error(400, gettext("status: must be open or closed (comma list), not '%(value)s'", value=bad[0][:40]))
    if statuses and set(statuses) != {"open", "closed"}:
        stmt = stmt.where(Case.status.in_(sorted(OPEN_STATUSES if statuses[0] == "open" else CLOSED_STATUSES)))
    return stmt


def _dates(first: str, last: str):
    """Two datetime parameters, checked alone and together."""
    problems, values = [], []
    for name in (first, last):
        try:
            values.append(_parse_date(name))
        except Open311Error as exc:
            problems.extend(exc.descriptions)
            values.append(None)
    start, end = values
    if start and end and start > end:
        problems.append(gettext("%(first)s: must not be after %(last)s", first=first, last=last))
    if problems:
        raise Open311Error(400, *problems)
    return start, end


def _by_dates(stmt):
    problems = []
    try:
        start, end = _dates("start_date", "end_date")
    except Open311Error as exc:
        problems.extend(exc.descriptions)
        start = end = None
    try:
        after, before = _dates("updated_after", "updated_before")
    except Open311Error as exc:
        problems.extend(exc.descriptions)
        after = before = None
    if problems:
        raise Open311Error(400, *problems)
    requested_given = start is not None or end is not None
    updated_given = after is not None or before is not None
    if requested_given:
        stmt = stmt.where(Case.created_at >= (start or _window_before(end)))
        if end is not None:
            stmt = stmt.where(Case.created_at <= end)
    elif not updated_given:
        stmt = stmt.where(Case.created_at >= _window_before(utcnow()))
    if updated_given:
        if after is None and not requested_given:
            after = _window_before(before)
        if after is not None:
            stmt = stmt.where(Case.updated_at >= after)
        if before is not None:
            stmt = stmt.where(Case.updated_at <= before)
    return stmt


def _window_before(moment: datetime) -> datetime:
    """The start of the default window that ends at ``moment``."""
    try:
        return moment - timedelta(days=DEFAULT_DAYS)
    except OverflowError:  # a moment in the first 90 days of year 1
        return datetime.min


def _by_radius(stmt):
    """``lat``/``long``/``radius``: a box any index can use, then the exact distance."""
    problems, values = [], {}
    for name, low, high in (("lat", -90, 90), ("long", -180, 180), ("radius", 1, MAX_RADIUS_M)):
        try:
            values[name] = _number_param(name, low, high)
        except Open311Error as exc:
            problems.extend(exc.descriptions)
            values[name] = math.nan
    lat, long, radius = values["lat"], values["long"], values["radius"]
    if lat is None and long is None and radius is None:
        return stmt
    if not problems and lat is None and long is None:
        problems.append(gettext("radius: needs lat and long"))
    elif not problems and (lat is None or long is None):
        missing, given = ("long", "lat") if long is None else ("lat", "long")
        problems.append(gettext("%(field)s: is required with %(other)s", field=missing, other=given))
    if problems:
        raise Open311Error(400, *problems)
    return within(stmt, lat, long, DEFAULT_RADIUS_M if radius is None else radius)


def within(stmt, lat: float, long: float, radius_m: float):
    """Cases at most ``radius_m`` metres (great circle) from lat/long."""
    dlat = radius_m / METRES_PER_DEGREE
    stmt = stmt.where(Case.lat.between(lat - dlat, lat + dlat))
    poleward = min(abs(lat) + dlat, 90.0)
    if poleward < 89.0:
        dlong = radius_m / (METRES_PER_DEGREE * math.cos(math.radians(poleward)))
        if -180.0 <= long - dlong and long + dlong <= 180.0:  # a box across the antimeridian is skipped
            stmt = stmt.where(Case.long.between(long - dlong, long + dlong))
    sin, cos = _math_functions()
    to_rad = math.pi / 180
    phi0, lambda0 = lat * to_rad, long * to_rad
    half_dphi = sin((Case.lat * to_rad - phi0) / 2)
    half_dlambda = sin((Case.long * to_rad - lambda0) / 2)
    haversine = half_dphi * half_dphi + math.cos(phi0) * cos(Case.lat * to_rad) * half_dlambda * half_dlambda
    limit = math.sin(radius_m / (2 * EARTH_RADIUS_M)) ** 2  # distance <= r  <=>  haversine <= sin²(r / 2R)
    return stmt.where(haversine <= limit)


def _by_bbox(stmt):
    raw = _param("bbox")
    if not raw:
        return stmt
    parts = [p.strip() for p in raw.split(",")]
    try:
        min_long, min_lat, max_long, max_lat = (float(p) for p in parts)
    except ValueError:
        min_long = math.nan
    if (
        math.isnan(min_long)
        or not all(-180 <= v <= 180 for v in (min_long, max_long))
        or not all(-90 <= v <= 90 for v in (min_lat, max_lat))
        or min_long > max_long
        or min_lat > max_lat
    ):
        raise Open311Error(400, gettext("bbox: must be min_long,min_lat,max_long,max_lat in degrees, each minimum not above its maximum"))
    return stmt.where(Case.lat.between(min_lat, max_lat), Case.long.between(min_long, max_long))


def _paging() -> tuple[int | None, int | None]:
    page = _whole_param("page", 1, MAX_PAGE)
    page_size = _whole_param("page_size", 1, MAX_PAGE_SIZE)
    if page is None and page_size is None:
        return None, None
    return page or 1, page_size or DEFAULT_PAGE_SIZE


def _sqlite_has_math() -> bool:
    try:
        sqlite3.connect(":memory:").execute("select sin(0), cos(0)").close()
    except sqlite3.OperationalError:
        return False
    return True


SQLITE_HAS_MATH = _sqlite_has_math()


def _math_functions():
    """SQL ``sin`` and ``cos``: built in on PostgreSQL and on most SQLite builds; added to an
    SQLite connection built without its math functions."""
    if db.session.get_bind().dialect.name == "sqlite" and not SQLITE_HAS_MATH:
        raw = db.session.connection().connection.driver_connection
        raw.create_function("civic_sin", 1, math.sin, deterministic=True)
        raw.create_function("civic_cos", 1, math.cos, deterministic=True)
        return func.civic_sin, func.civic_cos
    return func.sin, func.cos
