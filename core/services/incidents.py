"""Incidents: one event behind many related reports (a water main break reported forty times).

Related cases (not duplicates: each keeps its own status and reporter) link to one incident
(``Case.incident_id``); linking and unlinking go on the case's timeline (``incident_linked``,
``incident_unlinked``).  Linking a case that is in another incident moves it, and the entry says from
where.  A public note can go to every linked case at once: each case gets it through
``core.services.cases.add_note``, so its followers hear of it through the usual hooks.  Posting is
idempotent: the confirmation carries a token, each note records it, and a second post with the same
token (a double click, a reload) adds nothing.  A closed incident takes no new cases and no notes.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from flask import current_app
from flask_babel import gettext
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from core.models import Case, CaseEvent, Incident
from core.models.base import utcnow
from core.services.cases import MAX_DESCRIPTION, Actor, CaseError, add_note, too_long

MAX_TITLE = 200
# Cases linked in one request (the case list's largest page), and cases one note may go to at once.
MAX_LINK_AT_ONCE = 100
MAX_NOTE_CASES = 500
TOKEN = re.compile(r"^[0-9a-f]{32}$")


@dataclass
class LinkResult:
    linked: list[Case] = field(default_factory=list)  # newly linked, or moved from another incident
    moved: list[Case] = field(default_factory=list)  # of which these came from another incident
    unchanged: list[Case] = field(default_factory=list)  # already in this incident


@dataclass
class PostResult:
    posted: list[Case] = field(default_factory=list)
    failed: list[Case] = field(default_factory=list)
    already: bool = False  # this token was posted before: nothing was added


def _pm():
    return current_app.extensions["civic"].pm


def clean_fields(title: str | None, description: str | None) -> tuple[str, str]:
    """The incident's title and description, stripped; CaseError naming each bad field."""
    title, description = (title or "").strip(), (description or "").strip()
    errors: dict[str, list[str]] = {}
    if not title:
        errors["title"] = [gettext("is required")]
    elif len(title) > MAX_TITLE:
        errors["title"] = [too_long(title, MAX_TITLE)]
    if len(description) > MAX_DESCRIPTION:
        errors["description"] = [too_long(description, MAX_DESCRIPTION)]
    if errors:
        raise CaseError(errors)
    return title, description


def _require_open(incident: Incident) -> None:
    if incident.status != "open":
        raise CaseError({"incident": [gettext("incident “%(title)s” is closed; reopen it first", title=incident.title)]})


def _event(case: Case, kind: str, actor: Actor, **data) -> CaseEvent:
    return CaseEvent(case=case, kind=kind, actor_id=actor.user_id, actor_label=actor.label, data=data)


def _link(session: Session, incident: Incident, cases: list[Case], actor: Actor) -> LinkResult:
    """Link (or move) the cases, with a timeline entry each; the caller commits."""
    _require_open(incident)
    if len(cases) > MAX_LINK_AT_ONCE:
        raise CaseError({"cases": [gettext("choose at most %(max)s cases at once", max=MAX_LINK_AT_ONCE)]})
    result = LinkResult()
    now = utcnow()
    for case in cases:
        if case.incident_id == incident.id:
            result.unchanged.append(case)
            continue
        old = case.incident
        session.add(_event(case, "incident_linked", actor, incident=incident.id, old=old.title if old else None, new=incident.title,
                           old_incident=old.id if old else None))
        case.incident = incident
        case.updated_at = now
        result.linked.append(case)
        if old is not None:
            result.moved.append(case)
    return result


def _linked_hooks(result: LinkResult, incident: Incident, old_ids: dict[int, int | None]) -> None:
    hook = _pm().hook
    for case in result.linked:
        hook.case_updated(case=case, changes={"incident": (old_ids.get(case.id), incident.id)})


def create_incident(session: Session, title: str, description: str, actor: Actor, cases: list[Case] = ()) -> tuple[Incident, LinkResult]:
    """A new open incident, with ``cases`` linked to it (moved if they were in another)."""
    title, description = clean_fields(title, description)
    incident = Incident(title=title, description=description, status="open", created_by_id=actor.user_id, created_at=utcnow())
    session.add(incident)
    session.flush()  # its id: the cases point to it
    old_ids = {c.id: c.incident_id for c in cases}
    result = _link(session, incident, list(cases), actor)
    session.commit()
    _linked_hooks(result, incident, old_ids)
    return incident, result


def link_cases(session: Session, incident: Incident, cases: list[Case], actor: Actor) -> LinkResult:
    """Link ``cases`` to an open incident; a case of another incident moves (its entry names both)."""
    old_ids = {c.id: c.incident_id for c in cases}
    result = _link(session, incident, list(cases), actor)
    session.commit()
    _linked_hooks(result, incident, old_ids)
    return result


