"""City notices: the staff screen (menu Residents > Notices) and "Send to subscribers".

A notice has a title and a body in the city's default language and, optionally, in French (kept in
``Notice.translations``), a topic from ``TOPICS``, an optional zone (a zone name or a ZIP code),
and publication and expiry times (typed in city time, stored in UTC).

"Send to subscribers" (a confirmation page, then a POST with its CSRF token) queues one e-mail per
subscribed resident: an account with e-mail on (``contact_by_email``) whose
``preferences["topics"]`` holds the notice's topic and, for a zoned notice, whose linked utility
account (``UtilityAccount``, by account number) lies in that zone or ZIP code; each in the resident's
language.  Each sending is recorded (``NoticeSend``: who, when, how many).  The confirmation page
carries how many sendings it saw; a POST that finds another one since (a double click, a colleague)
sends nothing.

Dispatchers and admins manage and send notices; department staff read them.
"""
from __future__ import annotations

from datetime import datetime, timezone

from flask import abort, current_app, flash, redirect, request, url_for
from flask_appbuilder import expose
from flask_appbuilder.fieldwidgets import BS3TextAreaFieldWidget, BS3TextFieldWidget, DateTimePickerWidget, Select2Widget
from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_appbuilder.security.decorators import has_access
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import func, or_, select, update
from werkzeug.routing import BuildError
from wtforms import DateTimeField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional
from wtforms.validators import ValidationError as FieldError

from core.extensions import db
from core.formats import city_timezone, format_datetime, format_number, to_city_time
from core.i18n_content import default_locale, pick
from core.models import Account, User
from core.models.base import utcnow
from core.notify import enqueue
from core.records import RoleSpec, ViewSpec
from core.views.base import CivicModelView
from plugins.intake.accounts import TOPICS as RESIDENT_TOPICS
from plugins.intake.links import public_url
from plugins.intake.mail import render_mail
from plugins.intake.models import Notice, NoticeSend, UtilityAccount

# Notices go out on the same topics residents subscribe to.
TOPICS = dict(RESIDENT_TOPICS)
TRANSLATED_LOCALE = "fr"  # the French title and body fields
NOTICE_VIEWS = "NoticeView|Notices|Residents"
DATETIME_FORMATS = ["%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M"]


def topic_label(code: str):
    return TOPICS.get(code, code)


# ---------------------------------------------------------------- who receives a notice

def notice_text(notice: Notice, field: str, locale: str) -> str:
    """The notice's ``title`` or ``body`` in ``locale``, its own text when not translated."""
    per_locale = {loc: (texts or {}).get(field) for loc, texts in (notice.translations or {}).items() if isinstance(texts, dict)}
    return pick(getattr(notice, field), per_locale, locale) or ""


def subscribers(notice: Notice) -> list[Account]:
    """The accounts a sending of ``notice`` reaches: e-mail on, the topic chosen, in the zone; one per address."""
    stmt = select(Account).where(Account.contact_by_email.is_(True), Account.email.is_not(None)).order_by(Account.id)
    zone = (notice.zone or "").strip()
    if zone:
        stmt = stmt.join(UtilityAccount, UtilityAccount.account_number == Account.utility_account_number).where(
            or_(func.lower(UtilityAccount.zone) == zone.lower(), UtilityAccount.zipcode == zone)
        )
    found: dict[str, Account] = {}
    for account in db.session.scalars(stmt):
        topics = (account.preferences or {}).get("topics") or []
        if isinstance(topics, list) and notice.topic in topics:
            found.setdefault(account.email.strip().lower(), account)
    return list(found.values())


def _first_link(*endpoints: str) -> str:
    for endpoint in endpoints:
        try:
            return public_url(endpoint)
        except BuildError:
            continue
    return current_app.extensions["civic"].plugin_config["intake"]["public_url"]


def send_notice(notice: Notice, sender) -> NoticeSend:
    """Queue the notice for its subscribers and record the sending (the caller holds the notice's lock)."""
    preferences_url = _first_link("portal.preferences", "portal.my_city", "portal.home")
    portal_url = _first_link("portal.home")
    offered = current_app.extensions["civic"].config.city["locales"]
    who = subscribers(notice)
    for account in who:
        locale = account.preferred_language if account.preferred_language in offered else default_locale()
        mail = render_mail(
            "notice", locale, notice=notice, title=notice_text(notice, "title", locale), body=notice_text(notice, "body", locale),
            topic=topic_label(notice.topic), preferences_url=preferences_url, portal_url=portal_url,
        )
        enqueue(db.session, recipient=account.email, subject=mail.subject, body_text=mail.text, body_html=mail.html,
                locale=locale, kind="notice", related=f"notice:{notice.id}", unsubscribe_url=preferences_url)
    record = NoticeSend(notice_id=notice.id, sent_by_id=getattr(sender, "id", None), sent_at=utcnow(), recipients=len(who))
    db.session.add(record)
    return record


