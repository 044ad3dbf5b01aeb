"""Storm sweeps: a campaign over some zones, every street segment in it checked off by crews on phones.

The one path for screens, the crew's phone API and the demo: create / start / close a sweep, add zones,
give a zone to a crew, check off a segment (idempotent on the phone's ``client_id``; a late check-off
never overwrites a newer one), the segments nearest the crew, and a case (or work order) made from a
flagged segment.  Errors are ``CaseError({field: [message]})``, as for cases.  No Flask request here.
"""
from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Iterable

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from core.models import Attachment, Case, CaseEvent, Crew, Department, Task
from core.models.base import utcnow
from core.services.cases import Actor, CaseError, too_long
from plugins.fieldservice.geo import METRES_PER_DEGREE_LAT, haversine_m
from plugins.fieldservice.models import FieldPhoto, StreetSegment, SweepCampaign, SweepCheck, SweepSegment, SweepZone, Zone
from plugins.fieldservice.settings import SweepType, sweep_type, sweep_types

MAX_NAME = 200
MAX_NOTE = 2000
MAX_CLIENT_ID = 64
CLOCK_SLACK = timedelta(days=1)  # a phone's check-off may say it happened up to a day before the sweep started
NEAR_RADII_M = (1_000, 4_000, 16_000, 64_000)  # bounding boxes tried in turn around the crew


# ---------------------------------------------------------------- campaigns


def _zones_by_code(session: Session, codes: Iterable[str]) -> dict[str, Zone]:
    codes = {c for c in codes if c}
    if not codes:
        return {}
    return {z.code: z for z in session.scalars(sa.select(Zone).where(Zone.code.in_(codes)))}


def _crew(session: Session, value: Any) -> Crew | None:
    if value is None or value == "":
        return None
    if isinstance(value, Crew):
        return value
    return session.get(Crew, int(value))


def _insert_segments(session: Session, sweep: SweepCampaign, zone_codes: Iterable[str], status: str) -> int:
    """One INSERT ... SELECT: every street segment of those zones enters the sweep in ``status``."""
    zone_codes = list(zone_codes)
    now = utcnow()
    select = sa.select(
        sa.literal(sweep.id, sa.Integer), StreetSegment.id, StreetSegment.zone_code, sa.literal(status, sa.String),
        sa.literal("", sa.Text), sa.literal(now, sa.DateTime),
    ).where(StreetSegment.zone_code.in_(list(zone_codes)))
    session.execute(
        sa.insert(SweepSegment.__table__).from_select(
            ["sweep_id", "segment_id", "zone_code", "status", "note", "updated_at"], select
        )
    )
    # (rowcount is not reliable for INSERT ... SELECT on every driver: count what is there)
    return session.scalar(sa.select(sa.func.count()).select_from(SweepSegment)
                          .where(SweepSegment.sweep_id == sweep.id, SweepSegment.zone_code.in_(list(zone_codes)))) or 0


def active_event_tag() -> str | None:
    """The tag of the active event (a disaster or an emergency) from whichever plugin knows one, or None."""
    civic = current_app.extensions.get("civic")
    tag = civic.pm.hook.active_event_tag() if civic is not None else None
    return str(tag)[:50] if tag else None


