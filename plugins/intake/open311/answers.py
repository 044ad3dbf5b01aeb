"""Cases as Open311 requests: the spec's fields, and with ``extensions=true`` Chicago's extras.

Everything a page of cases needs is read in a fixed number of queries (one per kind of data,
each bounded per case with a window function), never one per case.

- ``status_notes``: the latest public note (or public status-change note) of the case.
- ``media_url``: the first public photo (a link to the portal's photo route), else the first
  ``media_url`` an Open311 client sent (a public ``attachment_added`` event, never fetched).
- ``description`` stays empty: the reporter's own words may name or locate people.
- ``extended_attributes``: ``channel``, ``duplicate``, ``parent_service_request_id`` (the case it
  duplicates, else its parent case) and ``photos`` (``media_url`` + ``created_at`` of each public
  photo and recorded media_url).
- ``notes``: the public history, oldest first (``datetime``, ``summary``, ``type`` = opened /
  activity / closed, ``description``); staff-only events never appear.
"""
from __future__ import annotations

from flask import current_app, url_for
from flask_babel import force_locale, gettext
from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import lazyload, load_only

from core.extensions import db
from core.i18n_content import localized
from core.models import CLOSED_STATUSES, STATUSES, Attachment, Case, CaseEvent, Department, ServiceType, open311_status
from plugins.intake.open311.formats import utc
from plugins.intake.open311.params import answer_locale

# What an answer reads of each case: its own columns only (not the reporter's words, contact or attributes), its
# service and department by id from the session once ``_catalog`` has read them (a thousand requests would
# otherwise join and decode the same service's JSON columns a thousand times).
ANSWER_LOAD = (
    load_only(Case.id, Case.reference, Case.status, Case.service_type_id, Case.department_id, Case.created_at,
              Case.updated_at, Case.expected_at, Case.address, Case.address_id, Case.zipcode, Case.lat, Case.long,
              Case.channel, Case.duplicate_of_id, Case.parent_id, Case.version),
    lazyload(Case.service_type), lazyload(Case.department), lazyload(Case.tags),
)
NOTE_KINDS = ("public_note", "status_changed")
HISTORY_KINDS = ("created", "public_note", "status_changed")
MAX_PHOTOS = 20  # per request, with extensions=true
MAX_NOTES = 50  # per request: the latest ones


def _per_case(columns, case_id, conditions, order_by, limit: int):
    """Rows of ``columns`` for each case, the first ``limit`` by ``order_by``, in one query."""
    rank = func.row_number().over(partition_by=case_id, order_by=order_by).label("rank")
    # A page's thousand case ids go into the SQL as integers: a thousand placeholders cost more to render and
    # parse than the query takes to run.
    conditions = tuple(_inline_ids(c) for c in conditions)
    inner = select(*columns, rank).where(*conditions).subquery()
    stmt = select(*[c for c in inner.c if c.name != "rank"]).where(inner.c.rank <= limit).order_by(inner.c.case_id, inner.c.rank)
    return db.session.execute(stmt).all()


def _inline_ids(condition):
    """``column IN (:ids)`` with its (integer) ids rendered inline."""
    right = getattr(condition, "right", None)
    if getattr(right, "expanding", False) and all(isinstance(v, int) for v in (right.value or ())):
        return condition.left.in_(bindparam(right.key, right.value, expanding=True, literal_execute=True))
    return condition


def _latest_notes(case_ids: list[int]) -> dict[int, str]:
    """The latest public note (or public status-change note) of each case."""
    if not case_ids:
        return {}
    rows = _per_case(
        (CaseEvent.case_id, CaseEvent.body),
        CaseEvent.case_id,
        (CaseEvent.case_id.in_(case_ids), CaseEvent.public.is_(True), CaseEvent.kind.in_(NOTE_KINDS), CaseEvent.body != ""),
        (CaseEvent.created_at.desc(), CaseEvent.id.desc()),
        1,
    )
    return {row.case_id: row.body for row in rows}


def _photo_base() -> str:
    return current_app.extensions["civic"].plugin_config["intake"]["public_url"].rstrip("/")


def _media(case_ids: list[int], limit: int) -> dict[int, list[dict]]:
    """Public photos first, then recorded media_url, each oldest first: ``{case_id: [{media_url, created_at}]}``."""
    if not case_ids:
        return {}
    found: dict[int, list[dict]] = {i: [] for i in case_ids}
    base = _photo_base()
    photos = _per_case(
        (Attachment.case_id, Attachment.id, Attachment.created_at),
        Attachment.case_id,
        (Attachment.case_id.in_(case_ids), Attachment.public.is_(True), Attachment.content_type.like("image/%")),
        (Attachment.created_at, Attachment.id),
        limit,
    )
    for row in photos:
        found[row.case_id].append({"media_url": base + url_for("portal.photo", attachment_id=row.id, thumbnail=False), "created_at": utc(row.created_at)})
    recorded = CaseEvent.data["media_url"].as_string()
    urls = _per_case(
        (CaseEvent.case_id, recorded.label("media_url"), CaseEvent.created_at),
        CaseEvent.case_id,
        (CaseEvent.case_id.in_(case_ids), CaseEvent.public.is_(True), CaseEvent.kind == "attachment_added", recorded != ""),
        (CaseEvent.created_at, CaseEvent.id),
        limit,
    )
    for row in urls:
        if len(found[row.case_id]) < limit:
            found[row.case_id].append({"media_url": row.media_url, "created_at": utc(row.created_at)})
    return found