def sendings(notice_id: int) -> list[tuple[NoticeSend, str]]:
    """The notice's sendings, newest first, each with the username of who sent it."""
    stmt = (
        select(NoticeSend, User.username).outerjoin(User, User.id == NoticeSend.sent_by_id)
        .where(NoticeSend.notice_id == notice_id).order_by(NoticeSend.id.desc())
    )
    return [(row, username or "—") for row, username in db.session.execute(stmt)]


# ---------------------------------------------------------------- the staff screen

def city_to_utc(value: datetime | None) -> datetime | None:
    """A time typed in city time as the database keeps it (naive UTC)."""
    if value is None:
        return None
    return value.replace(tzinfo=city_timezone()).astimezone(timezone.utc).replace(tzinfo=None)


def utc_to_city(value: datetime | None) -> datetime | None:
    return to_city_time(value).replace(tzinfo=None) if value is not None else None


def after_publication(form, field) -> None:
    if field.data and form.published_at.data and field.data <= form.published_at.data:
        raise FieldError(gettext("must be after the publication time"))


class NoticeView(CivicModelView):
    """Residents > Notices: write a notice (and its French), then send it to the subscribers of its topic."""

    datamodel = SQLAInterface(Notice)
    # No delete: a notice that was sent stays with its sendings; end it with an expiry time.
    base_permissions = ["can_list", "can_show", "can_add", "can_edit", "can_send"]
    list_title = _l("Notices")
    show_title = _l("Notice")
    add_title = _l("New notice")
    edit_title = _l("Edit notice")
    list_columns = ["title", "topic", "zone", "published_at", "expires_at"]
    search_columns = ["title", "topic", "zone", "published_at"]
    order_columns = ["title", "topic", "zone", "published_at", "expires_at"]
    show_columns = ["title", "body", "topic", "zone", "published_at", "expires_at"]
    add_columns = edit_columns = ["title", "body", "title_fr", "body_fr", "topic", "zone", "published_at", "expires_at"]
    base_order = ("published_at", "desc")
    show_template = "intake/notice_show.html"
    label_columns = {
        "title": _l("Title"), "body": _l("Text"), "title_fr": _l("Title in French"), "body_fr": _l("Text in French"),
        "topic": _l("Topic"), "zone": _l("Zone"), "published_at": _l("Published on"), "expires_at": _l("Expires"),
    }
    description_columns = {
        "zone": _l("A zone name or a ZIP code; leave empty for the whole city."),
        "published_at": _l("City time; leave empty for now."),
        "expires_at": _l("City time; leave empty for a notice that does not expire."),
        "title_fr": _l("Shown and sent to residents who read French; leave empty to use the title above."),
    }
    formatters_columns = {
        "topic": topic_label, "published_at": format_datetime, "expires_at": format_datetime,
        "zone": lambda v: v or gettext("Whole city"),
    }
    _form_fields = {
        "title": StringField(_l("Title"), validators=[DataRequired(), Length(max=200)], widget=BS3TextFieldWidget()),
        "body": TextAreaField(_l("Text"), validators=[DataRequired(), Length(max=4000)], widget=BS3TextAreaFieldWidget()),
        "title_fr": StringField(_l("Title in French"), validators=[Optional(), Length(max=200)], widget=BS3TextFieldWidget()),
        "body_fr": TextAreaField(_l("Text in French"), validators=[Optional(), Length(max=4000)], widget=BS3TextAreaFieldWidget()),
        "topic": SelectField(_l("Topic"), choices=list(TOPICS.items()), widget=Select2Widget()),
        "zone": StringField(_l("Zone"), validators=[Optional(), Length(max=50)], widget=BS3TextFieldWidget()),
        "published_at": DateTimeField(_l("Published on"), format=DATETIME_FORMATS, validators=[Optional()], widget=DateTimePickerWidget()),
        "expires_at": DateTimeField(_l("Expires"), format=DATETIME_FORMATS, validators=[Optional(), after_publication], widget=DateTimePickerWidget()),
    }
    add_form_extra_fields = edit_form_extra_fields = _form_fields
    extra_args = {"notice_sendings": sendings, "topic_label": topic_label}

    # ---- add and edit: the French fields live in `translations`, times are typed in city time

    def prefill_form(self, form, pk):
        notice = db.session.get(Notice, pk)
        texts = (notice.translations or {}).get(TRANSLATED_LOCALE) or {}
        form.title_fr.data, form.body_fr.data = texts.get("title", ""), texts.get("body", "")
        form.published_at.data, form.expires_at.data = utc_to_city(notice.published_at), utc_to_city(notice.expires_at)

    def _from_form(self, item: Notice) -> None:
        french = {k: v.strip() for k, v in (("title", getattr(item, "title_fr", "") or ""), ("body", getattr(item, "body_fr", "") or "")) if v.strip()}
        translations = {k: v for k, v in (item.translations or {}).items() if k != TRANSLATED_LOCALE}
        if french:
            translations[TRANSLATED_LOCALE] = french
        item.translations = translations
        item.title, item.body = item.title.strip(), item.body.strip()
        item.zone = (item.zone or "").strip() or None
        item.published_at = city_to_utc(item.published_at) or utcnow()
        item.expires_at = city_to_utc(item.expires_at)

    def pre_add(self, item):
        self._from_form(item)
        item.created_by_id = getattr(current_user, "id", None)

    def pre_update(self, item):
        self._from_form(item)

    # ---- send to subscribers

    def _notice_or_404(self, pk) -> Notice:
        if not str(pk).isdigit() or not 0 < int(pk) < 2**31:
            abort(404)
        notice = db.session.get(Notice, int(pk))
        if notice is None:
            abort(404)
        return notice

    @expose("/send/<pk>", methods=["GET", "POST"])
    @has_access
    def send(self, pk):
        """GET: the confirmation page (what goes to whom, the earlier sendings).  POST: send, once."""
        notice = self._notice_or_404(pk)
        if request.method == "POST":  # the CSRF token is checked globally (Flask-WTF)
            return self._send_confirmed(notice)
        return self.render_template(
            "intake/notice_send.html", title=gettext("Send to subscribers"), notice=notice,
            count=len(subscribers(notice)), sends=sendings(notice.id), expired=_expired(notice),
            topic_label=topic_label,
        )

    def _send_confirmed(self, notice: Notice):
        back = redirect(url_for(".show", pk=notice.id))
        seen = request.form.get("sends", "")
        if not seen.isdigit():
            abort(400, description=gettext("The confirmation is missing: open “Send to subscribers” again."))
        if _expired(notice):
            flash(gettext("This notice has expired: it was not sent."), "danger")
            return back
        # Lock the notice (a row lock on PostgreSQL, the write lock on SQLite) before counting its sendings:
        # two clicks, or two colleagues, cannot both see "not sent yet".  The confirmation page said how
        # many sendings it saw; any other number means someone sent it meanwhile.
        db.session.execute(update(Notice).where(Notice.id == notice.id).values(topic=Notice.topic).execution_options(synchronize_session=False))
        done = db.session.scalar(select(func.count(NoticeSend.id)).where(NoticeSend.notice_id == notice.id))
        if done != int(seen):
            db.session.rollback()
            flash(gettext("This notice was sent in the meantime (a second click, or a colleague): it was not sent again."), "warning")
            return back
        record = send_notice(notice, current_user)
        db.session.commit()
        flash(gettext("The notice is on its way. Recipients: %(count)s.", count=format_number(record.recipients)), "success")
        return back


def _expired(notice: Notice) -> bool:
    return notice.expires_at is not None and notice.expires_at <= utcnow()


# ---------------------------------------------------------------- registration (plugin.py)

def view_specs() -> list[ViewSpec]:
    return [ViewSpec("Notices", NoticeView, _l("Notices"), "Residents", _l("Residents"), "fa-bullhorn")]


def role_specs() -> list[RoleSpec]:
    return [
        RoleSpec("Dispatcher", ((NOTICE_VIEWS, ".*"),)),
        RoleSpec("Department staff", ((NOTICE_VIEWS, "can_list|can_show|menu_access"),)),
    ]