def create_sweep(session: Session, *, name: str, sweep_type: str, zone_codes: Iterable[str], actor: Actor,
                 crews_by_zone: dict[str, Any] | None = None, notes: str = "") -> SweepCampaign:
    """A planned sweep over the zones, every street segment of them "not checked" (the type's first status)."""
    from plugins.fieldservice import settings

    errors: dict[str, list[str]] = {}
    name = (name or "").strip()
    if not name:
        errors["name"] = [gettext("is required")]
    elif len(name) > MAX_NAME:
        errors["name"] = [too_long(name, MAX_NAME)]
    kind = settings.sweep_type(sweep_type or "")
    if kind is None:
        known = ", ".join(t.code for t in settings.sweep_types())
        errors["sweep_type"] = [gettext("unknown sweep type '%(code)s' (known: %(known)s)", code=sweep_type or "", known=known)]
    codes = list(dict.fromkeys(c.strip() for c in (zone_codes or []) if c and c.strip()))
    zones = _zones_by_code(session, codes)
    if not codes:
        errors["zones"] = [gettext("choose at least one zone")]
    elif len(zones) != len(codes):
        unknown = ", ".join(c for c in codes if c not in zones)
        errors["zones"] = [gettext("unknown zone: %(codes)s", codes=unknown)]
    notes = (notes or "").strip()
    if len(notes) > MAX_NOTE:
        errors["notes"] = [too_long(notes, MAX_NOTE)]
    crews = {}
    for code, value in (crews_by_zone or {}).items():
        try:
            crew = _crew(session, value)
        except (TypeError, ValueError):
            crew = None
            value = value or "?"
        if value not in (None, "") and crew is None:
            errors.setdefault("crew", []).append(gettext("unknown crew for zone %(zone)s", zone=code))
        crews[code] = crew
    if errors:
        raise CaseError(errors)

    sweep = SweepCampaign(name=name, sweep_type=kind.code, state="planned", notes=notes, created_by_id=actor.user_id,
                          created_at=utcnow(), event_tag=active_event_tag())
    sweep.zones = [SweepZone(zone=zones[c], crew=crews.get(c)) for c in codes]
    session.add(sweep)
    session.flush()
    _insert_segments(session, sweep, codes, kind.initial.code)
    session.commit()
    return sweep


def add_zones(session: Session, sweep: SweepCampaign, zone_codes: Iterable[str], actor: Actor) -> int:
    """Add zones to a sweep that is not closed; their segments enter in the initial status.  Returns how many."""
    if sweep.state == "closed":
        raise CaseError({"state": [gettext("the sweep is closed: no zone can be added")]})
    kind = _kind(sweep)
    have = {sz.zone.code for sz in sweep.zones}
    codes = [c for c in dict.fromkeys(zone_codes or []) if c and c not in have]
    zones = _zones_by_code(session, codes)
    unknown = [c for c in codes if c not in zones]
    if unknown:
        raise CaseError({"zones": [gettext("unknown zone: %(codes)s", codes=", ".join(unknown))]})
    for code in codes:
        sweep.zones.append(SweepZone(zone=zones[code]))
    session.flush()
    added = _insert_segments(session, sweep, codes, kind.initial.code) if codes else 0
    session.commit()
    return added


def assign_crew(session: Session, sweep: SweepCampaign, zone_code: str, crew: Any) -> SweepZone:
    """Give one zone of the sweep to a crew (None: any crew of the sweep drives it)."""
    entry = next((sz for sz in sweep.zones if sz.zone.code == zone_code), None)
    if entry is None:
        raise CaseError({"zone": [gettext("'%(code)s' is not a zone of this sweep", code=zone_code)]})
    try:
        found = _crew(session, crew)
    except (TypeError, ValueError):
        found = None
    if crew not in (None, "") and found is None:
        raise CaseError({"crew": [gettext("unknown crew")]})
    entry.crew = found
    session.commit()
    return entry


def _kind(sweep: SweepCampaign) -> SweepType:
    kind = sweep_type(sweep.sweep_type)
    if kind is None:
        raise CaseError({"sweep_type": [gettext("the sweep type '%(code)s' is no longer in the configuration", code=sweep.sweep_type)]})
    return kind


def _check_version(sweep: SweepCampaign, expected: Any) -> None:
    if expected is None or expected == "":
        return
    try:
        value = int(expected)
    except (TypeError, ValueError):
        raise CaseError({"version": [gettext("must be the version number of the sweep you saw")]}) from None
    if value != sweep.version:
        raise CaseError({"version": [gettext("the sweep was changed by someone else meanwhile: reload the page and try again")]})


def _move(session: Session, sweep: SweepCampaign, wanted: str, expected_version: Any) -> SweepCampaign:
    allowed = {"active": "planned", "closed": "active"}
    _check_version(sweep, expected_version)
    if sweep.state != allowed[wanted]:
        message = (gettext("only a planned sweep can be started (this one is %(state)s)", state=sweep.state_label) if wanted == "active"
                   else gettext("only an active sweep can be closed (this one is %(state)s)", state=sweep.state_label))
        raise CaseError({"state": [message]})
    sweep.state = wanted
    if wanted == "active":
        sweep.started_at = utcnow()
    else:
        sweep.closed_at = utcnow()
    try:
        session.commit()
    except StaleDataError:
        session.rollback()
        raise CaseError({"version": [gettext("the sweep was changed by someone else meanwhile: reload the page and try again")]}) from None
    return sweep