def unlink_case(session: Session, case: Case, actor: Actor) -> Incident:
    """Take the case out of its incident (the incident stays, with its other cases)."""
    incident = case.incident
    if incident is None:
        raise CaseError({"incident": [gettext("this case is not linked to an incident")]})
    session.add(_event(case, "incident_unlinked", actor, incident=incident.id, old=incident.title, new=None))
    case.incident = None
    case.updated_at = utcnow()
    session.commit()
    _pm().hook.case_updated(case=case, changes={"incident": (incident.id, None)})
    return incident


def update_incident(session: Session, incident: Incident, title: str, description: str) -> Incident:
    incident.title, incident.description = clean_fields(title, description)
    session.commit()
    return incident


def close_incident(session: Session, incident: Incident) -> Incident:
    """Closed: no new cases, no notes.  Its cases keep their link (and their own statuses)."""
    if incident.status != "closed":
        incident.status, incident.closed_at = "closed", utcnow()
        session.commit()
    return incident


def reopen_incident(session: Session, incident: Incident) -> Incident:
    if incident.status != "open":
        incident.status, incident.closed_at = "open", None
        session.commit()
    return incident


# ---------------------------------------------------------------- what the incident page shows

def linked_case_ids(incident_id: int):
    return select(Case.id).where(Case.incident_id == incident_id)


def count_cases(session: Session, incident_id: int, scope=None) -> int:
    stmt = select(func.count(Case.id)).where(Case.incident_id == incident_id)
    return session.scalar(stmt if scope is None else stmt.where(scope)) or 0


def incident_cases(session: Session, incident_id: int, scope=None, limit: int = MAX_NOTE_CASES) -> list[Case]:
    """The linked cases in ``scope`` (a WHERE clause on Case, e.g. ``core.security.case_scope()``), oldest first."""
    stmt = select(Case).where(Case.incident_id == incident_id).order_by(Case.created_at, Case.id).limit(limit)
    return list(session.scalars(stmt if scope is None else stmt.where(scope)))


def duplicate_counts(session: Session, case_ids: list[int]) -> dict[int, int]:
    """How many duplicates were merged into each of these cases (one GROUP BY)."""
    if not case_ids:
        return {}
    stmt = select(Case.duplicate_of_id, func.count(Case.id)).where(Case.duplicate_of_id.in_(case_ids)).group_by(Case.duplicate_of_id)
    return dict(session.execute(stmt).all())


def open_incidents(session: Session, limit: int = 200) -> list[Incident]:
    stmt = select(Incident).where(Incident.status == "open").order_by(Incident.created_at.desc(), Incident.id.desc()).limit(limit)
    return list(session.scalars(stmt))


# ---------------------------------------------------------------- one public note to every linked case

def _posted_before(session: Session, incident_id: int, token: str) -> bool:
    stmt = select(func.count(CaseEvent.id)).where(
        CaseEvent.case_id.in_(linked_case_ids(incident_id)),
        CaseEvent.kind == "public_note",
        CaseEvent.data["incident_post"].as_string() == token,
    )
    return bool(session.scalar(stmt))


def post_public_note(session: Session, incident: Incident, body: str, actor: Actor, token: str) -> PostResult:
    """Add the same public note to every linked case, once per ``token`` (the confirmation form's).

    The incident row is locked (a row lock on PostgreSQL, the write lock on SQLite) while the token is
    looked up, and stays locked until the first note is committed: a second request with the same
    token waits, then finds that note and adds nothing.
    """
    body = (body or "").strip()
    errors: dict[str, list[str]] = {}
    if not body:
        errors["body"] = [gettext("a note cannot be empty")]
    elif len(body) > MAX_DESCRIPTION:
        errors["body"] = [too_long(body, MAX_DESCRIPTION)]
    if not TOKEN.match(token or ""):
        errors["token"] = [gettext("the confirmation is missing: open the note form again")]
    if errors:
        raise CaseError(errors)
    _require_open(incident)
    session.execute(
        update(Incident).where(Incident.id == incident.id).values(status=Incident.status).execution_options(synchronize_session=False)
    )
    if _posted_before(session, incident.id, token):
        session.rollback()
        return PostResult(already=True)
    cases = incident_cases(session, incident.id, limit=MAX_NOTE_CASES + 1)
    if len(cases) > MAX_NOTE_CASES:
        session.rollback()
        raise CaseError({"cases": [gettext("this incident has more than %(max)s cases: a note can go to at most %(max)s at once", max=MAX_NOTE_CASES)]})
    result = PostResult()
    data = {"incident": incident.id, "incident_post": token}
    case_ids = [c.id for c in cases]
    for case_id in case_ids:
        for attempt in (1, 2):  # a colleague's change to the same case in between: reload it and try once more
            case = session.get(Case, case_id)
            try:
                add_note(session, case, body, actor, public=True, data=data)
            except StaleDataError:
                session.rollback()
                if attempt == 2:
                    result.failed.append(session.get(Case, case_id))
                continue
            result.posted.append(case)
            break
    return result
