"""Creating and changing cases: the single path every channel and screen goes through.

Validation, numbering, routing, SLA, tags and the timeline are the same for
the portal, Open311, e-mail, the phone desk and the field.  Hooks fire after
the commit, so a plugin never sees a case that was rolled back.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from flask_babel import gettext
from marshmallow import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session, defaultload, lazyload

from core.models import (
    CHANNELS,
    CLOSED_STATUSES,
    OPEN_STATUSES,
    PRIORITIES,
    STATUSES,
    TRANSITIONS,
    Account,
    Case,
    CaseEvent,
    Department,
    ServiceType,
    Tag,
    normalise_tag,
)
from core.models.base import utcnow
from core.services import handoffs
from core.services.attributes import validate_attributes
from core.validation import translate_errors

MAX_DESCRIPTION = 4000
# Column sizes of the Case table: every channel gets a field error, never a database error.
TEXT_LIMITS = {"address": 300, "address_id": 64, "zipcode": 10, "zone": 50,
               "contact_name": 200, "contact_email": 254, "contact_phone": 40}


class CaseError(Exception):
    """Input that cannot become a case: ``errors`` maps each field to its messages."""

    def __init__(self, errors: dict[str, list[str]]):
        super().__init__("; ".join(f"{k}: {' '.join(map(str, v))}" for k, v in errors.items()))
        self.errors = errors


class ConflictError(Exception):
    """The case changed since the editor loaded it; nothing was written."""

    def __init__(self, case: Case, expected: int):
        super().__init__(
            gettext(
                "case %(reference)s was changed by someone else (you edited version %(expected)s, "
                "it is now version %(current)s); reload it and apply your change again",
                reference=case.reference, expected=expected, current=case.version,
            )
        )
        self.case, self.expected = case, expected


@dataclass(frozen=True)
class Actor:
    """Who did something: a staff user, or a channel label such as ``open311:FixMyStreet``."""

    user_id: int | None = None
    label: str = "system"

    @classmethod
    def of(cls, user) -> Actor:
        if user is None or not getattr(user, "is_authenticated", False):
            return cls()
        return cls(user.id, user.username)


SYSTEM = Actor()
# Reading a service (its department joined) need not read the department's staff: nothing in intake uses them.
WITHOUT_STAFF = (defaultload(ServiceType.department).lazyload(Department.staff),)


def too_long(text: str, limit: int) -> str:
    return gettext("is %(length)d characters long; the limit is %(limit)d", length=len(text), limit=limit)


def _pm():
    return current_app.extensions["civic"].pm


def _event(case: Case, kind: str, actor: Actor, body: str = "", public: bool = False, **data) -> CaseEvent:
    ev = CaseEvent(case=case, kind=kind, actor_id=actor.user_id, actor_label=actor.label, body=body, public=public, data=data)
    return ev


def tags_by_name(session: Session, names: list[str]) -> list[Tag]:
    """Tags for the names given, creating the missing ones."""
    wanted = sorted({normalise_tag(n) for n in names if normalise_tag(n)})
    if not wanted:
        return []
    found = {t.name: t for t in session.scalars(select(Tag).where(Tag.name.in_(wanted)))}
    for name in wanted:
        if name not in found:
            found[name] = Tag(name=name)
            session.add(found[name])
    return [found[n] for n in wanted]


def expected_at(service: ServiceType, start: datetime) -> datetime | None:
    """When the case should be done according to the service's SLA: business hours when the city
    config declares them (``[sla]``, see core.sla), else calendar hours."""
    from core.sla import current_calendar, due_at

    return due_at(start, service.sla_hours, current_calendar()) if service.sla_hours else None


def _check_location(lat: Any, long: Any, errors: dict[str, list[str]]) -> tuple[float | None, float | None]:
    if lat in (None, "") and long in (None, ""):
        return None, None
    out = []
    for name, value, limit in (("lat", lat, 90), ("long", long, 180)):
        try:
            f = float(value)
            if not -limit <= f <= limit:
                raise ValueError
            out.append(f)
        except (TypeError, ValueError):
            errors.setdefault(name, []).append(gettext("must be a number between -%(limit)d and %(limit)d", limit=limit))
            out.append(None)
    if (lat in (None, "")) != (long in (None, "")):
        errors.setdefault("lat" if lat in (None, "") else "long", []).append(gettext("lat and long go together"))
    return out[0], out[1]


@dataclass(frozen=True)
class CheckedCase:
    """What ``check_new_case`` made of the input: the values a new case is written with."""

    description: str
    lat: float | None
    long: float | None
    attributes: dict[str, Any]


def check_new_case(service: ServiceType | None, *, service_code: str, description: str = "", channel: str = "web",
                   priority: str = "normal", lat: Any = None, long: Any = None, attributes: dict[str, Any] | None = None,
                   **texts: str | None) -> CheckedCase:
    """Every check of a new case that needs no database (the service already read): CaseError naming each bad
    field, else the cleaned values.  ``create_case`` runs it; a channel that queues a request (Open311 under a
    surge) runs it before accepting, so what it accepts will become a case.  ``texts``: address, address_id,
    zipcode, zone and the contact fields, checked against their column sizes."""
    errors: dict[str, list[str]] = {}
    if not service_code:
        errors["service_code"] = [gettext("is required")]
    elif service is None or not service.active:
        errors["service_code"] = [gettext("unknown service '%(code)s'", code=service_code)]
    description = (description or "").strip()
    if len(description) > MAX_DESCRIPTION:
        errors["description"] = [too_long(description, MAX_DESCRIPTION)]
    if channel not in CHANNELS:
        errors["channel"] = [gettext("must be one of: %(choices)s", choices=", ".join(CHANNELS))]
    if priority not in PRIORITIES:
        errors["priority"] = [gettext("must be one of: %(choices)s", choices=", ".join(PRIORITIES))]
    lat, long = _check_location(lat, long, errors)
    for name, value in texts.items():
        limit = TEXT_LIMITS[name]
        if value is not None and len(str(value)) > limit:
            errors[name] = [too_long(str(value), limit)]
    clean_attrs: dict[str, Any] = {}
    if service is not None:
        try:
            clean_attrs = validate_attributes(service.attributes or [], attributes)
        except ValidationError as exc:
            for code, msgs in exc.messages.items():
                errors[f"attribute[{code}]" if code != "_schema" else "attributes"] = translate_errors(list(msgs))
    if errors:
        raise CaseError(errors)
    return CheckedCase(description, lat, long, clean_attrs)


def create_case(
    session: Session,
    *,
    service_code: str,
    description: str = "",
    channel: str = "web",
    priority: str = "normal",
    address: str | None = None,
    address_id: str | None = None,
    zipcode: str | None = None,
    lat: Any = None,
    long: Any = None,
    zone: str | None = None,
    attributes: dict[str, Any] | None = None,
    account: Account | None = None,
    contact_name: str | None = None,
    contact_email: str | None = None,
    contact_phone: str | None = None,
    tags: list[str] | None = None,
    actor: Actor = SYSTEM,
    created_at: datetime | None = None,
    commit: bool = True,
    service_type: ServiceType | None = None,
) -> Case:
    """Validate, number, route and record a new case; raise CaseError naming each bad field.

    ``service_type``: the service of ``service_code`` when the caller has just read it (Open311 checks it is
    public first), so that it is not read twice."""
    if service_type is not None and service_type.code == service_code:
        service = service_type
    else:
        service = session.scalar(select(ServiceType).where(ServiceType.code == (service_code or "")).options(*WITHOUT_STAFF))
    checked = check_new_case(service, service_code=service_code, description=description, channel=channel, priority=priority,
                             lat=lat, long=long, attributes=attributes, address=address, address_id=address_id, zipcode=zipcode,
                             zone=zone, contact_name=contact_name, contact_email=contact_email, contact_phone=contact_phone)
    description, lat, long, clean_attrs = checked.description, checked.lat, checked.long, checked.attributes

    now = created_at or utcnow()
    case = Case(
        service_type=service,
        description=description,
        channel=channel,
        priority=priority,
        status="new",
        address=address or None,
        address_id=address_id or None,
        zipcode=zipcode or None,
        lat=lat,
        long=long,
        zone=zone or None,
        attributes=clean_attrs,
        account=account,
        contact_name=contact_name or (account.name if account else None),
        contact_email=contact_email or (account.email if account else None),
        contact_phone=contact_phone or (account.phone if account else None),
        created_at=now,
        updated_at=now,
        expected_at=expected_at(service, now),
    )
    case.tags = tags_by_name(session, tags or [])
    pm = _pm()
    decision = pm.hook.route_case(case=case, session=session)
    department = service.department if service.department is not None and service.department.code == decision.department_code else None
    if department is None:
        department = session.scalar(select(Department).where(Department.code == decision.department_code).options(lazyload(Department.staff)))
    if department is None:
        raise CaseError({"department": [gettext("routing rule '%(rule)s' names unknown department '%(code)s'", rule=decision.rule, code=decision.department_code)]})
    case.department = department
    event_tag = pm.hook.active_event_tag()  # during a declared disaster every new case carries its tag (FEMA)
    if event_tag and event_tag not in {t.name for t in case.tags}:
        case.tags = list(case.tags) + tags_by_name(session, [event_tag])
    duplicate_of = _likely_duplicate(session, case, now)
    # The reference is taken as late as it can be: the sequence row stays locked from here until the commit.
    case.reference = pm.hook.case_reference(case=case, session=session)
    session.add(case)
    handoffs.open_stint(session, case, now)  # its time with the routed department starts (core.services.handoffs)
    # The timeline starts when the case does (an import or the demo may pass an earlier created_at).
    events = [
        _event(case, "created", actor, public=True, channel=channel),
        _event(case, "routed", actor, rule=decision.rule, department=department.code),
    ]
    if duplicate_of is not None:  # the likeliest earlier report of the same problem, for staff; never merged by itself
        events.append(_event(case, "duplicate_suggested", actor, suggested_duplicate=duplicate_of))
    for ev in events:
        ev.created_at = now
        session.add(ev)
    from core.services.tasks import announce_new_tasks, apply_task_templates

    tasks = apply_task_templates(session, case, decision.rule, actor, now)  # the config's task templates
    if commit:
        session.commit()
        pm.hook.case_created(case=case)
        announce_new_tasks(tasks)
    return case


def _likely_duplicate(session: Session, case: Case, at: datetime) -> str | None:
    """The reference of the likeliest earlier report of the same problem, or None.

    The same rule as ``core.duplicates.candidates`` (same service, open, in the window, within the radius, newest
    first), with the distance in SQL (a flat-earth estimate 1% wide, exact enough at a few hundred metres) so the
    database answers the newest few rows near the spot, not every open report in the box: during a storm a spot
    holds hundreds.  The great-circle distance then decides."""
    from core.duplicates import METRES_PER_DEGREE, distance_m, settings

    if case.lat is None or case.long is None or case.service_type is None:
        return None
    radius_m, window_h = settings()
    dlat = radius_m / METRES_PER_DEGREE
    long_scale = max(math.cos(math.radians(case.lat)), 0.01)
    dlong = dlat / long_scale
    north, east = (Case.lat - case.lat), (Case.long - case.long) * long_scale
    stmt = (
        select(Case.reference, Case.lat, Case.long)
        .where(
            Case.service_type_id == case.service_type.id,
            Case.status.in_(sorted(OPEN_STATUSES)),
            Case.created_at >= at - timedelta(hours=window_h),
            Case.created_at <= at,
            Case.lat.between(case.lat - dlat, case.lat + dlat),
            Case.long.between(case.long - dlong, case.long + dlong),
            north * north + east * east <= (dlat * 1.01) ** 2,
        )
        .order_by(Case.created_at.desc(), Case.id.desc())
        .limit(5)
    )
    if case.id is not None:  # already written (an import re-checking): never itself
        stmt = stmt.where(Case.id != case.id)
    with session.no_autoflush:
        rows = session.execute(stmt).all()
    return next((r.reference for r in rows if distance_m(case.lat, case.long, r.lat, r.long) <= radius_m), None)


def check_version(case: Case, expected: Any) -> None:
    """Refuse a change made on a stale copy of the case."""
    try:
        expected_int = int(expected)
    except (TypeError, ValueError):
        raise CaseError({"version": [gettext("is required: send the version of the case you edited")]})
    if expected_int != case.version:
        raise ConflictError(case, expected_int)


def change_status(session: Session, case: Case, new: str, actor: Actor, note: str = "", expected_version: Any = None,
                  confirm_open_tasks: bool = False) -> Case:
    """Move a case through the workflow; a note given here is public (the resident sees why).

    Resolving or closing a case with open tasks follows ``[cases] open_tasks_on_resolve``: refused, or
    done only with ``confirm_open_tasks`` (recorded on the timeline; the tasks stay as they are)."""
    if expected_version is not None:
        check_version(case, expected_version)
    if new not in STATUSES:
        raise CaseError({"status": [gettext("must be one of: %(choices)s", choices=", ".join(STATUSES))]})
    old = case.status
    if new == old:
        return case
    if new not in TRANSITIONS[old]:
        allowed = ", ".join(TRANSITIONS[old])
        raise CaseError({"status": [gettext("cannot go from %(old)s to %(new)s; allowed: %(allowed)s", old=old, new=new, allowed=allowed)]})
    from core.services.tasks import check_open_tasks, open_tasks_event

    left_open = check_open_tasks(session, case, new, confirm_open_tasks)
    now = utcnow()
    case.status = new
    case.updated_at = now
    case.closed_at = now if new in CLOSED_STATUSES else None
    if old == "new" and case.acknowledged_at is None:
        case.acknowledged_at = now
    if new == "reopened":
        case.reopen_count = (case.reopen_count or 0) + 1
    ev = _event(case, "status_changed", actor, body=note, public=True, old=old, new=new)
    ev.created_at = now  # the same moment as the stint it ends or opens
    session.add(ev)
    if left_open:
        session.add(open_tasks_event(case, left_open, new, actor))
    handoffs.status_moved(session, case, old, new, now, note)
    session.commit()
    pm = _pm()
    pm.hook.case_status_changed(case=case, old=old, new=new)
    pm.hook.case_updated(case=case, changes={"status": (old, new)})
    if new in ("resolved", "closed") and old not in CLOSED_STATUSES:
        _close_duplicates(session, case, actor)
    return case


# Duplicates closed with their parent at most (a parent with more is still closed; the rest keep no note).
MAX_DUPLICATES_CLOSED = 200


def _close_duplicates(session: Session, parent: Case, actor: Actor) -> None:
    """The parent is resolved or closed: each of its duplicates gets a public note, so their followers hear of it.

    The duplicates keep the status "duplicate" (already closed in Open311 terms)."""
    from flask_babel import force_locale

    from core.duplicates import duplicates_of

    locale = current_app.extensions["civic"].config.city.get("default_locale", "en")
    for duplicate in duplicates_of(session, parent, limit=MAX_DUPLICATES_CLOSED):
        if duplicate.status != "duplicate":
            continue
        with force_locale(locale):
            body = gettext("Resolved together with %(reference)s.", reference=parent.reference)
        add_note(session, duplicate, body, actor, public=True)


def merge_into(session: Session, duplicate: Case, parent: Case | None, actor: Actor, expected_version: Any = None) -> Case:
    """Mark ``duplicate`` as a duplicate of ``parent``: linked, status "duplicate", a timeline entry on both.

    Nothing personal is copied to the parent; the duplicate's reporters hear of it through the status change."""
    if expected_version is not None:
        check_version(duplicate, expected_version)
    errors: dict[str, list[str]] = {}
    if parent is None:
        errors["parent"] = [gettext("choose the case this one duplicates")]
    elif parent.id == duplicate.id:
        errors["parent"] = [gettext("a case cannot be a duplicate of itself")]
    elif not parent.is_open:
        errors["parent"] = [gettext("case %(reference)s is closed; reopen it first", reference=parent.reference)]
    elif parent.duplicate_of_id is not None:
        errors["parent"] = [gettext("case %(reference)s is itself a duplicate", reference=parent.reference)]
    if duplicate.duplicate_of_id is not None or duplicate.status == "duplicate":
        errors["status"] = [gettext("this case is already a duplicate")]
    elif "duplicate" not in TRANSITIONS[duplicate.status]:
        allowed = ", ".join(TRANSITIONS[duplicate.status])
        errors["status"] = [gettext("cannot go from %(old)s to %(new)s; allowed: %(allowed)s", old=duplicate.status, new="duplicate", allowed=allowed)]
    if errors:
        raise CaseError(errors)
    old = duplicate.status
    now = utcnow()
    duplicate.duplicate_of = parent
    duplicate.status = "duplicate"
    duplicate.updated_at = now
    duplicate.closed_at = now
    if old == "new" and duplicate.acknowledged_at is None:
        duplicate.acknowledged_at = now
    session.add(_event(duplicate, "status_changed", actor, public=True, old=old, new="duplicate", parent=parent.reference))
    handoffs.status_moved(session, duplicate, old, "duplicate", now)
    session.add(_event(parent, "merged", actor, duplicate=duplicate.reference))
    session.commit()
    pm = _pm()
    pm.hook.case_status_changed(case=duplicate, old=old, new="duplicate")
    pm.hook.case_updated(case=duplicate, changes={"status": (old, "duplicate"), "duplicate_of": (None, parent.reference)})
    return duplicate


