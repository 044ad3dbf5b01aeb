"""Portal routes: reporting (see plugins/intake/portal/__init__.py).

Home (catalog by group, search, notices), the report form of a service, the address list and "Is this
it?" as JSON for the form's script, "me too" and the page after sending.  Everything works without
JavaScript: the script only adds the map, address suggestions, "use my location" and a live
"Is this it?" panel.

The report form may come back before a case is made, with everything kept (photos too, in a
folder outside the web root, for a day at most):

- with field errors;
- for a review: the location was found in a photo's GPS (the form shows it filled in and asks the
  resident to check it), or there are open cases of the same service nearby that the resident has
  not seen yet ("Is this it?", with a "me too" button on each);
- when "Check for reports nearby" was pressed (no script needed).
"""
from __future__ import annotations

import io
import logging
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from flask import abort, current_app, flash, jsonify, redirect, render_template, request, send_from_directory, url_for
from flask_babel import force_locale, gettext
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlalchemy import select
from werkzeug.datastructures import FileStorage
from wtforms import FloatField, HiddenField, MultipleFileField, StringField, TextAreaField
from wtforms.validators import Email, Length, NumberRange, Optional

from core.extensions import db
from core.forms import apply_case_errors, attribute_fields, attribute_values
from core.i18n_content import current_locale, default_locale, localized
from core.models import Case
from core.services.attachments import clean_filename, store_attachment
from core.services.cases import MAX_DESCRIPTION, Actor, CaseError, add_note, create_case
from plugins.intake import reporting
from plugins.intake.following import follow
from plugins.intake.models import Follower
from plugins.intake.portal import portal
from plugins.intake.ratelimit import allow, client_key
from plugins.intake.residents import current_account

log = logging.getLogger(__name__)
PORTAL = Actor(label="portal")  # never the resident's name or login on a timeline


def intake_config() -> dict[str, Any]:
    return current_app.extensions["civic"].plugin_config["intake"]


def _limit(name: str) -> tuple[int, int]:
    config = intake_config()
    return int(config[f"{name}_limit"]), int(config[f"{name}_window"])


def _endpoint(name: str) -> bool:
    return name in current_app.view_functions


# ---------------------------------------------------------------- home and search

@portal.route("/")
def home():
    session = db.session
    return render_template(
        "portal/home.html",
        groups=reporting.catalog_by_group(session),
        notices=reporting.current_notices(session),
        notice_text=reporting.notice_text,
        localized=localized,
    )


@portal.route("/search")
def search():
    query = (request.args.get("q") or "").strip()[:200]
    results = reporting.search_services(db.session, query) if query else []
    return render_template("portal/search.html", query=query, results=results, localized=localized)


# ---------------------------------------------------------------- the report form

class ReportForm(FlaskForm):
    """What every report asks besides the service's own questions (added per service by ``report_form``)."""

    description = TextAreaField(
        _l("Describe the problem"),
        description=_l("What you see, and anything that helps the crew find it. At most 4,000 characters."),
        validators=[Length(max=MAX_DESCRIPTION)],
    )
    address = StringField(
        _l("Address or place"),
        description=_l("A street address, an intersection or a landmark, e.g. 12 Palm Harbor Pkwy."),
        validators=[Optional(), Length(max=300)],
    )
    lat = FloatField(_l("Latitude"), description=_l("e.g. 29.5845"), validators=[Optional(), NumberRange(-90, 90)])
    long = FloatField(_l("Longitude"), description=_l("e.g. -81.2079"), validators=[Optional(), NumberRange(-180, 180)])
    photos = MultipleFileField(
        _l("Photos"),
        description=_l("Up to 6 photos (JPEG, PNG, GIF or WebP, 10 MB each). Their location data is removed before they are stored."),
    )
    contact_name = StringField(_l("Your name"), validators=[Optional(), Length(max=200)])
    contact_email = StringField(
        _l("Your e-mail address"),
        description=_l("To receive the case number and its updates. We never show it to anyone."),
        validators=[Optional(), Email(), Length(max=254)],
    )
    contact_phone = StringField(_l("Your phone number"), validators=[Optional(), Length(max=40)])
    # The honeypot: hidden from people (CSS and aria-hidden), filled in by form-filling robots.
    website = StringField(_l("Leave this field empty"))
    nearby_seen = HiddenField()

    attribute_names: tuple[str, ...] = ()