def _references(ids: set[int]) -> dict[int, str]:
    """References of the given cases that belong to public services."""
    if not ids:
        return {}
    stmt = (
        select(Case.id, Case.reference)
        .join(ServiceType, Case.service_type_id == ServiceType.id)
        .where(Case.id.in_(ids), ServiceType.public.is_(True))
    )
    return dict(db.session.execute(stmt).all())


def _history(case_ids: list[int]) -> dict[int, list[dict]]:
    """The public history of each case (its latest MAX_NOTES entries), oldest first."""
    found: dict[int, list[dict]] = {i: [] for i in case_ids}
    if not case_ids:
        return found
    rows = _per_case(
        (CaseEvent.case_id, CaseEvent.kind, CaseEvent.created_at, CaseEvent.body, CaseEvent.data),
        CaseEvent.case_id,
        (CaseEvent.case_id.in_(case_ids), CaseEvent.public.is_(True), CaseEvent.kind.in_(HISTORY_KINDS)),
        (CaseEvent.created_at.desc(), CaseEvent.id.desc()),
        MAX_NOTES,
    )
    for row in rows:
        found[row.case_id].insert(0, _note(row))
    return found


def _note(row) -> dict:
    data = row.data or {}
    if row.kind == "created":
        kind, summary, description = "opened", gettext("Request opened"), ""
    elif row.kind == "public_note":
        kind, summary, description = "activity", gettext("Note from the city"), row.body
    else:
        new = data.get("new")
        kind = "closed" if new in CLOSED_STATUSES else ("opened" if new == "reopened" else "activity")
        summary = str(STATUSES[new][0]) if new in STATUSES else gettext("Status changed")
        description = row.body
        if not description and new == "duplicate" and data.get("parent"):
            description = gettext("Duplicate of %(reference)s", reference=data["parent"])
    return {"datetime": utc(row.created_at), "summary": summary, "type": kind, "description": description}


def _catalog(cases: list[Case]) -> list:
    """The services and departments of ``cases``, read once: ``case.service_type`` and ``case.department`` then
    come from the session.  Returned so that they stay referenced (the session holds its objects weakly)."""
    service_ids = {c.service_type_id for c in cases}
    department_ids = {c.department_id for c in cases}
    if not service_ids:
        return []
    services = list(db.session.scalars(select(ServiceType).where(ServiceType.id.in_(service_ids))
                                       .options(lazyload(ServiceType.department))))
    departments = list(db.session.scalars(select(Department).where(Department.id.in_(department_ids | {s.department_id for s in services}))
                                          .options(lazyload(Department.staff))))
    return services + departments


def _requests(cases: list[Case], extensions: bool = False) -> list[dict]:
    """The Open311 ``request`` of each case, in the order given."""
    locale = answer_locale()
    catalog = _catalog(cases)  # noqa: F841 -- kept alive while the answer is built
    ids = [c.id for c in cases]
    notes = _latest_notes(ids)
    media = _media(ids, MAX_PHOTOS if extensions else 1)
    answer = []
    names: dict[tuple[str, int], str] = {}  # a thousand requests share a few services and departments

    def name_of(kind: str, obj) -> str:
        if (kind, obj.id) not in names:
            names[kind, obj.id] = localized(obj, "name", locale)
        return names[kind, obj.id]

    for case in cases:
        first = media.get(case.id) or [{}]
        answer.append(
            {
                "service_request_id": case.reference,
                "status": open311_status(case.status),
                "status_notes": notes.get(case.id, ""),
                "service_name": name_of("service", case.service_type),
                "service_code": case.service_type.code,
                "description": "",  # the reporter's own words: never published (see the module docstring)
                "agency_responsible": name_of("department", case.department),
                "service_notice": "",
                "requested_datetime": utc(case.created_at),
                "updated_datetime": utc(case.updated_at),
                "expected_datetime": utc(case.expected_at),
                "address": case.address or "",
                "address_id": case.address_id or "",
                "zipcode": case.zipcode or "",
                "lat": case.lat,
                "long": case.long,
                "media_url": first[0].get("media_url", ""),
            }
        )
    if extensions:
        _extend(cases, answer, media, locale)
    return answer


def _extend(cases: list[Case], answer: list[dict], media: dict[int, list[dict]], locale: str) -> None:
    ids = [c.id for c in cases]
    parents = _references({c.duplicate_of_id or c.parent_id for c in cases} - {None})
    with force_locale(locale):
        history = _history(ids)
    for case, item in zip(cases, answer):
        item["extended_attributes"] = {
            "channel": case.channel,
            "duplicate": case.duplicate_of_id is not None or case.status == "duplicate",
            "parent_service_request_id": parents.get(case.duplicate_of_id or case.parent_id, ""),
            "photos": media.get(case.id, []),
        }
        item["notes"] = history.get(case.id, [])