def assign(session: Session, case: Case, user, actor: Actor, expected_version: Any = None) -> Case:
    """Give the case to a staff member (or to nobody with ``user=None``)."""
    if expected_version is not None:
        check_version(case, expected_version)
    old = case.assignee.username if case.assignee else None
    new = user.username if user else None
    if old == new:
        return case
    case.assignee = user
    case.updated_at = utcnow()
    session.add(_event(case, "assigned", actor, old=old, new=new))
    session.commit()
    _pm().hook.case_updated(case=case, changes={"assignee": (old, new)})
    return case


def set_tags(session: Session, case: Case, names: list[str], actor: Actor, expected_version: Any = None) -> Case:
    if expected_version is not None:
        check_version(case, expected_version)
    old = [t.name for t in case.tags]
    case.tags = tags_by_name(session, names)
    new = [t.name for t in case.tags]
    if old == new:
        return case
    case.updated_at = utcnow()
    session.add(_event(case, "tagged", actor, old=old, new=new))
    session.commit()
    _pm().hook.case_updated(case=case, changes={"tags": (old, new)})
    return case


def add_note(session: Session, case: Case, body: str, actor: Actor, public: bool = False, data: dict | None = None,
             resident: bool = False) -> CaseEvent:
    """An internal note (staff only) or a public note (the resident sees it); ``data`` goes on the timeline
    entry (e.g. the incident note it belongs to).  ``resident=True``: words from a reporter (an e-mail reply,
    an Open311 update) -- a ``resident_note``, shown on the public case page as the resident's, never as
    the city's (Open311 status notes and followers' e-mails carry only the city's notes)."""
    body = (body or "").strip()
    if not body:
        raise CaseError({"body": [gettext("a note cannot be empty")]})
    if len(body) > MAX_DESCRIPTION:
        raise CaseError({"body": [too_long(body, MAX_DESCRIPTION)]})
    kind = "resident_note" if resident else "public_note" if public else "internal_note"
    public = public or resident
    ev = _event(case, kind, actor, body=body, public=public, **(data or {}))
    case.updated_at = utcnow()
    session.add(ev)
    if kind == "internal_note":  # "@UTIL", "@jdoe": a Mention and an e-mail each (core.services.mentions)
        from core.services.mentions import record_mentions

        record_mentions(session, ev, actor.user_id)
    session.commit()
    _pm().hook.case_updated(case=case, changes={"note": (None, ev.kind)})
    return ev


