"""FixMyStreet-style ``servicerequestupdates.{fmt}``: the public updates of requests, and updates sent in.

GET (no key): the city's public notes and status changes of cases of public services (not the
residents' own updates: a client would get back what it sent), as
``<service_request_updates><request_update>`` with ``update_id``, ``service_request_id``, ``status``
(open/closed after that update), ``updated_datetime`` (UTC, ``Z``), ``description`` and
``media_url``; JSON is the list of updates.  Filters: ``start_date``, ``end_date`` (ISO 8601) and
``service_request_id`` (comma list).  At most 1,000 updates, oldest first: from ``start_date`` when
given (a client follows on from the last ``updated_datetime`` it saw), else the latest 1,000 of the
90 days before ``end_date`` (default now).  No personal data: staff write public notes for the public,
and the contact details of a POST are never kept.

POST (with a key, like POST requests): ``service_request_id`` (required), ``description``,
``status``, ``update_id`` (the client's own), ``updated_datetime``, ``media_url``; ``email``,
``first_name`` and ``last_name`` are accepted and NOT kept.  It adds a resident's note to the case
(``resident_note``: public on the case page as the resident's words, never as the city's; not e-mailed
to followers), attributed to ``open311:<key name>``.  A
resident's status never changes the case by itself: ``closed`` or ``fixed`` (FixMyStreet's
extended statuses are accepted) is recorded as a sentence in the note, for staff to act on.  The
same ``update_id`` sent again by the same key answers the first note's id (no second note).  A
``media_url`` is recorded, never fetched.  Answer (201): ``<service_request_updates><request_update>
<update_id>``; the update_id is the note's.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from flask_babel import force_locale, gettext
from sqlalchemy import select

from core.extensions import csrf, db
from core.i18n_content import default_locale
from core.models import STATUSES, Case, CaseEvent, ServiceType, open311_status
from core.models.base import utcnow
from core.services.cases import MAX_DESCRIPTION, Actor, CaseError, add_note, too_long
from plugins.intake.open311 import open311
from plugins.intake.open311.formats import CHILD, utc
from plugins.intake.open311.keys import PresentedKey
from plugins.intake.open311.views import Open311Error, _answer, _list_param, _parse_date
from plugins.intake.open311.write import (
    case_error_lines,
    check_description,
    check_media_url,
    field_error,
    form_value,
    keyed_answer,
    media_url_event,
)

ROOT = "service_request_updates"
CHILD.setdefault(ROOT, "request_update")  # XML: <service_request_updates><request_update>...
MAX_UPDATES = 1000
DEFAULT_DAYS = 90
UPDATE_KINDS = ("public_note", "status_changed")
# What clients send as ``status``: the spec's two, and FixMyStreet's extended statuses.
OPEN_WORDS = {"OPEN", "IN_PROGRESS", "ACTION_SCHEDULED", "INVESTIGATING", "INTERNAL_REFERRAL"}
FIXED_WORDS = {"CLOSED", "FIXED"}
OTHER_CLOSED_WORDS = {"DUPLICATE", "NOT_COUNCILS_RESPONSIBILITY", "NO_FURTHER_ACTION"}
MAX_CLIENT_ID = 100


# ---------------------------------------------------------------- GET

def _events(start, end, references: list[str]):
    stmt = (
        select(CaseEvent, Case.reference)
        .join(Case, CaseEvent.case_id == Case.id)
        .join(ServiceType, Case.service_type_id == ServiceType.id)
        .where(ServiceType.public.is_(True), CaseEvent.public.is_(True), CaseEvent.kind.in_(UPDATE_KINDS))
    )
    if references:
        stmt = stmt.where(Case.reference.in_([r[:32] for r in references[:MAX_UPDATES]]))
    if end is not None:
        stmt = stmt.where(CaseEvent.created_at <= end)
    if start is not None:
        stmt = stmt.where(CaseEvent.created_at >= start).order_by(CaseEvent.created_at, CaseEvent.id).limit(MAX_UPDATES)
        return list(db.session.execute(stmt))
    since = (end or utcnow()) - timedelta(days=DEFAULT_DAYS)
    stmt = stmt.where(CaseEvent.created_at >= since).order_by(CaseEvent.created_at.desc(), CaseEvent.id.desc()).limit(MAX_UPDATES)
    return list(reversed(db.session.execute(stmt).all()))


def _status_word(status: str | None) -> str | None:
    return open311_status(status) if status in STATUSES else None


def _statuses_after(rows) -> dict[int, str]:
    """Each event's open/closed: a status change's own, a note's that of the case's latest change before it."""
    case_ids = sorted({ev.case_id for ev, _ref in rows})
    latest = max((ev.created_at for ev, _ref in rows), default=None)
    changes: dict[int, list[CaseEvent]] = {}
    if case_ids:
        stmt = (
            select(CaseEvent).where(CaseEvent.case_id.in_(case_ids), CaseEvent.kind == "status_changed", CaseEvent.created_at <= latest)
            .order_by(CaseEvent.created_at, CaseEvent.id)
        )
        for change in db.session.scalars(stmt):
            changes.setdefault(change.case_id, []).append(change)
    out = {}
    for ev, _ref in rows:
        status = "open"  # a case starts "new"
        for change in changes.get(ev.case_id, []):
            if (change.created_at, change.id) > (ev.created_at, ev.id):
                break
            status = _status_word((change.data or {}).get("new")) or status
        out[ev.id] = status
    return out


@open311.route("/servicerequestupdates.<fmt>")
def get_updates(fmt: str):
    def build():
        start, end = _parse_date("start_date"), _parse_date("end_date")
        if start and end and start > end:
            raise Open311Error(400, gettext("start_date: must not be after end_date"))
        rows = _events(start, end, _list_param("service_request_id"))
        statuses = _statuses_after(rows)
        return ROOT, [
            {
                "update_id": str(ev.id),
                "service_request_id": reference,
                "status": statuses[ev.id],
                "updated_datetime": utc(ev.created_at),
                "description": ev.body or "",
                "media_url": (ev.data or {}).get("media_url") or "",
            }
            for ev, reference in rows
        ]

    return _answer(fmt, build)


# ---------------------------------------------------------------- POST

def _form_date(name: str, problems: list[str]) -> datetime | None:
    raw = form_value(name)
    if not raw:
        return None
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        problems.append(gettext("%(field)s: not a valid ISO 8601 datetime", field=name))
        return None
    return value.astimezone(timezone.utc).replace(tzinfo=None) if value.tzinfo is not None else value


def _same_update(case: Case, actor: Actor, client_id: str) -> CaseEvent | None:
    """The note this key already made from the client's ``update_id`` (a client that retries)."""
    stmt = (select(CaseEvent).where(CaseEvent.case_id == case.id, CaseEvent.kind == "resident_note", CaseEvent.actor_label == actor.label)
            .order_by(CaseEvent.id))
    for note in db.session.scalars(stmt):
        if (note.data or {}).get("client_update_id") == client_id:
            return note
    return None


