"""Staff screens for the catalog: departments, services, tags.

Texts in the city's other languages are edited as JSON next to the default
language's fields ("Translations (JSON)", e.g. ``{"fr": {"name": "Nid-de-poule"}}``),
and attribute definitions take their translations inline, as in the city config
file; both are validated like the config file.  Lists show names in the
reader's language.
"""
from __future__ import annotations

import json

from flask import current_app, request
from flask_appbuilder.fieldwidgets import BS3TextAreaFieldWidget
from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_babel import lazy_gettext as _l
from marshmallow import ValidationError
from wtforms import TextAreaField
from wtforms.validators import ValidationError as FieldError

from core.config import DEPARTMENT_TEXTS, SERVICE_TEXTS, AttributeSchema, flatten_errors, localize_attribute
from core.records import ConfigProblem
from core.views.base import CivicModelView
from core.models import Department, ServiceType, Tag


def parse_attribute_definitions(text: str | None) -> list[dict]:
    """The Open311 attribute definitions typed on the service screen, validated like the config file."""
    if not (text or "").strip():
        return []
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(_l("Attributes: not valid JSON (%(error)s)", error=exc.msg))
    if not isinstance(raw, list):
        raise ValueError(_l("Attributes: expected a JSON list of attribute definitions"))
    try:
        loaded = AttributeSchema(many=True).load(raw)
    except ValidationError as exc:
        first = flatten_errors(exc.messages, "attributes")[0]
        raise ValueError(f"{first.key}: {first.message}")
    problems: list[ConfigProblem] = []
    rules = current_app.extensions["civic"].config.locale_rules
    for i, a in enumerate(loaded):
        localize_attribute(a, f"attributes[{i}]", rules, problems)
    if problems:
        raise ValueError(f"{problems[0].key}: {problems[0].message}")
    for i, a in enumerate(loaded, start=1):
        a["order"] = a.get("order") or i
    return sorted(loaded, key=lambda a: a["order"])


def valid_attribute_definitions(form, field) -> None:
    """WTForms validator: the form comes back with the text as typed and the problem beside it."""
    try:
        parse_attribute_definitions(field.data)
    except ValueError as exc:
        raise FieldError(str(exc))


def parse_translations(text: str | None, names: tuple[str, ...]) -> dict[str, dict[str, str]]:
    """The "Translations (JSON)" typed on a catalog screen: ``{"fr": {"name": "...", ...}}``, checked
    against the city's locales (the default language's text is in the ordinary fields)."""
    if not (text or "").strip():
        return {}
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(_l("Translations: not valid JSON (%(error)s)", error=exc.msg))
    if not isinstance(raw, dict):
        raise ValueError(_l('Translations: expected a JSON object such as {"fr": {"name": "..."}}'))
    rules = current_app.extensions["civic"].config.locale_rules
    out: dict[str, dict[str, str]] = {}
    for locale, texts in raw.items():
        if locale == rules.default:
            raise ValueError(_l("Translations: %(locale)s is the default language; its text goes in the fields above", locale=locale))
        if locale not in rules.locales:
            raise ValueError(_l("Translations: unknown language '%(locale)s' (the city's languages: %(locales)s)",
                                locale=locale, locales=", ".join(rules.locales)))
        if not isinstance(texts, dict):
            raise ValueError(_l("Translations: %(locale)s must be an object of field: text", locale=locale))
        for name, value in texts.items():
            if name not in names:
                raise ValueError(_l("Translations: %(locale)s.%(name)s is not a translatable field (allowed: %(names)s)",
                                    locale=locale, name=name, names=", ".join(names)))
            if name == "keywords" and isinstance(value, list) and all(isinstance(w, str) for w in value):
                value = ",".join(w.strip() for w in value if w.strip())
            if not isinstance(value, str):
                raise ValueError(_l("Translations: %(locale)s.%(name)s must be text", locale=locale, name=name))
            if value.strip():
                out.setdefault(locale, {})[name] = value.strip()
    return out


def translations_field(names: tuple[str, ...], example: str) -> TextAreaField:
    """The "Translations (JSON)" field of a catalog screen, validated on submit."""

    def check(form, field) -> None:
        try:
            parse_translations(field.data, names)
        except ValueError as exc:
            raise FieldError(str(exc))

    return TextAreaField(
        _l("Translations (JSON)"),
        description=_l("Texts in the city's other languages, e.g. %(example)s; a text left out is shown in the default language.", example=example),
        widget=BS3TextAreaFieldWidget(),
        validators=[check],
    )


def _as_json(value) -> str:
    return json.dumps(value, ensure_ascii=False) if value else ""


class TranslationsMixin:
    """Prefill and store the "Translations (JSON)" field of a catalog screen."""

    translatable: tuple[str, ...] = ()

    def prefill_translations(self, form, item) -> None:
        form.translations_json.data = json.dumps(item.translations or {}, indent=2, ensure_ascii=False) if item.translations else ""

    def apply_translations(self, item) -> None:
        if "translations_json" not in request.form:  # a form without the field (an old page, a script) keeps them
            item.translations = item.translations or {}
            return
        item.translations = parse_translations(request.form["translations_json"], self.translatable)


