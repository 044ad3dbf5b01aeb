"""Portal routes: following (see plugins/intake/portal/__init__.py).

- ``portal.case``: the public page of a case, by its number. It shows what the city says about the
  case (service, status in plain words, public notes and photos, dates, timeline) and never who
  reported it: no contact details, account, staff names or internal notes.
- ``portal.photo``: a public photo of a case (or its thumbnail); any other attachment is a 404.
- ``portal.follow`` / ``portal.unfollow``: e-mail updates on or off; the answer to a follow never
  says whether the address already followed the case.
- ``portal.satisfaction``: "Was this resolved?" from the closure e-mail.
"""
from __future__ import annotations

import re

from flask import abort, current_app, flash, redirect, render_template, request, send_file, url_for
from flask_babel import get_locale, gettext
from sqlalchemy import select
from sqlalchemy.orm import defaultload, lazyload

from core.extensions import db
from core.i18n_content import localized
from core.models import CLOSED_STATUSES, Attachment, Case, CaseEvent, Department, ServiceType
from core.services.attachments import DOWNLOAD_CSP, open_stored
from plugins.intake import ratelimit
from plugins.intake.following import (
    follow,
    follower_by_key,
    read_unfollow_token,
    status_in_plain_words,
    unfollow_by_key,
    unfollow_token,
)
from plugins.intake.models import Follower
from plugins.intake.portal import portal
from plugins.intake.residents import current_account
from plugins.intake.satisfaction import MAX_COMMENT, RATINGS, answer_of, read_survey_token, record_answer

FOLLOW_LIMIT, FOLLOW_WINDOW = 20, 3600  # follows per client and hour
SURVEY_LIMIT, SURVEY_WINDOW = 30, 3600  # survey answers per client and hour
MAX_EMAIL = 254
EMAIL = re.compile(r"^[^@\s<>\"']+@[^@\s<>\"']+\.[^@\s<>\"'.]+$")
TIMELINE_KINDS = ("created", "status_changed", "public_note", "resident_note", "attachment_added")


# ------------------------------------------------------------------ look-ups

def public_case(reference: str) -> Case | None:
    """The case with this number, when the public may see it (its service is in the public catalog)."""
    # One statement: tags (never shown) and the departments' staff (eager by default) are not loaded.
    quiet = (lazyload(Case.tags), defaultload(Case.department).lazyload(Department.staff),
             defaultload(Case.service_type).defaultload(ServiceType.department).lazyload(Department.staff))
    case = db.session.scalar(select(Case).where(Case.reference == reference[:32]).options(*quiet))
    if case is None or not case.service_type.public:
        return None
    return case


def public_photos(case: Case) -> list[Attachment]:
    stmt = select(Attachment).where(Attachment.case_id == case.id, Attachment.public.is_(True), Attachment.content_type.like("image/%"))
    return list(db.session.scalars(stmt.order_by(Attachment.created_at, Attachment.id)))


def public_timeline(case: Case, photo_ids: set[int]) -> list[dict]:
    """The public entries of the case's timeline, in resident words (never the staff member's name)."""
    stmt = (
        select(CaseEvent)
        .where(CaseEvent.case_id == case.id, CaseEvent.public.is_(True), CaseEvent.kind.in_(TIMELINE_KINDS))
        .order_by(CaseEvent.created_at, CaseEvent.id)
    )
    entries = []
    for event in db.session.scalars(stmt):
        if event.kind == "created":
            entries.append({"at": event.created_at, "title": gettext("Report received"), "body": ""})
        elif event.kind == "status_changed":
            title, _ = status_in_plain_words((event.data or {}).get("new", ""))
            entries.append({"at": event.created_at, "title": gettext("Status: %(status)s", status=title), "body": event.body})
        elif event.kind == "public_note":
            entries.append({"at": event.created_at, "title": gettext("Update from the city"), "body": event.body})
        elif event.kind == "resident_note":
            entries.append({"at": event.created_at, "title": gettext("Update from a resident"), "body": event.body})
        elif (event.data or {}).get("attachment_id") in photo_ids:  # a photo that is still public
            entries.append({"at": event.created_at, "title": gettext("Photo added"), "body": ""})
    return entries


