"""Staff screens for the catalog: departments, services, tags."""
from __future__ import annotations

import json

from flask_appbuilder.fieldwidgets import BS3TextAreaFieldWidget
from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_babel import lazy_gettext as _l
from marshmallow import ValidationError
from wtforms import TextAreaField
from wtforms.validators import ValidationError as FieldError

from core.config import AttributeSchema, flatten_errors
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
    for i, a in enumerate(loaded, start=1):
        a["order"] = a.get("order") or i
    return sorted(loaded, key=lambda a: a["order"])


def valid_attribute_definitions(form, field) -> None:
    """WTForms validator: the form comes back with the text as typed and the problem beside it."""
    try:
        parse_attribute_definitions(field.data)
    except ValueError as exc:
        raise FieldError(str(exc))


class DepartmentView(CivicModelView):
    datamodel = SQLAInterface(Department)
    list_title = _l("Departments")
    show_title = _l("Department")
    add_title = _l("Add department")
    edit_title = _l("Edit department")
    list_columns = ["code", "name", "email", "phone", "active"]
    search_columns = ["code", "name", "active"]
    add_columns = edit_columns = ["code", "name", "email", "phone", "active", "staff"]
    show_columns = ["code", "name", "email", "phone", "active", "staff"]
    base_permissions = ["can_list", "can_show", "can_add", "can_edit"]
    order_columns = ["code", "name"]
    base_order = ("name", "asc")
    label_columns = {
        "code": _l("Code"), "name": _l("Name"), "email": _l("E-mail"), "phone": _l("Phone"),
        "active": _l("Active"), "staff": _l("Staff"),
    }


class ServiceTypeView(CivicModelView):
    datamodel = SQLAInterface(ServiceType)
    list_title = _l("Services")
    show_title = _l("Service")
    add_title = _l("Add service")
    edit_title = _l("Edit service")
    list_columns = ["code", "name", "group", "department", "sla_hours", "public", "active"]
    search_columns = ["code", "name", "group", "department", "public", "active"]
    add_columns = edit_columns = [
        "code", "name", "description", "group", "keywords", "department", "sla_hours", "public", "type", "active",
        "attributes_json",
    ]
    show_columns = add_columns[:-1] + ["attributes"]
    base_permissions = ["can_list", "can_show", "can_add", "can_edit"]
    add_form_extra_fields = edit_form_extra_fields = {
        "attributes_json": TextAreaField(
            _l("Attributes (Open311 definitions, JSON)"),
            description=_l('A list such as [{"code": "SIZE", "description": "How large?", "datatype": "singlevaluelist", '
                           '"required": true, "values": [{"key": "small", "name": "Small"}]}]'),
            widget=BS3TextAreaFieldWidget(),
            validators=[valid_attribute_definitions],
        )
    }
    order_columns = ["code", "name", "group", "sla_hours"]
    base_order = ("group", "asc")
    label_columns = {
        "code": _l("Code"), "name": _l("Name"), "description": _l("Description"), "group": _l("Group"),
        "keywords": _l("Keywords"), "department": _l("Department"), "sla_hours": _l("SLA (hours)"),
        "public": _l("Public"), "type": _l("Type"), "active": _l("Active"), "attributes": _l("Attributes"),
    }

    def prefill_form(self, form, pk):
        item = self.datamodel.get(pk)
        form.attributes_json.data = json.dumps(item.attributes or [], indent=2, ensure_ascii=False)

    def _apply_attributes(self, item):
        item.attributes = parse_attribute_definitions(getattr(item, "attributes_json", None))

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
