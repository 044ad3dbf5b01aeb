"""Open311 GeoReport v2, GET methods.

- ``discovery.{fmt}``, ``services.{fmt}``, ``services/<code>.{fmt}``, ``requests.{fmt}``,
  ``requests/<id>.{fmt}``; ``fmt`` is ``xml`` or ``json``, anything else a 404.
- Texts are in the ``locale`` parameter's language, else the Accept-Language one among
  ``city.locales``, else the city's default.
- Requests never carry personal data (see ``answers.py``); the search and its extensions are in
  ``search.py``; ``extensions=true`` adds Chicago's ``extended_attributes`` and ``notes``.
- Discovery lists the extensions without a foreign tag: after the GeoReport v2 endpoint comes one
  more ``endpoint`` per extension, with the same url, type and formats and a ``specification``
  naming the extension (``http://wiki.open311.org/GeoReport_v2/Extensions#<name>``: the wiki
  page where extensions used in the wild are recorded).  A client that picks the GeoReport v2
  endpoint finds it first and unchanged.  The names are in ``EXTENSIONS`` and docs/open311.md.
"""
from __future__ import annotations

from urllib.parse import urlencode

from flask import request, url_for
from flask_babel import gettext
from sqlalchemy import select

from core.extensions import db
from core.i18n_content import localized, localized_attribute, localized_keywords
from core.models import Case, ServiceType
from plugins.intake.open311 import open311
from plugins.intake.open311.answers import ANSWER_LOAD, NOTE_KINDS, _latest_notes, _requests  # noqa: F401  (imported from here by other modules)
from plugins.intake.open311.formats import FORMATS, errors, render, utc  # noqa: F401
from plugins.intake.open311.params import (  # noqa: F401
    Open311Error,
    _answer,
    _check,
    _city,
    _fit,
    _flag_param,
    _list_param,
    _param,
    _parse_date,
    answer_locale,
)
from plugins.intake.open311.search import DEFAULT_DAYS, MAX_REQUESTS, ordered, public_cases, search  # noqa: F401

SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
EXTENSIONS_PAGE = "http://wiki.open311.org/GeoReport_v2/Extensions"
# The extensions this server speaks, as discovery names them (EXTENSIONS_PAGE + "#" + name).
EXTENSIONS = (
    "pagination",  # page, page_size on GET requests
    "extended-attributes",  # extensions=true: extended_attributes
    "update-history",  # extensions=true: notes[]
    "updated-datetime-search",  # updated_after, updated_before
    "location-search",  # lat, long, radius; bbox
    "media-handling",  # POST requests: multipart media, media_url
    "service-request-updates",  # FixMyStreet's servicerequestupdates.{fmt}
)
CHANGESET = "2026-11-28T00:00:00Z"  # when this API's shape last changed


def _public_services():
    stmt = select(ServiceType).where(ServiceType.public.is_(True), ServiceType.active.is_(True)).order_by(ServiceType.code)
    return list(db.session.scalars(stmt))


# ------------------------------------------------------------------ discovery and services

def _endpoint(specification: str) -> dict:
    return {
        "specification": specification,
        "url": url_for("open311.discovery", fmt="xml", _external=True).rsplit("/", 1)[0],
        "changeset": CHANGESET,
        "type": "production",
        "formats": ["text/xml", "application/json"],
    }


@open311.route("/discovery.<fmt>")
def discovery(fmt: str):
    def build():
        city = _city()
        return "discovery", {
            "changeset": CHANGESET,
            "contact": gettext("%(city)s, through its resident portal", city=city["name"]),
            "key_service": gettext("API keys are issued by the city on request."),
            "endpoints": [_endpoint(SPECIFICATION)] + [_endpoint(f"{EXTENSIONS_PAGE}#{name}") for name in EXTENSIONS],
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

def _next_page_link(page: int, page_size: int) -> dict:
    """``Link: <same search, next page>; rel="next"``."""
    args = request.args.copy()
    args["page"], args["page_size"] = str(page + 1), str(page_size)
    return {"Link": f'<{request.base_url}?{urlencode(list(args.items(multi=True)))}>; rel="next"'}


@open311.route("/requests.<fmt>")
def search_requests(fmt: str):
    def build():
        problems: list[str] = []
        try:
            found = search()
        except Open311Error as exc:
            problems.extend(exc.descriptions)
        try:
            extensions = _flag_param("extensions")
        except Open311Error as exc:
            problems.extend(exc.descriptions)
        if problems:
            raise Open311Error(400, *problems)
        stmt = ordered(found.statement).options(*ANSWER_LOAD).offset(found.offset).limit(found.limit + 1)
        cases = list(db.session.scalars(stmt).unique())
        headers = {}
        if len(cases) > found.limit:
            cases = cases[: found.limit]
            if found.page is not None:
                headers = _next_page_link(found.page, found.page_size)
        return "service_requests", _requests(cases, extensions), headers

    return _answer(fmt, build)


@open311.route("/requests/<request_id>.<fmt>")
def one_request(request_id: str, fmt: str):
    def build():
        extensions = _flag_param("extensions")
        case = db.session.scalars(public_cases().options(*ANSWER_LOAD).where(Case.reference == request_id[:32])).unique().first()
        if case is None:
            raise Open311Error(404, gettext("service_request_id: unknown request '%(id)s'", id=request_id[:32]))
        return "service_requests", _requests([case], extensions)

    return _answer(fmt, build)