def start_sweep(session: Session, sweep: SweepCampaign, actor: Actor, expected_version: Any = None) -> SweepCampaign:
    """planned -> active: crews see it on their phones."""
    return _move(session, sweep, "active", expected_version)


def close_sweep(session: Session, sweep: SweepCampaign, actor: Actor, expected_version: Any = None) -> SweepCampaign:
    """active -> closed: no more check-offs."""
    return _move(session, sweep, "closed", expected_version)


# ---------------------------------------------------------------- check-offs


def _as_utc(value: Any, field: str) -> datetime | None:
    """A datetime or ISO 8601 text -> naive UTC (how the database stores times)."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise CaseError({field: [gettext("must be a date and time like 2026-09-29T14:05:00Z")]}) from None
    if not isinstance(value, datetime):
        raise CaseError({field: [gettext("must be a date and time like 2026-09-29T14:05:00Z")]})
    if value.tzinfo is not None:
        value = value.astimezone(timezone.utc).replace(tzinfo=None)
    return value


def _coordinate(value: Any, field: str, limit: float, errors: dict[str, list[str]]) -> float | None:
    if value is None or value == "":
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    if not math.isfinite(number) or not -limit <= number <= limit:
        errors[field] = [gettext("must be a number from %(low)s to %(high)s", low=-limit, high=limit)]
        return None
    return number


def _sweep_segment(session: Session, value: Any) -> SweepSegment:
    if isinstance(value, SweepSegment):
        return value
    try:
        found = session.get(SweepSegment, int(value))
    except (TypeError, ValueError):
        found = None
    if found is None:
        raise CaseError({"sweep_segment_id": [gettext("no such street segment in a sweep")]})
    return found


def check_off(session: Session, sweep_segment_or_ids: Any, *, status: str, actor: Actor, crew: Crew | None = None,
              note: str = "", photo: FieldPhoto | None = None, client_id: str | None = None, checked_at: Any = None,
              lat: Any = None, long: Any = None) -> tuple[SweepCheck, bool]:
    """Record one check-off; returns (the check, created).

    A ``client_id`` already received returns the first check (created=False), also when two copies race.
    The check is always recorded; the segment's status changes only when the check is not older than the
    segment's current one.  The phone's time is kept within [sweep start - 1 day, now].
    """
    client_id = (client_id or "").strip() or None
    if client_id is not None:
        if len(client_id) > MAX_CLIENT_ID:
            raise CaseError({"client_id": [too_long(client_id, MAX_CLIENT_ID)]})
        first = session.scalar(sa.select(SweepCheck).where(SweepCheck.client_id == client_id))
        if first is not None:
            return first, False
    segment = _sweep_segment(session, sweep_segment_or_ids)
    sweep = segment.sweep
    if sweep.state != "active":
        raise CaseError({"sweep": [gettext("the sweep is %(state)s: only an active sweep takes check-offs", state=sweep.state_label)]})
    kind = _kind(sweep)
    errors: dict[str, list[str]] = {}
    if kind.status(status or "") is None:
        errors["status"] = [gettext("unknown status '%(code)s' (known: %(known)s)", code=status or "",
                                    known=", ".join(s.code for s in kind.statuses))]
    note = (note or "").strip()
    if len(note) > MAX_NOTE:
        errors["note"] = [too_long(note, MAX_NOTE)]
    lat = _coordinate(lat, "lat", 90, errors)
    long = _coordinate(long, "long", 180, errors)
    try:
        when = _as_utc(checked_at, "checked_at")
    except CaseError as exc:
        errors.update(exc.errors)
        when = None
    if errors:
        raise CaseError(errors)
    now = utcnow()
    earliest = (sweep.started_at or sweep.created_at or now) - CLOCK_SLACK
    when = min(max(when or now, earliest), now)

    check = SweepCheck(sweep_segment_id=segment.id, client_id=client_id, status=status, note=note,
                       photo_id=photo.id if photo is not None else None, actor_id=actor.user_id, actor_label=actor.label,
                       crew_id=crew.id if crew is not None else None, lat=lat, long=long, checked_at=when, received_at=now,
                       event_tag=active_event_tag())
    try:
        with session.begin_nested():
            session.add(check)
    except IntegrityError:  # the same check-off, sent twice at once: the other copy won
        first = session.scalar(sa.select(SweepCheck).where(SweepCheck.client_id == client_id)) if client_id else None
        if first is None:
            raise
        session.commit()
        return first, False
    # The latest check-off by its time wins, atomically (two crews on one street, a queue sent late).
    values = {"status": status, "checked_at": when, "checked_by_id": actor.user_id, "crew_id": check.crew_id, "note": note,
              "photo_id": check.photo_id, "updated_at": now}
    session.execute(
        sa.update(SweepSegment)
        .where(SweepSegment.id == segment.id, sa.or_(SweepSegment.checked_at.is_(None), SweepSegment.checked_at <= when))
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    session.commit()
    session.expire(segment)
    return check, True


# ---------------------------------------------------------------- the crew's list


@dataclass
class NearSegment:
    """A segment of the sweep as the crew's list shows it (no personal data)."""

    id: int
    segment_id: int
    segment_key: str
    street_name: str
    zone_code: str | None
    status: str
    checked_at: datetime | None
    note: str
    photo_id: int | None
    case_id: int | None
    mid_lat: float
    mid_long: float
    geometry: dict
    distance_m: float | None = None

    def as_json(self, kind: SweepType | None = None) -> dict:
        info = kind.status(self.status) if kind else None
        return {"id": self.id, "segment_key": self.segment_key, "street": self.street_name, "zone": self.zone_code,
                "status": self.status, "status_label": info.label if info else self.status,
                "color": info.color if info else "#9e9e9e",
                "checked_at": self.checked_at.isoformat() + "Z" if self.checked_at else None, "note": self.note,
                "has_photo": self.photo_id is not None, "has_case": self.case_id is not None,
                "lat": self.mid_lat, "long": self.mid_long, "geometry": self.geometry,
                "distance_m": round(self.distance_m) if self.distance_m is not None else None}