def reroute(session: Session, case: Case, department: Department | None, actor: Actor, reason: str, expected_version: Any = None) -> Case:
    """Send the case to another department; the reason goes on the timeline (staff only)."""
    if expected_version is not None:
        check_version(case, expected_version)
    reason = (reason or "").strip()
    errors: dict[str, list[str]] = {}
    if department is None or not department.active:
        errors["department"] = [gettext("choose an active department")]
    elif department.id == case.department_id:
        errors["department"] = [gettext("the case is already with %(department)s", department=department)]
    if not reason:
        errors["reason"] = [gettext("say why the case goes to another department")]
    elif len(reason) > handoffs.MAX_REASON:
        errors["reason"] = [too_long(reason, handoffs.MAX_REASON)]
    if errors:
        raise CaseError(errors)
    old = case.department.code
    now = utcnow()
    case.department = department
    case.updated_at = now
    ev = _event(case, "department_changed", actor, body=reason, old=old, new=department.code)
    ev.created_at = now  # the same moment as the stint it opens
    session.add(ev)
    handoffs.hand_off(session, case, now, reason)
    session.commit()
    _pm().hook.case_updated(case=case, changes={"department": (old, department.code)})
    return case


TRACKED_FIELDS = ("description", "priority", "address", "zipcode", "lat", "long", "zone", "department_id")


