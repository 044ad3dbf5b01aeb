"""The desk's forms.  Each carries the caller (by id) and when the call started, in hidden fields, and
its own CSRF token; the phone-case form gets the chosen service's attribute fields (``core.forms``)."""
from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Email, InputRequired, Length, Optional
from wtforms.validators import ValidationError as FieldError

from core.forms import attribute_fields
from core.models import PRIORITIES
from core.models.base import utcnow
from core.services.cases import MAX_DESCRIPTION
from plugins.intake.phone import reasons

MAX_ID = 2**31 - 1
# A call longer than this is a page left open: its start is taken as "now" instead.
LONGEST_CALL = timedelta(hours=12)
STARTED_FORMAT = "%Y-%m-%dT%H:%M:%S"


def as_id(text: str | None) -> int | None:
    """A row id typed in a URL or a hidden field (ASCII digits, in range), else None."""
    value = (text or "").strip()
    if re.fullmatch(r"[0-9]{1,10}", value) and 0 < int(value) <= MAX_ID:
        return int(value)
    return None


def _id_or_nothing(form, field) -> None:
    if (field.data or "").strip() and as_id(field.data) is None:
        raise FieldError(gettext("must be the number of a caller found by the search"))


class CallForm(FlaskForm):
    """What every desk form shares: who the caller is, and when the call started."""

    account = HiddenField(_l("Caller"), validators=[_id_or_nothing])
    utility = HiddenField(_l("Caller"), validators=[_id_or_nothing])
    contact = HiddenField(_l("Caller"), validators=[_id_or_nothing])
    started = HiddenField()

    def caller_key(self) -> dict[str, int | None]:
        return {name: as_id(self[name].data) for name in ("account", "utility", "contact")}

    def started_at(self, now: datetime | None = None) -> datetime:
        """When the call started (naive UTC), from the hidden field; now when missing or implausible."""
        now = now or utcnow()
        try:
            started = datetime.strptime((self.started.data or "").strip(), STARTED_FORMAT)
        except ValueError:
            return now
        return started if now - LONGEST_CALL <= started <= now else now


class CallerFields:
    """Who called, when the search did not find them (pre-filled when it did)."""

    caller_name = StringField(_l("Caller's name"), validators=[Optional(), Length(max=200)])
    caller_phone = StringField(_l("Caller's phone"), validators=[Optional(), Length(max=40)])


class SearchForm(CallForm):
    q = StringField(_l("Phone, name, e-mail, utility account or address"),
                    validators=[DataRequired(), Length(min=2, max=200)])


class InformationForm(CallForm, CallerFields):
    """An information-only call: why it ended, and optional notes."""

    wrap_up = SelectField(_l("Wrap-up reason"), choices=reasons.choices, validators=[InputRequired()])
    notes = TextAreaField(_l("Notes"), validators=[Optional(), Length(max=MAX_DESCRIPTION)])


class ExistingCaseForm(CallForm, CallerFields):
    """A call about a case the city already has: which one, and an optional internal note on it."""

    reference = StringField(_l("Case number"), validators=[DataRequired(), Length(max=32)])
    note = TextAreaField(_l("Note on the case"), description=_l("Optional: added to the case as an internal note."),
                         validators=[Optional(), Length(max=MAX_DESCRIPTION - 100)])  # room for "Phone call: "


class PhoneCaseForm(CallForm):
    """A case taken on the phone.  Location comes from the address (the city's list) on save."""

    service = SelectField(_l("Service"), validators=[InputRequired()])
    description = TextAreaField(_l("Description"), validators=[Length(max=MAX_DESCRIPTION)])
    priority = SelectField(_l("Priority"), choices=list(PRIORITIES.items()), default="normal")
    address = StringField(_l("Address"), validators=[Optional(), Length(max=300)])
    contact_name = StringField(_l("Caller's name"), validators=[Optional(), Length(max=200)])
    contact_phone = StringField(_l("Caller's phone"), validators=[Optional(), Length(max=40)])
    contact_email = StringField(_l("Caller's e-mail"), validators=[Optional(), Email(), Length(max=254)])
    email_updates = BooleanField(_l("Send updates by e-mail"), description=_l("Only when the caller agrees."))

    attribute_names: tuple[str, ...] = ()
    case_names = ("service", "description", "priority")
    contact_names = ("contact_name", "contact_phone", "contact_email", "email_updates")

    def validate_email_updates(self, field) -> None:
        if field.data and not (self.contact_email.data or "").strip():
            raise FieldError(gettext("give the caller's e-mail address to send updates to"))

    def contact_values(self) -> dict[str, Any]:
        return {name: (self[name].data or "").strip() or None for name in ("contact_name", "contact_phone", "contact_email")}


def phone_case_form_class(definitions: list[dict[str, Any]] | None) -> type[PhoneCaseForm]:
    """A PhoneCaseForm with one field per attribute of the chosen service (none before one is chosen)."""
    fields = attribute_fields(definitions or [])
    return type("PhoneServiceCaseForm", (PhoneCaseForm,), {**fields, "attribute_names": tuple(fields)})