_NEAR_COLUMNS = (SweepSegment.id, SweepSegment.segment_id, StreetSegment.segment_key, StreetSegment.street_name,
                 SweepSegment.zone_code, SweepSegment.status, SweepSegment.checked_at, SweepSegment.note, SweepSegment.photo_id,
                 SweepSegment.case_id, StreetSegment.mid_lat, StreetSegment.mid_long, StreetSegment.geometry)


def segments_near(session: Session, sweep: SweepCampaign, zone_codes: Iterable[str] | None, lat: float | None,
                  long: float | None, limit: int = 200) -> list[NearSegment]:
    """The sweep's segments in those zones (None: every zone), nearest first; by street name without a position.

    With a position, growing bounding boxes around it (indexed SQL) ordered by a flat-earth distance in SQL
    bound the rows; the exact distance (haversine) orders the few kept."""
    limit = max(1, min(int(limit), 1000))
    base = (sa.select(*_NEAR_COLUMNS).join(StreetSegment, StreetSegment.id == SweepSegment.segment_id)
            .where(SweepSegment.sweep_id == sweep.id))
    if zone_codes is not None:
        base = base.where(SweepSegment.zone_code.in_(list(zone_codes)))
    if lat is None or long is None:
        rows = session.execute(base.order_by(StreetSegment.street_name, SweepSegment.id).limit(limit)).all()
        return [NearSegment(*row) for row in rows]
    scale = math.cos(math.radians(lat)) or 1e-6
    flat = ((StreetSegment.mid_lat - lat) * (StreetSegment.mid_lat - lat)
            + (StreetSegment.mid_long - long) * scale * (StreetSegment.mid_long - long) * scale)
    rows: list = []
    for radius in NEAR_RADII_M:
        dlat = radius / METRES_PER_DEGREE_LAT
        dlong = dlat / scale
        boxed = base.where(StreetSegment.mid_lat.between(lat - dlat, lat + dlat),
                           StreetSegment.mid_long.between(long - dlong, long + dlong))
        rows = session.execute(boxed.order_by(flat, SweepSegment.id).limit(limit)).all()
        if len(rows) >= limit:
            break
    else:
        rows = session.execute(base.order_by(flat, SweepSegment.id).limit(limit)).all()
    found = [NearSegment(*row) for row in rows]
    for item in found:
        item.distance_m = haversine_m(lat, long, item.mid_lat, item.mid_long)
    found.sort(key=lambda s: (s.distance_m, s.id))
    return found