class DepartmentView(TranslationsMixin, CivicModelView):
    datamodel = SQLAInterface(Department)
    translatable = DEPARTMENT_TEXTS
    list_title = _l("Departments")
    show_title = _l("Department")
    add_title = _l("Add department")
    edit_title = _l("Edit department")
    list_columns = ["code", "localized_name", "email", "phone", "active"]
    search_columns = ["code", "name", "active"]
    add_columns = edit_columns = ["code", "name", "translations_json", "email", "phone", "active", "staff"]
    show_columns = ["code", "name", "translations", "email", "phone", "active", "staff"]
    add_form_extra_fields = edit_form_extra_fields = {
        "translations_json": translations_field(DEPARTMENT_TEXTS, '{"fr": {"name": "Travaux publics"}}'),
    }
    description_columns = {"name": _l("In the city's default language.")}
    formatters_columns = {"translations": _as_json}
    base_permissions = ["can_list", "can_show", "can_add", "can_edit"]
    order_columns = ["code", "name"]
    base_order = ("name", "asc")
    label_columns = {
        "code": _l("Code"), "name": _l("Name"), "localized_name": _l("Name"), "email": _l("E-mail"), "phone": _l("Phone"),
        "active": _l("Active"), "staff": _l("Staff"), "translations": _l("Translations"),
    }

    def prefill_form(self, form, pk):
        self.prefill_translations(form, self.datamodel.get(pk))

    def pre_add(self, item):
        self.apply_translations(item)

    def pre_update(self, item):
        self.apply_translations(item)


class ServiceTypeView(TranslationsMixin, CivicModelView):
    datamodel = SQLAInterface(ServiceType)
    translatable = SERVICE_TEXTS
    list_title = _l("Services")
    show_title = _l("Service")
    add_title = _l("Add service")
    edit_title = _l("Edit service")
    list_columns = ["code", "localized_name", "localized_group", "department", "sla_hours", "public", "active"]
    search_columns = ["code", "name", "group", "department", "public", "active"]
    add_columns = edit_columns = [
        "code", "name", "description", "group", "keywords", "translations_json", "department", "sla_hours", "public",
        "type", "active", "attributes_json",
    ]
    show_columns = [
        "code", "name", "description", "group", "keywords", "translations", "department", "sla_hours", "public",
        "type", "active", "attributes",
    ]
    description_columns = {
        "name": _l("In the city's default language."), "description": _l("In the city's default language."),
        "group": _l("In the city's default language."), "keywords": _l("Comma separated, in the city's default language."),
    }
    base_permissions = ["can_list", "can_show", "can_add", "can_edit"]
    add_form_extra_fields = edit_form_extra_fields = {
        "attributes_json": TextAreaField(
            _l("Attributes (Open311 definitions, JSON)"),
            description=_l('A list such as [{"code": "SIZE", "description": "How large?", "datatype": "singlevaluelist", '
                           '"required": true, "values": [{"key": "small", "name": "Small"}]}]'),
            widget=BS3TextAreaFieldWidget(),
            validators=[valid_attribute_definitions],
        ),
        "translations_json": translations_field(
            SERVICE_TEXTS, '{"fr": {"name": "Nid-de-poule", "description": "...", "group": "Rues et trottoirs", "keywords": "trou, chaussée"}}'
        ),
    }
    formatters_columns = {"translations": _as_json}
    order_columns = ["code", "name", "group", "sla_hours"]
    base_order = ("group", "asc")
    label_columns = {
        "code": _l("Code"), "name": _l("Name"), "localized_name": _l("Name"), "description": _l("Description"),
        "group": _l("Group"), "localized_group": _l("Group"), "translations": _l("Translations"),
        "keywords": _l("Keywords"), "department": _l("Department"), "sla_hours": _l("SLA (hours)"),
        "public": _l("Public"), "type": _l("Type"), "active": _l("Active"), "attributes": _l("Attributes"),
    }

    def prefill_form(self, form, pk):
        item = self.datamodel.get(pk)
        form.attributes_json.data = json.dumps(item.attributes or [], indent=2, ensure_ascii=False)
        self.prefill_translations(form, item)

    def _apply_attributes(self, item):
        item.attributes = parse_attribute_definitions(getattr(item, "attributes_json", None))
        self.apply_translations(item)

    def pre_add(self, item):
        self._apply_attributes(item)

    def pre_update(self, item):
        self._apply_attributes(item)


class TagView(CivicModelView):
    datamodel = SQLAInterface(Tag)
    list_title = _l("Tags")
    list_columns = ["name"]
    search_columns = ["name"]
    add_columns = edit_columns = show_columns = ["name"]
    base_permissions = ["can_list", "can_show", "can_add", "can_edit"]
    label_columns = {"name": _l("Name")}
