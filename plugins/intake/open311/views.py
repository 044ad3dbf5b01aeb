"""Open311 GeoReport v2, GET methods.

- ``discovery.{fmt}``, ``services.{fmt}``, ``services/<code>.{fmt}``, ``requests.{fmt}``,
  ``requests/<id>.{fmt}``; ``fmt`` is ``xml`` or ``json``, anything else a 404.
- Texts are in the ``locale`` parameter's language, else the Accept-Language one among
  ``city.locales``, else the city's default.
- Requests never carry personal data.  ``description`` is left empty: it is the reporter's
  own words, which may name or locate people; the city's public notes are in ``status_notes``.
- Searches are bounded: at most 1,000 requests, newest first (created_at desc, id desc).
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from flask import current_app, request, url_for
from flask_babel import gettext
from sqlalchemy import select

from core.extensions import db
from core.i18n_content import localized, localized_attribute, localized_keywords
from core.models import CLOSED_STATUSES, OPEN_STATUSES, Attachment, Case, CaseEvent, ServiceType, open311_status
from core.models.base import utcnow
from plugins.intake.open311 import open311
from plugins.intake.open311.formats import FORMATS, errors, render, utc

SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
CHANGESET = "2026-11-28T00:00:00Z"  # when this API's shape last changed
MAX_REQUESTS = 1000
DEFAULT_DAYS = 90
NOTE_KINDS = ("public_note", "status_changed")


class Open311Error(Exception):
    def __init__(self, status: int, *descriptions: str):
        super().__init__(descriptions)
        self.status = status
        self.descriptions = list(descriptions)


# ------------------------------------------------------------------ helpers

def _city() -> dict:
    return current_app.extensions["civic"].config.city


def _param(name: str) -> str:
    """A query parameter, stripped; an empty one is the same as a missing one."""
    return (request.args.get(name) or "").strip()


def _list_param(name: str) -> list[str]:
    return [v.strip() for v in _param(name).split(",") if v.strip()]


def _fit(wanted: str, locales: list[str]) -> str | None:
    """``fr-CA`` -> ``fr_CA`` when the city has it, else ``fr`` when it has that, else None."""
    wanted = wanted.replace("-", "_")
    language, _, region = wanted.partition("_")
    candidates = [f"{language.lower()}_{region.upper()}", language.lower()] if region else [language.lower()]
    for candidate in candidates:
        if candidate in locales:
            return candidate
    return None


def answer_locale() -> str:
    """The ``locale`` parameter, else Accept-Language, narrowed to city.locales; else the default."""
    city = _city()
    locales = list(city["locales"])
    asked = _param("locale")
    if asked:
        fit = _fit(asked, locales)
        if fit:
            return fit
    for value, _quality in request.accept_languages:
        if value and value != "*":
            fit = _fit(value, locales)
            if fit:
                return fit
    return city["default_locale"]


def _check(fmt: str) -> None:
    if fmt not in FORMATS:
        raise Open311Error(404, gettext("unknown format '%(fmt)s': use xml or json", fmt=fmt[:20]))
    jurisdiction = _param("jurisdiction_id")
    if jurisdiction and jurisdiction != _city()["jurisdiction_id"]:
        raise Open311Error(404, gettext("jurisdiction_id: unknown jurisdiction '%(id)s'", id=jurisdiction[:100]))


def _answer(fmt: str, build):
    """Run ``build()`` -> (root, value); Open311Error becomes the error document (JSON when fmt is unknown)."""
    try:
        _check(fmt)
        root, value = build()
    except Open311Error as exc:
        return errors(fmt if fmt in FORMATS else "json", exc.status, exc.descriptions)
    return render(fmt, root, value)


def _public_services():
    stmt = select(ServiceType).where(ServiceType.public.is_(True), ServiceType.active.is_(True)).order_by(ServiceType.code)
    return list(db.session.scalars(stmt))


def _parse_date(name: str) -> datetime | None:
    raw = _param(name)
    if not raw:
        return None
    try:
        value = datetime.fromisoformat(raw.replace(" ", "+") if "T" in raw else raw)
    except ValueError:
        raise Open311Error(400, gettext("%(field)s: not a valid ISO 8601 datetime", field=name)) from None
    if value.tzinfo is not None:
        value = value.astimezone(timezone.utc).replace(tzinfo=None)
    return value


# ------------------------------------------------------------------ discovery and services

@open311.route("/discovery.<fmt>")
def discovery(fmt: str):
    def build():
        city = _city()
        return "discovery", {
            "changeset": CHANGESET,
            "contact": gettext("%(city)s, through its resident portal", city=city["name"]),
            "key_service": gettext("API keys are issued by the city on request."),
            "endpoints": [
                {
                    "specification": SPECIFICATION,
                    "url": url_for("open311.discovery", fmt="xml", _external=True).rsplit("/", 1)[0],
                    "changeset": CHANGESET,
                    "type": "production",
                    "formats": ["text/xml", "application/json"],
                }
            ],
        }

    return _answer(fmt, build)


@open311.route("/services.<fmt>")
def services(fmt: str):
    def build():
        locale = answer_locale()
        return "services", [
            {
                "service_code": s.code,
                "service_name": localized(s, "name", locale),
                "description": localized(s, "description", locale) or "",
                "metadata": bool(s.attributes),
                "type": s.type,
                "keywords": ",".join(localized_keywords(s, locale)),
                "group": localized(s, "group", locale) or "",
            }
            for s in _public_services()
        ]

    return _answer(fmt, build)


@open311.route("/services/<code>.<fmt>")
def service_definition(code: str, fmt: str):
    def build():
        locale = answer_locale()
        service = db.session.scalar(
            select(ServiceType).where(ServiceType.code == code[:64], ServiceType.public.is_(True), ServiceType.active.is_(True))
        )
        if service is None:
            raise Open311Error(404, gettext("service_code: unknown service '%(code)s'", code=code[:64]))
        attributes = []
        defns = sorted(enumerate(service.attributes or []), key=lambda pair: (pair[1].get("order") or 0, pair[0]))
        for order, (_index, defn) in enumerate(defns, start=1):
            local = localized_attribute(defn, locale)
            attributes.append(
                {
                    "variable": bool(local.get("variable", True)),
                    "code": local["code"],
                    "datatype": local.get("datatype", "string"),
                    "required": bool(local.get("required", False)),
                    "datatype_description": local.get("datatype_description") or "",
                    "order": order,
                    "description": local.get("description") or "",
                    "values": local.get("values") or [],
                }
            )
        return "service_definition", {"service_code": service.code, "attributes": attributes}

    return _answer(fmt, build)


# ------------------------------------------------------------------ requests

def _search_statement():
    stmt = select(Case).join(ServiceType, Case.service_type_id == ServiceType.id).where(ServiceType.public.is_(True))
    ids = _list_param("service_request_id")
    if ids:  # overrides every other filter
        return stmt.where(Case.reference.in_([i[:32] for i in ids[:MAX_REQUESTS]]))
    codes = _list_param("service_code")
    if codes:
        stmt = stmt.where(ServiceType.code.in_([c[:64] for c in codes[:MAX_REQUESTS]]))
    statuses = [s.lower() for s in _list_param("status")]
    bad = [s for s in statuses if s not in ("open", "closed")]
    if bad:
        raise Open311Error(400, gettext("status: must be open or closed (comma list), not '%(value)s'", value=bad[0][:40]))
    if statuses and set(statuses) != {"open", "closed"}:
        stmt = stmt.where(Case.status.in_(sorted(OPEN_STATUSES if statuses[0] == "open" else CLOSED_STATUSES)))
    start, end = _parse_date("start_date"), _parse_date("end_date")
    if start and end and start > end:
        raise Open311Error(400, gettext("start_date: must not be after end_date"))
    if start is None and end is None:
        start = utcnow() - timedelta(days=DEFAULT_DAYS)
    elif start is None:
        start = end - timedelta(days=DEFAULT_DAYS)
    stmt = stmt.where(Case.created_at >= start)
    if end is not None:
        stmt = stmt.where(Case.created_at <= end)
    return stmt


def _latest_notes(case_ids: list[int]) -> dict[int, str]:
    """The latest public note (or public status-change note) of each case, in one query."""
    if not case_ids:
        return {}
    stmt = (
        select(CaseEvent.case_id, CaseEvent.body)
        .where(CaseEvent.case_id.in_(case_ids), CaseEvent.public.is_(True), CaseEvent.kind.in_(NOTE_KINDS), CaseEvent.body != "")
        .order_by(CaseEvent.case_id, CaseEvent.created_at, CaseEvent.id)
    )
    return {case_id: body for case_id, body in db.session.execute(stmt)}


def _photo_urls(case_ids: list[int]) -> dict[int, str]:
    """The first public photo of each case, as an absolute link to the portal's photo route."""
    if not case_ids:
        return {}
    stmt = (
        select(Attachment.case_id, Attachment.id)
        .where(Attachment.case_id.in_(case_ids), Attachment.public.is_(True), Attachment.content_type.like("image/%"))
        .order_by(Attachment.case_id, Attachment.created_at.desc(), Attachment.id.desc())
    )
    base = current_app.extensions["civic"].plugin_config["intake"]["public_url"].rstrip("/")
    first: dict[int, str] = {}
    for case_id, attachment_id in db.session.execute(stmt):
        first[case_id] = base + url_for("portal.photo", attachment_id=attachment_id)
    return first