def record_edit(session: Session, case: Case, actor: Actor) -> dict[str, tuple[Any, Any]]:
    """After a generic edit (screen or API) put the changed fields on the timeline, before the commit."""
    from sqlalchemy import inspect

    state = inspect(case)
    changes: dict[str, tuple[Any, Any]] = {}
    for name in TRACKED_FIELDS:
        hist = state.attrs[name].history
        if hist.has_changes():
            old = hist.deleted[0] if hist.deleted else None
            new = hist.added[0] if hist.added else None
            if old != new:
                changes[name] = (old, new)
    if "department_id" in changes:
        old, new = changes.pop("department_id")
        old_d, new_d = session.get(Department, old), session.get(Department, new)
        moved = _event(case, "department_changed", actor, old=old_d.code if old_d else None, new=new_d.code if new_d else None)
        moved.created_at = utcnow()
        session.add(moved)
        handoffs.hand_off(session, case, moved.created_at, "")
        changes["department"] = (old_d.code if old_d else None, new_d.code if new_d else None)
    tag_history = state.attrs["tags"].history
    if tag_history.has_changes():
        old_tags = sorted(t.name for t in (*tag_history.unchanged, *tag_history.deleted))
        new_tags = sorted(t.name for t in (*tag_history.unchanged, *tag_history.added))
        if old_tags != new_tags:
            session.add(_event(case, "tagged", actor, old=old_tags, new=new_tags))
            changes["tags"] = (old_tags, new_tags)
    plain = {k: v for k, v in changes.items() if k not in ("department", "tags")}
    if plain:
        session.add(_event(case, "updated", actor, fields={k: [_j(o), _j(n)] for k, (o, n) in plain.items()}))
    if changes:
        case.updated_at = utcnow()
    return changes


def _j(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value
