"""WTForms built from the service catalog: attribute fields (staff screens and the portal) and the staff new-case form."""
from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    DateTimeLocalField,
    Field,
    FloatField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import Email, InputRequired, Length, NumberRange, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from core.i18n_content import attribute_help, attribute_label, value_names
from core.models import CHANNELS, PRIORITIES
from core.services.cases import MAX_DESCRIPTION

ATTRIBUTE_PREFIX = "attr_"
DATETIME_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"]


def attribute_field_name(code: str) -> str:
    """The form field that holds one attribute: ``SIZE`` -> ``attr_SIZE``."""
    return f"{ATTRIBUTE_PREFIX}{code}"


def _variable(definitions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The attributes a person fills in, in the catalog's order (``variable = false`` ones are information only)."""
    return sorted((d for d in definitions or [] if d.get("variable", True)), key=lambda d: d.get("order") or 0)


def _attribute_field(defn: dict[str, Any]) -> Field:
    """One attribute's field; label, help and value names in the request's language, values still by key."""
    required = bool(defn.get("required"))
    label = attribute_label(defn)
    help_text = attribute_help(defn)
    check = [InputRequired()] if required else [Optional()]
    choices = list(value_names(defn).items())
    datatype = defn["datatype"]
    if datatype == "number":
        return FloatField(label, description=help_text, validators=check)
    if datatype == "datetime":
        return DateTimeLocalField(label, description=help_text, format=DATETIME_FORMATS, validators=check)
    if datatype == "singlevaluelist":
        return SelectField(label, description=help_text, choices=[("", "—")] + choices, validators=check)
    if datatype == "multivaluelist":
        return SelectMultipleField(
            label, description=help_text, choices=choices, validators=check,
            widget=ListWidget(prefix_label=False), option_widget=CheckboxInput(),
        )
    if datatype == "text":
        return TextAreaField(label, description=help_text, validators=check + [Length(max=4000)])
    return StringField(label, description=help_text, validators=check + [Length(max=1000)])


def attribute_fields(definitions: list[dict[str, Any]]) -> dict[str, Field]:
    """Unbound WTForms fields for a service's Open311 attribute definitions, keyed by field name.

    Labels are the attribute descriptions in the request's language (build the form per request);
    required attributes carry ``InputRequired``
    (so templates show a required mark).  Add them to a form class with ``type()``.
    """
    return {attribute_field_name(d["code"]): _attribute_field(d) for d in _variable(definitions)}


def attribute_values(form: FlaskForm, definitions: list[dict[str, Any]]) -> dict[str, Any]:
    """The attribute values a validated form holds, keyed by attribute code, ready for ``create_case``."""
    values: dict[str, Any] = {}
    for d in _variable(definitions):
        data = form[attribute_field_name(d["code"])].data
        if hasattr(data, "isoformat"):
            data = data.isoformat()
        if data not in (None, "", []):
            values[d["code"]] = data
    return values


def apply_case_errors(form: FlaskForm, errors: dict[str, list[str]]) -> list[str]:
    """Put each CaseError message next to its field; return the messages that have no field on the form."""
    unplaced: list[str] = []
    for key, messages in errors.items():
        name = key
        if key.startswith("attribute[") and key.endswith("]"):
            name = attribute_field_name(key[len("attribute["):-1])
        if name in form:
            form[name].errors = list(form[name].errors or []) + [str(m) for m in messages]
        else:
            unplaced.extend(f"{key}: {m}" for m in messages)
    return unplaced


def split_tags(text: str | None) -> list[str]:
    """'hurricane, Storm Week' -> ['hurricane', 'Storm Week'] (the service normalises them)."""
    return [t.strip() for t in (text or "").split(",") if t.strip()]


class NewCaseForm(FlaskForm):
    """What a staff member types when taking a report; the service's attribute fields are added per service."""

    description = TextAreaField(_l("Description"), validators=[Length(max=MAX_DESCRIPTION)])
    priority = SelectField(_l("Priority"), choices=list(PRIORITIES.items()), default="normal")
    channel = SelectField(_l("Channel"), choices=list(CHANNELS.items()), default="phone")
    address = StringField(_l("Address"), validators=[Optional(), Length(max=300)])
    zipcode = StringField(_l("ZIP code"), validators=[Optional(), Length(max=10)])
    lat = FloatField(_l("Latitude"), validators=[Optional(), NumberRange(-90, 90)])
    long = FloatField(_l("Longitude"), validators=[Optional(), NumberRange(-180, 180)])
    zone = StringField(_l("Zone"), validators=[Optional(), Length(max=50)])
    contact_name = StringField(_l("Contact name"), validators=[Optional(), Length(max=200)])
    contact_email = StringField(_l("Contact e-mail"), validators=[Optional(), Email(), Length(max=254)])
    contact_phone = StringField(_l("Contact phone"), validators=[Optional(), Length(max=40)])
    tags = StringField(_l("Tags"), description=_l("Comma separated, e.g. hurricane, storm-week"), validators=[Length(max=500)])

    attribute_names: tuple[str, ...] = ()
    case_names = ("description", "priority", "channel")
    location_names = ("address", "zipcode", "lat", "long", "zone")
    contact_names = ("contact_name", "contact_email", "contact_phone", "tags")

    def case_values(self) -> dict[str, Any]:
        """Keyword arguments for ``create_case`` (except service, attributes and actor)."""
        names = self.case_names + self.location_names + self.contact_names
        values = {name: self[name].data for name in names}
        values["tags"] = split_tags(values["tags"])
        return values


def new_case_form_class(definitions: list[dict[str, Any]]) -> type[NewCaseForm]:
    """A NewCaseForm subclass with one field per attribute of the service."""
    fields = attribute_fields(definitions)
    return type("ServiceCaseForm", (NewCaseForm,), {**fields, "attribute_names": tuple(fields)})
