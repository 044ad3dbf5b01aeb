"""Possible duplicates: open cases of the same service reported nearby, shortly before.

A cheap bounding box narrows the search in SQL (same service, open, in the time
window, in a lat/long box) and the exact great-circle distance decides in Python.
The same query runs on SQLite and PostgreSQL; it reads a bounded number of rows.
"""
from __future__ import annotations

import math
from datetime import timedelta

from flask import current_app, has_app_context
from sqlalchemy import select
from sqlalchemy.orm import Session, defaultload, lazyload

from core.models import OPEN_STATUSES, Case, Department, ServiceType

DEFAULT_RADIUS_M = 150.0
DEFAULT_WINDOW_H = 72
EARTH_RADIUS_M = 6_371_000.0
METRES_PER_DEGREE = 111_320.0
SCAN_LIMIT = 200  # rows read from the box at most; the newest ones count


def settings() -> tuple[float, int]:
    """(radius in metres, window in hours) from the city config (``[city] duplicate_radius_m``, ``duplicate_window_hours``)."""
    city = current_app.extensions["civic"].config.city if has_app_context() else {}
    return float(city.get("duplicate_radius_m") or DEFAULT_RADIUS_M), int(city.get("duplicate_window_hours") or DEFAULT_WINDOW_H)


def distance_m(lat1: float, long1: float, lat2: float, long2: float) -> float:
    """Great-circle (haversine) distance in metres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(long2 - long1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


# Cases listed as a reference, a channel, a date and an address: not their tags nor their departments' staff
# (both eager by default).
LISTED = (lazyload(Case.tags), defaultload(Case.department).lazyload(Department.staff),
          defaultload(Case.service_type).defaultload(ServiceType.department).lazyload(Department.staff))


def candidate_search(case: Case, radius_m: float | None = None, window_h: float | None = None, scope=None):
    """The statement behind ``candidates`` and the radius it is checked against, or None when the case has no
    place or service to compare (the case page runs it together with ``duplicates_statement``)."""
    if case.lat is None or case.long is None or case.created_at is None:
        return None
    service_id = case.service_type_id or (case.service_type.id if case.service_type is not None else None)
    if service_id is None:
        return None
    default_radius, default_window = settings()
    radius_m = default_radius if radius_m is None else float(radius_m)
    window_h = default_window if window_h is None else float(window_h)
    dlat = radius_m / METRES_PER_DEGREE
    dlong = radius_m / (METRES_PER_DEGREE * max(math.cos(math.radians(case.lat)), 0.01))
    stmt = (
        select(Case)
        .where(
            Case.service_type_id == service_id,
            Case.status.in_(sorted(OPEN_STATUSES)),
            Case.created_at >= case.created_at - timedelta(hours=window_h),
            Case.created_at <= case.created_at,
            Case.lat.between(case.lat - dlat, case.lat + dlat),
            Case.long.between(case.long - dlong, case.long + dlong),
        )
        .order_by(Case.created_at.desc(), Case.id.desc())
        .limit(SCAN_LIMIT)
        .options(*LISTED)
    )
    if case.id is not None:
        stmt = stmt.where(Case.id != case.id)
    if scope is not None:
        stmt = stmt.where(scope)
    return stmt, radius_m


def nearest(case: Case, rows, radius_m: float, limit: int = 5) -> list[Case]:
    """The rows of ``candidate_search`` truly within ``radius_m`` of the case, newest first."""
    return [c for c in rows if c is not case and distance_m(case.lat, case.long, c.lat, c.long) <= radius_m][:limit]


def candidates(session: Session, case: Case, radius_m: float | None = None, window_h: float | None = None, limit: int = 5,
               scope=None) -> list[Case]:
    """Open cases of the case's service created within ``window_h`` hours before it and ``radius_m`` metres of it,
    newest first; never the case itself.  A case without a location has none.  ``scope``: a WHERE clause on Case
    (the reader's, ``core.security.case_scope``) applied in the same statement."""
    search = candidate_search(case, radius_m, window_h, scope)
    if search is None:
        return []
    stmt, radius_m = search
    with session.no_autoflush:
        rows = session.scalars(stmt).all()
    return nearest(case, rows, radius_m, limit)


def duplicates_statement(case: Case, limit: int = 200):
    """The statement behind ``duplicates_of``."""
    return select(Case).where(Case.duplicate_of_id == case.id).order_by(Case.created_at, Case.id).limit(limit).options(*LISTED)


def duplicates_of(session: Session, case: Case, limit: int = 200) -> list[Case]:
    """The cases merged into ``case`` ("who else reported this?"), oldest first."""
    if case.id is None:
        return []
    return list(session.scalars(duplicates_statement(case, limit)))
