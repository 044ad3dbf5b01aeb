"""Open311 POST ``requests.{fmt}`` and GET ``tokens/{token}.{fmt}``; ``process_batch`` for batch services.

POST ``requests.{fmt}`` takes ``application/x-www-form-urlencoded`` or ``multipart/form-data`` (a
``media`` file).  In order: unknown format or jurisdiction (form or query ``jurisdiction_id``) 404;
API key missing, unknown or revoked 403 (``keys.py``); over the key's rate 429 with ``Retry-After``;
then every bad field at once, 400, each error naming its field (``attribute[SIZE]: is required``).
An unknown (or non-public, or inactive) ``service_code`` is a 404, as the spec says.

- Location: ``lat`` + ``long``, or ``address_string``, or ``address_id`` (at least one).
- ``attribute[CODE]=v``; for a multivaluelist ``attribute[CODE][]=v`` repeated, or the plain form
  repeated (FixMyStreet sends that).  An empty value is a missing one, so an optional list sent empty
  is fine.  Codes the service does not define are ignored: clients such as FixMyStreet send their
  own extras (``fixmystreet_id``, ``easting``...), and refusing them would refuse every report.
- ``description``: at most 4,000 characters as sent.  HTML is not refused but removed: tags and
  comments are stripped (``<script>``/``<style>`` with their content); text such as ``depth < 2 in``
  is kept.  It is never published (the GET side leaves it empty).
- ``email``, ``first_name`` + ``last_name``, ``phone`` go on the case as its contact (never in a GET
  answer); with an e-mail the reporter follows the case and gets the acknowledgement e-mail, in the
  ``locale`` parameter's language (else Accept-Language, else the city's).  ``device_id`` and
  ``account_id`` are accepted and not kept; the answer's ``account_id`` is empty.
- ``media_url``: http or https, at most 1,000 characters, recorded as a public timeline entry
  (``attachment_added`` with ``data={"media_url": ...}``) and NEVER fetched (no request to
  client-chosen addresses).  ``media``: a photo or PDF through ``store_attachment`` (checked by
  content, EXIF removed), public.
- The whole POST is one transaction: any error and nothing is created (the case, its media, its
  follower).  A database too busy to answer (SQLite locked, no free connection) is a 503 with
  ``Retry-After`` (``core.errors.is_busy``), never a 500.  Success: HTTP 201 with ``service_requests`` = one ``request`` of
  ``service_request_id``, ``service_notice``, ``account_id``.
- Batch services (``ServiceType.type == "batch"``) are validated the same way (the case is built
  and rolled back), then kept as a ``BatchSubmission`` answered with a ``token`` instead of an id
  (never both); the background worker (``civic notify run``, through the ``background_work`` hook) or
  ``civic open311 process-batch`` (cron) turns them into cases; ``tokens/{token}`` then gives the
  ``service_request_id``.  A ``media`` file is refused for them (send ``media_url``).
- A surge (``[intake] open311_queue``, default "busy": while BUSY_WAITING or more connections wait for a
  gunicorn worker; "always"; "off"): a POST without a ``media`` file is checked as ``create_case`` checks it
  (``check_new_case``: everything that needs no database) and kept the same way, with its rate count, in one
  transaction of two INSERTs, and answered with a ``token``.  Making the case (numbering, routing, the
  duplicate check, the timeline, the acknowledgement e-mail) waits for the worker, dated when the request
  came.  A client that cannot use tokens gets ids again once the surge is over, or always with "off".
"""
from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, NamedTuple
from urllib.parse import urlsplit

from flask import current_app, request
from flask_babel import force_locale, gettext
from marshmallow import ValidationError
from sqlalchemy import bindparam, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session
from werkzeug.datastructures import FileStorage
from werkzeug.exceptions import RequestEntityTooLarge

from core import admission
from core.errors import BUSY_RETRY_AFTER, busy_message, is_busy
from core.extensions import csrf, db
from core.formats import format_datetime
from core.i18n_content import default_locale, localized
from core.models import Case, CaseEvent, ServiceType
from core.models.base import utcnow
from core.services.attachments import sniff, store_attachment
from core.services.attributes import validate_attributes
from core.services.cases import MAX_DESCRIPTION, WITHOUT_STAFF, Actor, CaseError, check_new_case, create_case, too_long
from core.validation import translate_errors
from plugins.intake.following import follow
from plugins.intake.models import BatchSubmission
from plugins.intake.open311 import open311
from plugins.intake.open311.formats import FORMATS, errors, render
from plugins.intake.open311.keys import PresentedKey, RateLimited, authorized, count_request, counted
from plugins.intake.open311.views import Open311Error, _answer, _check, _city, _fit, answer_locale
from plugins.intake.ratelimit import commit_keeping