def report_form(service, **kwargs) -> ReportForm:
    """The report form of ``service``: its attribute fields first, labels in the reader's language."""
    fields = attribute_fields(service.attributes or [])
    cls = type("ServiceReportForm", (ReportForm,), {**fields, "attribute_names": tuple(fields)})
    return cls(**kwargs)


def _set(field, value) -> None:
    """Fill a field the resident left empty, so the page shows the value."""
    field.data = value
    field.raw_data = ["" if value is None else str(value)]


def _service_or_404(code: str):
    service = reporting.public_service(db.session, code)
    if service is None:
        abort(404)
    return service


def _map_settings() -> dict[str, Any] | None:
    """What the map script needs, or None when the map cannot be offered (no Leaflet, no centre)."""
    if _leaflet_dir() is None:
        return None
    center = current_app.extensions["civic"].config.city.get("center")
    config = intake_config()
    if not center and not config.get("tile_url"):
        return None
    return {"center": center or [0, 0], "tile_url": config.get("tile_url") or "", "tile_attribution": config.get("tile_attribution") or ""}


def article_suggestions(service, text: str = "") -> list[dict[str, str]]:
    """Public help articles that may answer the report (the ``suggest_articles`` hook: none when no plugin
    implements it); their links carry ``from=report`` so the help centre can count a deflection."""
    found = current_app.extensions["civic"].pm.flatten(
        "suggest_articles", service_code=service.code, text=(text or "")[:200], tags=[], locale=current_locale(), audience="public"
    )
    rows = []
    for item in found:
        if getattr(item, "internal", False) or not item.url:
            continue  # never an internal article on a public page
        parts = urlsplit(item.url)
        query = urlencode([*parse_qsl(parts.query), ("from", "report"), ("service", service.code)])
        rows.append({"title": item.title, "url": urlunsplit(parts._replace(query=query)), "summary": item.summary})
    return rows[:5]


def _render_form(service, form: ReportForm, *, status: int = 200, photos=(), photo_problems=(), nearby=(), notes=(), limited=False):
    errors = [(f, e) for f in form if f.errors for e in f.errors if f.name not in ("csrf_token", "website")]
    csrf_errors = form.csrf_token.errors if hasattr(form, "csrf_token") else []
    return render_template(
        "portal/report.html",
        service=service,
        form=form,
        attribute_fields=[form[n] for n in form.attribute_names],
        errors=errors,
        csrf_errors=csrf_errors,
        photos=list(photos),
        photo_problems=list(photo_problems),
        nearby=[reporting.public_case_summary(c) for c in nearby],
        notes=list(notes),
        limited=limited,
        map_settings=_map_settings(),
        max_description=MAX_DESCRIPTION,
        max_photos=reporting.MAX_PHOTOS,
        suggestions=article_suggestions(service, form.description.data or ""),
        localized=localized,
    ), status


@portal.route("/report/<service_code>", methods=["GET", "POST"])
def report(service_code: str):
    service = _service_or_404(service_code)
    if request.method == "POST":
        return _send_report(service)
    account = current_account()
    defaults = {}
    if account is not None:
        defaults = {"contact_name": account.name, "contact_email": account.email or "", "contact_phone": account.phone or ""}
    form = report_form(service, formdata=None, data=defaults)
    # A link may carry a point or an address (e.g. from a map elsewhere); nothing else is taken from the URL.
    for name in ("address", "lat", "long"):
        value = request.args.get(name, "").strip()
        if value:
            try:
                _set(form[name], value if name == "address" else float(value))
            except ValueError:
                pass
    return _render_form(service, form)