def _resident_locale() -> str:
    account = current_account()
    if account is not None and account.preferred_language:
        return account.preferred_language
    return str(get_locale() or "en").split("_")[0]


def _message(title: str, message: str, status: int, link: tuple[str, str] | None = None):
    return render_template("portal/following_message.html", title=title, message=message, link=link), status


def case_not_found():
    return _message(
        gettext("Case not found"),
        gettext("There is no case with this number. Check the number in your confirmation e-mail."),
        404,
        (url_for("portal.home"), gettext("Back to the portal home")) if "portal.home" in current_app.view_functions else None,
    )


def link_not_valid():
    return _message(
        gettext("This link does not work"),
        gettext("The link is not valid or has expired. Links in our e-mails work for a limited time; the newest e-mail about your case has a fresh one."),
        400,
    )


# ------------------------------------------------------------------ the case page

def render_case(case: Case, *, email: str = "", error: str = "", status: int = 200):
    photos = public_photos(case)
    account = current_account()
    following = False
    if account is not None and account.email:
        following = db.session.scalar(select(Follower.id).where(Follower.case_id == case.id, Follower.email == account.email.strip().lower())) is not None
    title, detail = status_in_plain_words(case.status)
    duplicate_of = case.duplicate_of if case.status == "duplicate" and case.duplicate_of and case.duplicate_of.service_type.public else None
    page = render_template(
        "portal/case.html",
        case=case,
        service_name=localized(case.service_type, "name"),
        status_title=title,
        status_detail=detail,
        is_closed=case.status in CLOSED_STATUSES,
        duplicate_of=duplicate_of,
        photos=photos,
        timeline=public_timeline(case, {p.id for p in photos}),
        account=account if account is not None and account.email else None,
        following=following,
        unfollow_link=url_for("portal.unfollow", token=unfollow_token(case, account.email)) if following else None,
        email=email,
        error=error,
    )
    return page, status


@portal.route("/cases/<reference>")
def case(reference: str):
    found = public_case(reference)
    if found is None:
        return case_not_found()
    return render_case(found)


@portal.route("/photos/<int:attachment_id>", defaults={"thumbnail": False})
@portal.route("/photos/<int:attachment_id>/thumbnail", defaults={"thumbnail": True})
def photo(attachment_id: int, thumbnail: bool):
    """A public photo of a case the public may see; anything else is a 404, with no hint why."""
    attachment = db.session.get(Attachment, attachment_id)
    if (
        attachment is None
        or not attachment.public
        or not attachment.content_type.startswith("image/")
        or attachment.case is None
        or not attachment.case.service_type.public
        or (thumbnail and not attachment.has_thumbnail)
    ):
        abort(404)
    stored = open_stored(attachment.stored_name, thumbnail=thumbnail)
    if stored is None:
        abort(404)
    response = send_file(stored, mimetype="image/jpeg" if thumbnail else attachment.content_type, conditional=True, max_age=0,
                         etag=f"{'t-' if thumbnail else ''}{attachment.stored_name}")
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = DOWNLOAD_CSP
    response.headers["Cache-Control"] = "no-cache"
    return response


# ------------------------------------------------------------------ follow, unfollow

@portal.route("/cases/<reference>/follow", methods=["POST"], endpoint="follow")
def follow_case(reference: str):
    found = public_case(reference)
    if found is None:
        return case_not_found()
    account = current_account()
    if account is not None and account.email:
        email = account.email
    else:
        account = None
        email = (request.form.get("email") or "").strip()
        if not email:
            return render_case(found, email=email, error=gettext("Enter your e-mail address."), status=400)
        if len(email) > MAX_EMAIL or not EMAIL.match(email):
            return render_case(found, email=email, error=gettext("Enter an e-mail address like name@example.com."), status=400)
    if not ratelimit.allow("follow", ratelimit.client_key(), FOLLOW_LIMIT, FOLLOW_WINDOW):
        return render_case(
            found, email=email if account is None else "",
            error=gettext("Too many follow requests came from your connection. Please try again in an hour."), status=429,
        )
    follow(found, email, account=account, locale=_resident_locale(), reason="follow")
    if account is not None:
        flash(gettext("You now follow this case: its updates will be sent to your account's e-mail address."), "success")
    else:
        # The same words whether or not the address already followed the case.
        flash(gettext("Thank you. Updates about case %(reference)s will be sent to the address you gave. Each e-mail has a link to stop them.", reference=found.reference), "success")
    return redirect(url_for("portal.case", reference=found.reference) + "#follow")