MAX_MEDIA_URL = 1000
MAX_NAME_PART = 100
MAX_ATTRIBUTE_KEYS = 200
TOKEN_BYTES = 24  # 32 characters
BATCH_RUN = 500  # submissions per `process-batch` run
BACKGROUND_RUN = 100  # submissions per round of the background worker (then the outbox gets its turn)
SURGE_TRICKLE = 5  # ...while the servers are still queueing: the surge's reports are taken first
SURGE_QUIET = timedelta(seconds=2)  # no report queued for this long: the surge is over
BUSY_WAITING = 4  # connections waiting for a worker from which [intake] open311_queue = "busy" queues POSTs
CONTACT_FIELDS = ("contact_name", "contact_email", "contact_phone")
# create_case's field names -> the Open311 parameter a client sent.
OPEN311_FIELDS = {
    "address": "address_string", "contact_email": "email", "contact_phone": "phone", "contact_name": "last_name",
    "attributes": "attribute", "file": "media", "body": "description", "department": "service_code",
}
ATTRIBUTE_KEY = re.compile(r"^attribute\[([^\[\]]{1,64})\](\[\])?$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
HIDDEN_HTML = re.compile(r"<(script|style)\b[^>]*>.*?</\1\s*>", re.I | re.S)
HTML_TAG = re.compile(r"<!--.*?-->|<![^<>]*>|</?[A-Za-z][^<>]*>", re.S)


# ---------------------------------------------------------------- small helpers (updates.py uses them too)

def form_value(name: str) -> str:
    """A form field (else the query parameter), stripped: an empty one is the same as a missing one."""
    return (request.form.get(name) or request.args.get(name) or "").strip()


def field_error(name: str, message: str) -> str:
    return gettext("%(field)s: %(message)s", field=name, message=message)


def plain_text(text: str) -> str:
    """``text`` without HTML tags and comments (script and style content dropped too)."""
    return HTML_TAG.sub("", HIDDEN_HTML.sub("", text)).strip()


def check_description(raw: str, problems: list[str], name: str = "description") -> str:
    if len(raw) > MAX_DESCRIPTION:
        problems.append(field_error(name, too_long(raw, MAX_DESCRIPTION)))
        return ""
    return plain_text(raw)


def check_media_url(url: str, problems: list[str]) -> str | None:
    """An http(s) link of at most 1,000 characters, kept as text: never fetched."""
    if not url:
        return None
    if len(url) > MAX_MEDIA_URL:
        problems.append(field_error("media_url", too_long(url, MAX_MEDIA_URL)))
        return None
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc or any(c.isspace() or ord(c) < 32 for c in url):
        problems.append(field_error("media_url", gettext("must be an http or https address")))
        return None
    return url


def case_error_lines(exc_errors: dict[str, Any], skip: set[str] = frozenset()) -> list[str]:
    """CaseError's fields as the Open311 parameters the client sent (``address`` -> ``address_string``)."""
    lines = []
    for name, messages in exc_errors.items():
        if name in skip:
            continue
        for message in flatten(messages):
            lines.append(field_error(OPEN311_FIELDS.get(name, name), message))
    return lines


def flatten(messages: Any) -> list[str]:
    if isinstance(messages, dict):
        return [m for value in messages.values() for m in flatten(value)]
    if isinstance(messages, (list, tuple)):
        return [m for value in messages for m in flatten(value)]
    return [str(messages)]


def post_locale() -> str:
    """The language of the answer and of the reporter's e-mails: ``locale`` (form or query), else Accept-Language."""
    asked = (request.form.get("locale") or "").strip()
    if asked:
        fit = _fit(asked, list(_city()["locales"]))
        if fit:
            return fit
    return answer_locale()


def keyed_answer(fmt: str, build, status: int = 201, count_first: bool = True, beside=None):
    """A POST that needs a key: format, jurisdiction, key and rate checks, then ``build(key, locale)`` ->
    ``(root, value[, status])``; any Open311Error rolls the session back and becomes the error document.

    ``count_first=False``: ``build`` counts the request itself (in its own transaction); when it fails before
    its count is committed, the request is counted here, and over the key's rate the answer is that 429.
    ``beside()``: what to read with the key (``authenticate``), found in ``key.beside``."""
    answer_fmt = fmt if fmt in FORMATS else "json"
    try:
        locale = post_locale()
    except RequestEntityTooLarge:
        locale = default_locale()
    key = None
    with force_locale(locale):
        try:
            try:
                _check(fmt, form_value("jurisdiction_id"))
                key = authorized(count=count_first, beside=beside() if beside else None)
                result = build(key, locale)
            except Open311Error as exc:
                db.session.rollback()
                if key is not None and not counted() and not isinstance(exc, RateLimited):
                    count_request(key)  # a refused request counts too (RateLimited when it is one too many)
                raise
        except RateLimited as exc:
            db.session.rollback()
            response = errors(answer_fmt, 429, exc.descriptions)
            response.headers["Retry-After"] = str(exc.retry_after)
            return response
        except Open311Error as exc:
            return errors(answer_fmt, exc.status, exc.descriptions)
        except SQLAlchemyError as exc:
            if not is_busy(exc):
                raise
            db.session.rollback()  # the database is too busy: nothing was written, the client may try again
            response = errors(answer_fmt, 503, [busy_message()])
            response.headers["Retry-After"] = str(BUSY_RETRY_AFTER)
            return response
        except RequestEntityTooLarge:
            db.session.rollback()
            limit = int(current_app.config.get("MAX_CONTENT_LENGTH") or 0)
            size = f"{limit / (1024 * 1024):.0f} MB" if limit >= 1024 * 1024 else f"{max(1, limit // 1024)} KB"
            return errors(answer_fmt, 413, [field_error("media", gettext("the request is larger than the limit of %(limit)s", limit=size))])
    root, value, *rest = result
    return render(fmt, root, value, status=rest[0] if rest else status)


# ---------------------------------------------------------------- reading a POST

@dataclass
class Submission:
    """A checked POST: the service, create_case's arguments (JSON-ready), and what goes with the case."""

    service: ServiceType | ServiceRow  # read_submission reads a row (ServiceRow), the case needs the whole service
    fields: dict[str, Any]
    email: str | None = None
    media_url: str | None = None
    media: FileStorage | None = None
    problems: list[str] = field(default_factory=list)
    reported: set[str] = field(default_factory=set)  # attribute[...] already in problems


def _raw_attributes() -> dict[str, list[str]]:
    raw: dict[str, list[str]] = {}
    for name in request.form.keys():
        match = ATTRIBUTE_KEY.match(name)
        if match and (match.group(1) in raw or len(raw) < MAX_ATTRIBUTE_KEYS):
            raw.setdefault(match.group(1), []).extend(v.strip() for v in request.form.getlist(name))
    return raw


def read_attributes(service: ServiceType | ServiceRow, problems: list[str], reported: set[str]) -> dict[str, Any]:
    """``attribute[...]`` of the form for ``service``: lists for multivaluelists, bad values reported
    (and named in ``reported``: create_case, which no longer sees them, must not call them missing)."""
    definitions = [d for d in (service.attributes or []) if d.get("variable", True)]
    kinds = {d["code"]: d.get("datatype", "string") for d in definitions}
    values: dict[str, Any] = {}
    for code, given in _raw_attributes().items():
        if code not in kinds:
            continue  # a client's own extra (see the module docstring)
        given = [v for v in given if v]
        if kinds[code] == "multivaluelist":
            values[code] = list(dict.fromkeys(given))
        elif len(given) > 1:
            problems.append(field_error(f"attribute[{code}]", gettext("takes one value, not %(count)d", count=len(given))))
            reported.add(f"attribute[{code}]")
        else:
            values[code] = given[0] if given else ""
    try:
        validate_attributes(definitions, values)
    except ValidationError as exc:
        for code, messages in exc.messages.items():
            if f"attribute[{code}]" in reported:
                continue
            for message in translate_errors(flatten(messages)):
                problems.append(field_error(f"attribute[{code}]", message))
            values.pop(code, None)
            reported.add(f"attribute[{code}]")
    return values


def _media_file(problems: list[str]) -> FileStorage | None:
    media = request.files.get("media")
    if media is None:
        return None
    head = media.stream.read(16)
    media.stream.seek(0)
    if not media.filename and not head:
        return None  # an empty file field: no media
    if not head:
        problems.append(field_error("media", gettext("is empty")))
    elif sniff(head) is None:
        problems.append(field_error("media", gettext(
            "'%(name)s' is not a supported file: send a JPEG, PNG, GIF or WebP photo, or a PDF document", name=(media.filename or "media")[:100]
        )))
    return media


class ServiceRow(NamedTuple):
    """What a POST needs of its service before it knows whether it is queued: read with the key, as a row."""

    id: int | None
    code: str | None
    active: bool | None
    public: bool | None
    type: str | None
    attributes: list | None


_SERVICE_BESIDE_KEY = select(ServiceType.id.label("service_id"), ServiceType.code.label("service_code"),
                             ServiceType.active.label("service_active"), ServiceType.public.label("service_public"),
                             ServiceType.type.label("service_type"), ServiceType.attributes.label("service_attributes"),
                             ).where(ServiceType.code == bindparam("code")).subquery("service")


def service_beside_key():
    """The POST's service, read in the key's statement (keyed_answer's ``beside``)."""
    return _SERVICE_BESIDE_KEY, {"code": form_value("service_code")[:64]}


def read_submission(key: PresentedKey) -> Submission:
    """The POST's parameters checked; Open311Error(404) for an unknown service, problems listed for the rest."""
    problems: list[str] = []
    code = form_value("service_code")
    if not code:
        raise Open311Error(400, field_error("service_code", gettext("is required")))
    found = key.beside
    service = ServiceRow(found.service_id, found.service_code, found.service_active, found.service_public, found.service_type,
                         found.service_attributes) if found is not None and found.service_id is not None else None
    if service is None or not service.active or not service.public:
        raise Open311Error(404, gettext("service_code: unknown service '%(code)s'", code=code[:64]))

    lat, long = form_value("lat"), form_value("long")
    address, address_id = form_value("address_string"), form_value("address_id")
    if not (lat or long or address or address_id):
        problems.append(field_error("lat", gettext("a location is required: send lat and long, address_string or address_id")))
    email = form_value("email").lower()
    if email and (len(email) > 254 or not EMAIL.match(email)):
        problems.append(field_error("email", gettext("is not a valid e-mail address")))
    first, last = form_value("first_name"), form_value("last_name")
    for name, value in (("first_name", first), ("last_name", last)):
        if len(value) > MAX_NAME_PART:
            problems.append(field_error(name, too_long(value, MAX_NAME_PART)))
    description = check_description(form_value("description"), problems)
    media_url = check_media_url(form_value("media_url"), problems)
    media = _media_file(problems)
    if media is not None and service.type == "batch":
        problems.append(field_error("media", gettext("files are not taken for this service (it is processed later): send media_url")))
    reported: set[str] = set()
    attributes = read_attributes(service, problems, reported)
    fields = {
        "service_code": service.code,
        "description": description,
        "channel": "open311",
        "address": address or None,
        "address_id": address_id or None,
        "lat": lat or None,
        "long": long or None,
        "attributes": attributes,
        "contact_name": " ".join(p for p in (first, last) if p) or None,
        "contact_email": email or None,
        "contact_phone": form_value("phone") or None,
    }
    return Submission(service, fields, email or None, media_url, media, problems, reported)


# ---------------------------------------------------------------- making the case


def media_url_event(case: Case, actor: Actor, url: str, at) -> CaseEvent:
    """A media_url as the timeline keeps it (the GET side shows it); the address is never fetched."""
    return CaseEvent(case=case, kind="attachment_added", actor_id=None, actor_label=actor.label, body="", public=True,
                     data={"media_url": url}, created_at=at)


def build_case(session: Session, sub: Submission, actor: Actor, created_at=None) -> Case:
    """create_case (not committed) plus its media_url entry; CaseError and ``sub.problems`` become one 400."""
    try:
        case = create_case(session, **sub.fields, actor=actor, created_at=created_at, commit=False, service_type=sub.service)
    except CaseError as exc:
        session.rollback()
        raise Open311Error(400, *(sub.problems + case_error_lines(exc.errors, sub.reported))) from None
    if sub.problems:
        session.rollback()
        raise Open311Error(400, *sub.problems)
    if sub.media_url:
        session.add(media_url_event(case, actor, sub.media_url, case.created_at))
    return case


def announce(case: Case, email: str | None, locale: str) -> None:
    """After the commit: the reporter follows the case, then ``case_created`` (the acknowledgement e-mail...)."""
    if email:
        follow(case, email, locale=locale, reason="reporter")
    current_app.extensions["civic"].pm.hook.case_created(case=case)


def service_notice(case: Case, locale: str) -> str:
    department = localized(case.department, "name", locale)
    if case.expected_at is None:
        return gettext("%(department)s will handle this request.", department=department)
    return gettext("%(department)s will handle this request; expected by %(date)s.", department=department, date=format_datetime(case.expected_at))


def _create(key: PresentedKey, locale: str):
    sub = read_submission(key)
    actor = Actor(label=f"open311:{key.name}")
    if accept_later(sub):
        token = queue_submission(db.session, sub, key, actor, locale)
        return "service_requests", [{"token": token, "service_notice": token_notice(token), "account_id": None}]
    count_request(key)
    sub.service = db.session.get(ServiceType, sub.service.id, options=WITHOUT_STAFF)  # the case is made now: the whole service
    if sub.service.type == "batch":
        token = queue_batch(db.session, sub, key, actor, locale)
        return "service_requests", [{"token": token, "service_notice": token_notice(token), "account_id": None}]
    case = build_case(db.session, sub, actor)
    if sub.media is not None:
        try:
            store_attachment(db.session, case, sub.media, sub.media.filename, actor, public=True)  # commits it all
        except CaseError as exc:
            db.session.rollback()
            raise Open311Error(400, *case_error_lines(exc.errors)) from None
    else:
        commit_keeping(db.session)
    announce(case, sub.email, locale)
    return "service_requests", [{"service_request_id": case.reference, "service_notice": service_notice(case, locale), "account_id": None}]


def token_notice(token: str) -> str:
    return gettext("Accepted for processing: ask tokens/%(token)s for its service_request_id later.", token=token)


@open311.route("/requests.<fmt>", methods=["POST"])
def post_request(fmt: str):
    return keyed_answer(fmt, _create, count_first=False, beside=service_beside_key)


csrf.exempt(post_request)


# ---------------------------------------------------------------- accepted now, made into a case later

def queue_mode() -> str:
    return str(current_app.extensions["civic"].plugin_config["intake"].get("open311_queue") or "off")


def accept_later(sub: Submission) -> bool:
    """Whether this POST is queued and answered with a token (``[intake] open311_queue``): "always"; "busy" while
    at least BUSY_WAITING connections wait for a worker (core.admission: the server is saturated, a surge).
    Never for a batch service (validated in full, below) nor with a ``media`` file (it is stored with its case)."""
    if sub.media is not None or sub.service.type == "batch":
        return False
    mode = queue_mode()
    return mode == "always" or (mode == "busy" and admission.waiting() >= BUSY_WAITING)


def queue_submission(session: Session, sub: Submission, key: PresentedKey, actor: Actor, locale: str) -> str:
    """Check the request as ``create_case`` will (every check that needs no database), keep it with its count
    in one transaction, return its token.  The background worker (``civic notify run``, ``background_work``)
    makes the case, dated when the request came; ``tokens/{token}`` then gives its ``service_request_id``."""
    try:
        check_new_case(sub.service, **sub.fields)
    except CaseError as exc:
        raise Open311Error(400, *(sub.problems + case_error_lines(exc.errors, sub.reported))) from None
    if sub.problems:
        raise Open311Error(400, *sub.problems)
    token = secrets.token_urlsafe(TOKEN_BYTES)
    payload = {"fields": sub.fields, "email": sub.email, "media_url": sub.media_url, "locale": locale, "actor": actor.label}
    row = {"token": token, "api_key_id": key.id, "payload": payload, "created_at": utcnow(), "error": ""}
    # Kept with its count (one statement on PostgreSQL); over the rate: RateLimited, and nothing is kept.
    count_request(key, commit=False, insert_row=(BatchSubmission.__table__, row))
    commit_keeping(session)
    return token


def queue_batch(session: Session, sub: Submission, key: PresentedKey, actor: Actor, locale: str) -> str:
    """A batch service's POST: validate as for a case (built, then rolled back), keep the submission, return its token."""
    build_case(session, sub, actor)
    session.rollback()
    token = secrets.token_urlsafe(TOKEN_BYTES)
    payload = {"fields": sub.fields, "email": sub.email, "media_url": sub.media_url, "locale": locale, "actor": actor.label}
    session.add(BatchSubmission(token=token, api_key_id=key.id, payload=payload, created_at=utcnow()))
    session.commit()
    return token


def background_batch(session: Session, drain: bool = False) -> bool:
    """One round of the background worker: True when more is waiting and it should go on at once.

    While reports are still being queued (the newest pending one is under SURGE_QUIET old) the servers are
    saturated, and every case made now takes CPU and database time from taking the surge's reports: a round then
    makes only SURGE_TRICKLE cases (the worker pauses between rounds).  Once the queue is quiet it drains at full
    speed, BACKGROUND_RUN at a time (``drain``: at once, whatever the load: ``civic notify run --once``).  A worker on
    a host of its own could go faster; the database is shared."""
    newest = session.scalar(select(BatchSubmission.created_at).where(BatchSubmission.processed_at.is_(None))
                            .order_by(BatchSubmission.id.desc()).limit(1))
    if newest is None:
        return False
    surge = not drain and newest > utcnow() - SURGE_QUIET
    report = process_batch(session, limit=SURGE_TRICKLE if surge else BACKGROUND_RUN)
    return not surge and len(report.created) + len(report.refused) >= BACKGROUND_RUN


@dataclass
class BatchReport:
    created: list[str] = field(default_factory=list)
    refused: list[tuple[int, str]] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = [gettext("Submission %(id)s refused: %(error)s", id=i, error=e) for i, e in self.refused]
        out.append(gettext("Batch submissions: %(created)d cases created, %(refused)d refused.", created=len(self.created), refused=len(self.refused)))
        return out


def _without_contact(payload: dict) -> dict:
    """The payload once processed: the reporter's details now live on the case (or nowhere)."""
    fields = {k: v for k, v in (payload.get("fields") or {}).items() if k not in CONTACT_FIELDS}
    return {**payload, "fields": fields, "email": None}


def _claim(session: Session, submission_id: int, **values) -> bool:
    """Mark a pending submission processed (with ``values``); False when another run got it first."""
    stmt = (update(BatchSubmission).where(BatchSubmission.id == submission_id, BatchSubmission.processed_at.is_(None))
            .values(processed_at=utcnow(), **values).execution_options(synchronize_session=False))
    return session.execute(stmt).rowcount == 1


def process_batch(session: Session, limit: int = BATCH_RUN) -> BatchReport:
    """One case per pending submission, oldest first; safe to run twice at once.

    Each submission is claimed in the transaction that writes its case, as its last statement: the case is
    built first, so the locks are held as briefly as a POST holds them (on SQLite the write lock is the whole
    database's), and a run that finds the submission already claimed rolls its case back.  A submission that no
    longer validates (the service changed meanwhile) keeps its error and is not tried again."""
    report = BatchReport()
    pending = session.scalars(
        select(BatchSubmission.id).where(BatchSubmission.processed_at.is_(None)).order_by(BatchSubmission.id).limit(limit)
    ).all()
    for submission_id in pending:
        submission = session.get(BatchSubmission, submission_id)
        if submission is None or submission.processed_at is not None:
            session.rollback()
            continue
        payload = dict(submission.payload or {})
        fields = dict(payload.get("fields") or {})
        actor = Actor(label=str(payload.get("actor") or "open311"))
        service = session.scalar(select(ServiceType).where(ServiceType.code == fields.get("service_code", "")).options(*WITHOUT_STAFF))
        sub = Submission(service, fields, payload.get("email"), payload.get("media_url"))
        try:
            if service is None or not service.public:
                raise Open311Error(400, gettext("service_code: unknown service '%(code)s'", code=fields.get("service_code", "")))
            case = build_case(session, sub, actor, created_at=submission.created_at)
        except Open311Error as exc:
            session.rollback()
            error = "; ".join(exc.descriptions)
            if _claim(session, submission_id, error=error, payload=_without_contact(payload)):
                session.commit()
                report.refused.append((submission_id, error))
            else:
                session.rollback()
            continue
        session.flush()
        if not _claim(session, submission_id, case_id=case.id, payload=_without_contact(payload)):
            session.rollback()  # another run made its case meanwhile
            continue
        session.commit()
        session.expire(submission)
        announce(case, sub.email, str(payload.get("locale") or default_locale()))
        report.created.append(case.reference)
    return report


@open311.route("/tokens/<token>.<fmt>")
def token_status(token: str, fmt: str):
    """A batch submission's ``service_request_id``: empty until ``process-batch`` made its case, and for
    good when it could not (``process-batch`` prints why; the submission keeps the error)."""

    def build():
        submission = db.session.scalar(select(BatchSubmission).where(BatchSubmission.token == token[:40]))
        if submission is None:
            raise Open311Error(404, gettext("token: unknown token '%(token)s'", token=token[:40]))
        reference = submission.case.reference if submission.case is not None else ""
        return "service_requests", [{"service_request_id": reference, "token": submission.token}]

    return _answer(fmt, build)