def _post(key: PresentedKey, locale: str):
    problems: list[str] = []
    reference = form_value("service_request_id")
    if not reference:
        problems.append(field_error("service_request_id", gettext("is required")))
    raw_description = form_value("description")
    description = check_description(raw_description, problems)
    status = form_value("status").upper()
    if status and status not in OPEN_WORDS | FIXED_WORDS | OTHER_CLOSED_WORDS:
        problems.append(field_error("status", gettext("must be open or closed, not '%(value)s'", value=status[:40].lower())))
    client_id = form_value("update_id")
    if len(client_id) > MAX_CLIENT_ID:
        problems.append(field_error("update_id", too_long(client_id, MAX_CLIENT_ID)))
    sent_at = _form_date("updated_datetime", problems)
    media_url = check_media_url(form_value("media_url"), problems)
    if not description and status not in FIXED_WORDS and len(raw_description) <= MAX_DESCRIPTION:
        problems.append(field_error("description", gettext("is required (an update needs text, or the status closed)")))
    if problems:
        raise Open311Error(400, *problems)

    case = db.session.scalar(
        select(Case).join(ServiceType, Case.service_type_id == ServiceType.id).where(Case.reference == reference[:32], ServiceType.public.is_(True))
    )
    if case is None:
        raise Open311Error(404, gettext("service_request_id: unknown request '%(id)s'", id=reference[:32]))
    actor = Actor(label=f"open311:{key.name}")
    if client_id:
        earlier = _same_update(case, actor, client_id)
        if earlier is not None:
            return ROOT, [{"update_id": str(earlier.id)}], 200

    body = description
    if status in FIXED_WORDS:
        with force_locale(default_locale()):  # the timeline speaks the city's language
            said = gettext("The sender of this update says the problem is fixed.")
        body = f"{description}\n\n{said}" if description else said
    data = {"status": status.lower() or None, "media_url": media_url, "client_update_id": client_id or None, "sent_at": utc(sent_at)}
    if media_url:
        db.session.add(media_url_event(case, actor, media_url, utcnow()))
    try:
        note = add_note(db.session, case, body, actor, data={k: v for k, v in data.items() if v}, resident=True)
    except CaseError as exc:
        db.session.rollback()
        raise Open311Error(400, *case_error_lines(exc.errors)) from None
    return ROOT, [{"update_id": str(note.id)}]


@open311.route("/servicerequestupdates.<fmt>", methods=["POST"])
def post_update(fmt: str):
    return keyed_answer(fmt, _post)


csrf.exempt(post_update)