@portal.route("/unfollow/<token>", methods=["GET", "POST"])
def unfollow(token: str):
    data = read_unfollow_token(token)
    if data is None:
        return link_not_valid()
    found = db.session.get(Case, data["case"])
    if found is None:
        return case_not_found()
    if request.method == "POST":
        unfollow_by_key(found.id, data["who"])
        return _message(
            gettext("You no longer follow this case"),
            gettext("You will not receive more e-mails about case %(reference)s.", reference=found.reference),
            200,
            _case_link(found),
        )
    return render_template(
        "portal/following_unfollow.html", case=found, token=token, following=follower_by_key(found.id, data["who"]) is not None
    )


def _case_link(found: Case):
    if not found.service_type.public:
        return None
    return url_for("portal.case", reference=found.reference), gettext("See case %(reference)s", reference=found.reference)


# ------------------------------------------------------------------ "Was this resolved?"

@portal.route("/survey/<token>", methods=["GET", "POST"])
def satisfaction(token: str):
    data = read_survey_token(token)
    if data is None:
        return link_not_valid()
    found = db.session.get(Case, data["case"])
    if found is None:
        return case_not_found()
    previous = answer_of(found.id, data["who"])
    if request.method == "GET":
        values = {"resolved": "", "rating": "", "comment": ""}
        if previous is not None:
            values = {"resolved": "yes" if previous.resolved else "no", "rating": str(previous.rating or ""), "comment": previous.comment}
        return _survey_page(found, token, values, {}, previous, 200)

    values = {
        "resolved": (request.form.get("resolved") or "").strip(),
        "rating": (request.form.get("rating") or "").strip(),
        "comment": (request.form.get("comment") or "").strip(),
    }
    errors = {}
    if values["resolved"] not in ("yes", "no"):
        errors["resolved"] = gettext("Choose yes or no.")
    if values["rating"] and values["rating"] not in {str(n) for n in RATINGS}:
        errors["rating"] = gettext("Choose a rating from 1 to 5.")
    if len(values["comment"]) > MAX_COMMENT:
        errors["comment"] = gettext(
            "Your comment is %(length)s characters long; please keep it under %(limit)s.", length=len(values["comment"]), limit=MAX_COMMENT
        )
    if errors:
        return _survey_page(found, token, values, errors, previous, 400)
    if not ratelimit.allow("survey", ratelimit.client_key(), SURVEY_LIMIT, SURVEY_WINDOW):
        errors["form"] = gettext("Too many answers came from your connection. Please try again in an hour.")
        return _survey_page(found, token, values, errors, previous, 429)
    _, reopened = record_answer(
        found, data["who"], resolved=values["resolved"] == "yes", rating=int(values["rating"]) if values["rating"] else None, comment=values["comment"]
    )
    if reopened:
        message = gettext("We are sorry the problem is not solved. Case %(reference)s has been reopened and city staff will review it.", reference=found.reference)
    else:
        message = gettext("Your answer helps the city improve its services.")
    return _message(gettext("Thank you for your answer"), message, 200, _case_link(found))


def _survey_page(found: Case, token: str, values: dict, errors: dict, previous, status: int):
    return render_template(
        "portal/survey.html",
        case=found,
        service_name=localized(found.service_type, "name"),
        token=token,
        values=values,
        errors=errors,
        previous=previous,
        ratings=[(str(n), label) for n, label in RATINGS.items()],
        max_comment=MAX_COMMENT,
    ), status