# ---------------------------------------------------------------- a case (or work order) from a flagged segment


def _copy_photo(session: Session, case: Case, photo: FieldPhoto, actor: Actor, at: datetime) -> Attachment | None:
    """The check-off's photo on the case: the stored file is reused (copied in the store under a new name -- a hard
    link on a local disk -- so either can be removed alone), never decoded again.  None when the file is gone."""
    from core.services.attachments import thumbnail_name
    from core.storage import file_store

    store = file_store()
    if not store.exists(photo.stored_name):
        return None
    extension = photo.stored_name.rsplit(".", 1)[-1]
    new_name = f"{uuid.uuid4().hex}.{extension}"
    pairs = [(photo.stored_name, new_name)]
    if photo.has_thumbnail:
        pairs.append((thumbnail_name(photo.stored_name), thumbnail_name(new_name)))
    for source, target in pairs:
        try:
            store.copy(source, target)
        except FileNotFoundError:
            continue
    name = f"sweep-photo-{photo.id}.{extension}"
    attachment = Attachment(case=case, original_name=name, stored_name=new_name, content_type=photo.content_type, size=photo.size,
                            sha256=photo.sha256, width=photo.width, height=photo.height, has_thumbnail=photo.has_thumbnail,
                            public=False, uploaded_by_id=photo.uploaded_by_id or actor.user_id, created_at=at)
    session.add(attachment)
    session.flush()
    session.add(CaseEvent(case=case, kind="attachment_added", actor_id=actor.user_id, actor_label=actor.label, body=name, public=False,
                          created_at=at, data={"attachment_id": attachment.id, "name": name, "content_type": attachment.content_type,
                                               "size": attachment.size}))
    return attachment


def case_from_segment(session: Session, sweep_segment: SweepSegment, actor: Actor, *, work_order: bool = False,
                      crew: Crew | None = None) -> tuple[Case, Task | None]:
    """The case of the status's ``service`` for a flagged segment (and a work order with ``work_order``).

    A segment gets one case: asked again, it returns the one it has (and adds the work order if asked and missing).
    """
    from core.services.cases import create_case
    from core.services.tasks import announce_new_tasks

    # Lock the row (PostgreSQL; SQLite writes one at a time anyway): two clicks make one case.
    segment = session.scalar(sa.select(SweepSegment).where(SweepSegment.id == sweep_segment.id)
                             .with_for_update(of=SweepSegment).execution_options(populate_existing=True))
    case = session.get(Case, segment.case_id) if segment.case_id else None
    if case is None:
        kind = _kind(segment.sweep)
        status = kind.status(segment.status)
        if status is None or not status.service:
            session.rollback()
            label = status.label if status else segment.status
            raise CaseError({"status": [gettext("'%(status)s' makes no case: the sweep type gives it no service", status=label)]})
        street = segment.segment.street_name
        description = segment.note or gettext("%(status)s on %(street)s (sweep \"%(sweep)s\")", status=status.label, street=street,
                                              sweep=segment.sweep.name)
        try:
            case = create_case(session, service_code=status.service, description=description, channel="field",
                               lat=segment.segment.mid_lat, long=segment.segment.mid_long, zone=segment.zone_code, address=street,
                               attributes=dict(status.attributes), tags=["sweep"], actor=actor, commit=False)
        except CaseError:
            session.rollback()
            raise
        at = case.created_at
        if segment.photo_id:
            photo = session.get(FieldPhoto, segment.photo_id)
            if photo is not None:
                _copy_photo(session, case, photo, actor, at)
        session.flush()
        segment.case_id = case.id
        segment.updated_at = utcnow()
        session.commit()
        current_app.extensions["civic"].pm.hook.case_created(case=case)
        announce_new_tasks(list(case.tasks))
    task = session.get(Task, segment.task_id) if segment.task_id else None
    if work_order and task is None:
        from plugins.fieldservice.models import WorkOrder
        from plugins.fieldservice.workorders import create_work_order

        # Lock again and look for a work order made meanwhile (it names the sweep segment too).
        session.scalar(sa.select(SweepSegment.id).where(SweepSegment.id == segment.id).with_for_update())
        task = session.scalar(sa.select(Task).join(WorkOrder, WorkOrder.task_id == Task.id)
                              .where(WorkOrder.sweep_segment_id == segment.id).order_by(Task.id).limit(1))
        if task is None:
            kind = sweep_type(segment.sweep.sweep_type)
            status = kind.status(segment.status) if kind else None
            department = None
            if status is not None and status.department:
                department = session.scalar(sa.select(Department).where(Department.code == status.department))
            task = create_work_order(session, case, actor=actor, crew=crew, department=department, segment=segment.segment,
                                     sweep_segment=segment)
        session.execute(sa.update(SweepSegment).where(SweepSegment.id == segment.id).values(task_id=task.id))
        session.commit()
        session.expire(segment)
    return case, task