def _photos_from_request(problems: list[str]) -> list[reporting.Photo]:
    """Photos kept from an earlier sending (less those the resident removed), then the new ones."""
    limit = int(current_app.config["CIVIC_UPLOAD_MAX_BYTES"])
    removed = set(request.form.getlist("remove_photo"))
    photos: list[reporting.Photo] = []
    for token in request.form.getlist("photo_token"):
        if token in removed:
            reporting.forget_photo(token)
            continue
        photo = reporting.kept_photo(token)
        if photo is not None:
            photos.append(photo)
    for storage in request.files.getlist("photos"):
        if not storage or not storage.filename:
            continue
        name = clean_filename(storage.filename)
        data = reporting.read_upload(storage, limit)
        if data is None:
            problems.append(gettext("%(name)s is larger than %(limit)s MB: it was not added.", name=name, limit=limit // (1024 * 1024)))
        elif not data:
            problems.append(gettext("%(name)s is empty: it was not added.", name=name))
        elif not reporting.is_photo(data):
            problems.append(gettext("%(name)s is not a JPEG, PNG, GIF or WebP photo: it was not added.", name=name))
        else:
            photos.append(reporting.Photo(data, name, storage.mimetype or ""))
    if len(photos) > reporting.MAX_PHOTOS:
        for photo in photos[reporting.MAX_PHOTOS:]:
            problems.append(gettext("%(name)s was not added: a report takes at most %(count)d photos.", name=photo.name, count=reporting.MAX_PHOTOS))
            if photo.token:
                reporting.forget_photo(photo.token)
        photos = photos[: reporting.MAX_PHOTOS]
    return photos


def _keep(photos: list[reporting.Photo], problems: list[str]) -> list[reporting.Photo]:
    """Keep the new photos until the form comes back; those that cannot be kept are named."""
    kept = []
    for photo in photos:
        if photo.token or reporting.keep_photo(photo):
            kept.append(photo)
        else:
            problems.append(gettext("%(name)s could not be kept: please add it again.", name=photo.name))
    return kept


def _has_location(form: ReportForm) -> bool:
    return bool((form.address.data or "").strip()) or (form.lat.data is not None and form.long.data is not None)


def _locate(form: ReportForm) -> dict[str, Any]:
    """Complete the location from the address list: a typed address that names one known address gets its point."""
    extra: dict[str, Any] = {}
    typed = (form.address.data or "").strip()
    if typed and not form.lat.errors and not form.long.errors:
        known = reporting.match_address(db.session, typed)
        if known is not None:
            if form.lat.data is None and form.long.data is None and known.lat is not None:
                _set(form.lat, known.lat)
                _set(form.long, known.long)
            if form.lat.data is not None and known.lat is not None and reporting.distance_m(form.lat.data, form.long.data, known.lat, known.long) < 100:
                extra = {"zipcode": known.zipcode, "zone": known.zone}
                _set(form.address, known.address)
    return extra


def _send_report(service):
    form = report_form(service)
    if (form.website.data or "").strip():
        # A robot filled the hidden field: it is told "thank you", nothing is made.
        log.info("report form honeypot filled on %s: nothing created", service.code)
        return render_template("portal/submitted.html", case=None, service=service, localized=localized)
    limit, window = _limit("report")
    if not allow("report", client_key(), limit, window):
        message = gettext(
            "You have sent this form many times in a short while. To protect the service, please wait "
            "a while before sending it again: what you typed is still here (add your photos again)."
        )
        return _render_form(service, form, status=429, notes=[message], limited=True)

    photo_problems: list[str] = []
    photos = _photos_from_request(photo_problems)
    checking = request.form.get("action") == "check"
    valid = form.validate() if not checking else True
    extra = _locate(form)
    notes: list[str] = []

    if not _has_location(form) and not form.lat.errors and not form.long.errors:
        point = next((p for p in map(reporting.photo_gps, (ph.data for ph in photos)) if p), None)
        if point is not None:
            _set(form.lat, point[0])
            _set(form.long, point[1])
            near = reporting.nearest_address(db.session, *point)
            if near is not None:
                _set(form.address, near.address)
            notes.append(gettext(
                "Your photo records where it was taken: we filled in that location. Check it (move the "
                "pin or change the address if it is not right), then send your report."
            ))

    nearby = []
    if form.lat.data is not None and form.long.data is not None and not form.lat.errors and not form.long.errors:
        radius = float(intake_config()["nearby_radius"])
        nearby = reporting.nearby_open_cases(db.session, service, form.lat.data, form.long.data, radius)
    seen = {r for r in (form.nearby_seen.data or "").split(",") if r}
    unseen = [c for c in nearby if c.reference not in seen]
    if nearby:
        _set(form.nearby_seen, ",".join(sorted(seen | {c.reference for c in nearby})))
    if unseen or (checking and nearby):
        notes.append(gettext(
            "Is this it? Open reports of the same problem were made near this place. If one of them is "
            "yours too, press \u201cMe too\u201d on it instead of sending a new report."
        ))
    elif checking:
        notes.append(
            gettext("No open report of this problem near this place: please send yours.") if _has_location(form) and form.lat.data is not None
            else gettext("Give an address from the list, a point on the map or the latitude and longitude first.")
        )

    if checking or not valid or notes:
        photos = _keep(photos, photo_problems)
        return _render_form(service, form, status=400 if not valid else 200, photos=photos, photo_problems=photo_problems, nearby=nearby, notes=notes)

    account = current_account()
    try:
        case = create_case(
            db.session,
            service_code=service.code,
            description=form.description.data or "",
            channel="web",
            address=(form.address.data or "").strip() or None,
            zipcode=extra.get("zipcode"),
            zone=extra.get("zone"),
            lat=form.lat.data,
            long=form.long.data,
            attributes=attribute_values(form, service.attributes or []),
            account=account,
            contact_name=(form.contact_name.data or "").strip() or None,
            contact_email=(form.contact_email.data or "").strip() or None,
            contact_phone=(form.contact_phone.data or "").strip() or None,
            actor=PORTAL,
        )
    except CaseError as exc:
        db.session.rollback()
        for message in apply_case_errors(form, exc.errors):
            notes.append(message)
        photos = _keep(photos, photo_problems)
        return _render_form(service, form, status=400, photos=photos, photo_problems=photo_problems, nearby=nearby, notes=notes)

    email = case.contact_email
    if email:
        follow(case, email, account=account, locale=str(current_locale()), reason="reporter")
    for photo in photos:
        storage = FileStorage(stream=io.BytesIO(photo.data), filename=photo.name, content_type=photo.content_type or None)
        try:
            store_attachment(db.session, case, storage, photo.name, PORTAL, public=True)
        except CaseError as exc:
            problem = " ".join(str(m) for m in exc.errors.get("file", []))
            photo_problems.append(gettext("%(name)s was not added: %(problem)s", name=photo.name, problem=problem))
        finally:
            if photo.token:
                reporting.forget_photo(photo.token)
    for problem in photo_problems:
        flash(problem, "warning")
    return redirect(url_for("portal.submitted", reference=case.reference))


# ---------------------------------------------------------------- after sending

def _public_case_or_404(reference: str) -> Case:
    case = db.session.scalar(select(Case).where(Case.reference == reference))
    if case is None or not case.service_type.public:
        abort(404)
    return case


@portal.route("/cases/<reference>/submitted")
def submitted(reference: str):
    case = _public_case_or_404(reference)
    return render_template(
        "portal/submitted.html",
        case=case,
        service=case.service_type,
        case_url=url_for("portal.case", reference=case.reference) if _endpoint("portal.case") else None,
        localized=localized,
    )


class MeTooForm(FlaskForm):
    """What "me too" reads of the report form it is sent from (the contact e-mail), or of its own page."""

    contact_email = StringField(_l("Your e-mail address"), validators=[Optional(), Email(), Length(max=254)])


def me_too_note() -> str:
    """The timeline note of a "me too": in the city's language, about no one in particular."""
    with force_locale(default_locale()):
        return gettext("Another resident reported this too (web)")


@portal.route("/cases/<reference>/me-too", methods=["POST"])
def me_too(reference: str):
    case = _public_case_or_404(reference)
    if not case.is_open:
        abort(404)
    form = MeTooForm()
    back = request.referrer if (request.referrer or "").startswith(request.host_url) else url_for("portal.home")
    if not form.validate():
        message = gettext("That e-mail address does not look right: go back, correct it and press \u201cMe too\u201d again.")
        return render_template("portal/report_message.html", title=gettext("Me too"), message=message, back=back), 400
    limit, window = _limit("report")
    if not allow("me_too", client_key(), limit, window):
        message = gettext("You have sent many reports in a short while. To protect the service, please wait a while and try again.")
        return render_template("portal/report_message.html", title=gettext("Me too"), message=message, back=back), 429
    account = current_account()
    email = (form.contact_email.data or "").strip().lower() or (account.email if account else "") or ""
    already = bool(email) and db.session.scalar(select(Follower.id).where(Follower.case_id == case.id, Follower.email == email)) is not None
    if email:
        follow(case, email, account=account, locale=str(current_locale()), reason="me_too")
    if not already:
        add_note(db.session, case, me_too_note(), PORTAL, public=False)
    if email:
        flash(gettext("Thank you: we added your voice to case %(reference)s and will e-mail you its updates.", reference=case.reference), "success")
    else:
        flash(gettext("Thank you: we added your voice to case %(reference)s. Follow it to receive its updates by e-mail.", reference=case.reference), "success")
    if _endpoint("portal.case"):
        return redirect(url_for("portal.case", reference=case.reference))
    return redirect(url_for("portal.submitted", reference=case.reference))


# ---------------------------------------------------------------- JSON for the form's script

@portal.route("/addresses")
def addresses():
    """Up to 10 addresses of the city's list matching ``q``: the address and its point, nothing else."""
    query = (request.args.get("q") or "").strip()[:200]
    if len(reporting.address_key(query)) < 2:
        return jsonify([])
    limit, window = _limit("lookup")
    if not allow("lookup", client_key(), limit, window):
        return jsonify(message=gettext("Too many look-ups: wait a few minutes.")), 429
    return jsonify(reporting.suggest_addresses(db.session, query, limit=10))


def _float_arg(name: str, bound: float) -> float:
    try:
        value = float(request.args.get(name, ""))
    except ValueError:
        abort(400, gettext("%(name)s must be a number", name=name))
    if not -bound <= value <= bound:
        abort(400, gettext("%(name)s must be a number", name=name))
    return value


@portal.route("/nearby")
def nearby():
    """Open cases of ``service`` near ``lat``/``long`` ("Is this it?"): public data only."""
    service = reporting.public_service(db.session, request.args.get("service", ""))
    if service is None:
        return jsonify(message=gettext("Unknown service.")), 404
    if not request.args.get("lat") and not request.args.get("long"):
        return jsonify(cases=[])
    lat, long = _float_arg("lat", 90), _float_arg("long", 180)
    limit, window = _limit("lookup")
    if not allow("lookup", client_key(), limit, window):
        return jsonify(message=gettext("Too many look-ups: wait a few minutes.")), 429
    from core.formats import format_date

    cases = reporting.nearby_open_cases(db.session, service, lat, long, float(intake_config()["nearby_radius"]))
    rows = []
    for case in cases:
        row = reporting.public_case_summary(case)
        row["created"] = format_date(case.created_at)
        row["me_too_url"] = url_for("portal.me_too", reference=case.reference)
        if _endpoint("portal.case"):
            row["url"] = url_for("portal.case", reference=case.reference)
        rows.append(row)
    return jsonify(cases=rows)


@portal.route("/report/<service_code>/suggestions")
def report_suggestions(service_code: str):
    """Help articles for the report form as the resident types (``text``): public articles only."""
    service = reporting.public_service(db.session, service_code)
    if service is None:
        return jsonify(message=gettext("Unknown service.")), 404
    limit, window = _limit("lookup")
    if not allow("lookup", client_key(), limit, window):
        return jsonify(message=gettext("Too many look-ups: wait a few minutes.")), 429
    return jsonify(suggestions=article_suggestions(service, (request.args.get("text") or "").strip()))


# ---------------------------------------------------------------- the map library, from its Python package

def _leaflet_dir() -> str | None:
    try:
        from xstatic.pkg import leaflet
    except ImportError:
        return None
    return leaflet.BASE_DIR


@portal.route("/leaflet/<path:filename>")
def leaflet(filename: str):
    """Leaflet's files from the XStatic-Leaflet package: the map works without the internet."""
    folder = _leaflet_dir()
    if folder is None:
        abort(404)
    return send_from_directory(folder, filename, max_age=7 * 24 * 3600)