def _requests(cases: list[Case]) -> list[dict]:
    locale = answer_locale()
    ids = [c.id for c in cases]
    notes, photos = _latest_notes(ids), _photo_urls(ids)
    return [
        {
            "service_request_id": case.reference,
            "status": open311_status(case.status),
            "status_notes": notes.get(case.id, ""),
            "service_name": localized(case.service_type, "name", locale),
            "service_code": case.service_type.code,
            "description": "",  # the reporter's own words: never published (see the module docstring)
            "agency_responsible": localized(case.department, "name", locale),
            "service_notice": "",
            "requested_datetime": utc(case.created_at),
            "updated_datetime": utc(case.updated_at),
            "expected_datetime": utc(case.expected_at),
            "address": case.address or "",
            "address_id": case.address_id or "",
            "zipcode": case.zipcode or "",
            "lat": case.lat,
            "long": case.long,
            "media_url": photos.get(case.id, ""),
        }
        for case in cases
    ]


@open311.route("/requests.<fmt>")
def search_requests(fmt: str):
    def build():
        stmt = _search_statement().order_by(Case.created_at.desc(), Case.id.desc()).limit(MAX_REQUESTS)
        return "service_requests", _requests(list(db.session.scalars(stmt).unique()))

    return _answer(fmt, build)


@open311.route("/requests/<request_id>.<fmt>")
def one_request(request_id: str, fmt: str):
    def build():
        stmt = (
            select(Case)
            .join(ServiceType, Case.service_type_id == ServiceType.id)
            .where(Case.reference == request_id[:32], ServiceType.public.is_(True))
        )
        case = db.session.scalars(stmt).unique().first()
        if case is None:
            raise Open311Error(404, gettext("service_request_id: unknown request '%(id)s'", id=request_id[:32]))
        return "service_requests", _requests([case])

    return _answer(fmt, build)