# ---------------------------------------------------------------- the demo


DEMO_NAME = "Post-storm debris pass 1"
DEMO_STATUSES = ("clear", "clear", "clear", "debris", "clear", "blocked", "clear", "power_line_down", "clear", "debris",
                 "clear", "flooded", "clear", "damaged")


def load_demo_sweep(session: Session, crews: list[Crew]) -> SweepCampaign | None:
    """The demo's active sweep over two sample zones, about 40% checked by the demo crews; idempotent."""
    from core.models import User

    existing = session.scalar(sa.select(SweepCampaign).where(SweepCampaign.name == DEMO_NAME))
    if existing is not None:
        return existing
    codes = list(session.scalars(sa.select(Zone.code).where(Zone.sample.is_(True)).order_by(Zone.code).limit(2)))
    if not codes:
        codes = list(session.scalars(sa.select(Zone.code).order_by(Zone.code).limit(2)))
    if not codes:
        return None
    kind = sweep_type("debris") or sweep_types()[0]
    demo_users = ("pw_crew", "pw_crew2")
    crews = [c for c in crews if c is not None]
    crews = [c for c in crews if any(m.username in demo_users for m in c.members)] or crews  # the Public Works crews
    crews_by_zone = {code: crews[i % len(crews)] for i, code in enumerate(codes)} if crews else None
    sweep = create_sweep(session, name=DEMO_NAME, sweep_type=kind.code, zone_codes=codes, actor=Actor(None, "demo"),
                         crews_by_zone=crews_by_zone, notes="Sample data generated for the demo.")
    sweep.started_at = utcnow() - timedelta(hours=6)
    sweep.state = "active"
    session.commit()
    users = {u.username: u for u in session.scalars(sa.select(User).where(User.username.in_(demo_users)))}
    statuses = [s for s in DEMO_STATUSES if kind.status(s)] or [kind.statuses[1].code]
    rows = session.execute(sa.select(SweepSegment.id, SweepSegment.zone_code).where(SweepSegment.sweep_id == sweep.id)
                           .order_by(SweepSegment.id)).all()
    checked = [row for i, row in enumerate(rows) if i % 5 in (0, 2)]  # 40 %, spread over both zones
    start = sweep.started_at
    zone_crew = {sz.zone.code: sz.crew for sz in sweep.zones}
    for i, (sid, zone_code) in enumerate(checked):
        crew = zone_crew.get(zone_code)
        members = [m for m in (crew.members if crew else []) if m.username in users]
        user = members[0] if members else users.get(demo_users[i % 2])
        actor = Actor(user.id, user.username) if user else Actor(None, "demo")
        check_off(session, sid, status=statuses[i % len(statuses)], actor=actor, crew=crew,
                  client_id=f"demo-{sweep.id}-{sid}", checked_at=start + timedelta(seconds=30 * (i + 1)))
    return sweep
