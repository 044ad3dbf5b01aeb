"""Security › Audit log: who changed the city's set-up, when, how, from what to what.  Admin only, read-only."""
from __future__ import annotations

import json

from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_babel import lazy_gettext as _l
from markupsafe import Markup

from core.formats import format_datetime
from core.models import AUDIT_ACTIONS, AUDIT_SOURCES, AuditEntry
from core.records import ViewSpec
from core.views.base import CivicModelView, yes_no

# The kinds of object the log names, in the reader's language (the log keeps the English key).
OBJECT_KINDS = {
    "service": _l("Service"),
    "department": _l("Department"),
    "tag": _l("Tag"),
    "crew": _l("Crew"),
    "role": _l("Role"),
    "group": _l("Group"),
    "user": _l("User"),
    "report share": _l("Report share"),
    "api key": _l("API key"),
    "routing rule": _l("Routing rule"),
    "task templates": _l("Task templates"),
    "sla calendar": _l("SLA calendar"),
}


# The recorded fields by their screen labels (the log keeps the column name); others show as recorded.
FIELD_LABELS = {
    "name": _l("Name"), "code": _l("Code"), "active": _l("Active"), "email": _l("E-mail"), "phone": _l("Phone"),
    "description": _l("Description"), "group": _l("Group"), "keywords": _l("Keywords"), "keyword": _l("Keywords"),
    "department": _l("Department"), "sla_hours": _l("SLA (hours)"), "public": _l("Public"), "type": _l("Type"),
    "attributes": _l("Attributes"), "translations": _l("Translations"), "staff": _l("Staff"), "members": _l("Members"),
    "permissions": _l("Permissions"), "roles": _l("Roles"), "groups": _l("Groups"), "users": _l("Users"),
    "username": _l("Username"), "first_name": _l("First Name"), "last_name": _l("Last Name"), "label": _l("Label"),
    "revoked_at": _l("Revoked"), "rate_limit": _l("Rate limit"), "service": _l("Service"), "zone": _l("Zone"),
    "tag": _l("Tag"), "tasks": _l("Tasks"), "hours": _l("Opening hours"), "holidays": _l("Holidays"),
}


def field_label(name: str) -> str:
    return str(FIELD_LABELS.get(name, name))


def _value(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return yes_no(value)
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return ", ".join(value)
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def changes_table(changes: dict | None) -> Markup:
    """{field: [old, new]} as a small table: field, before, after (every value escaped)."""
    if not changes:
        return Markup("")
    rows = Markup("").join(
        Markup("<tr><th>{}</th><td>{}</td><td>{}</td></tr>").format(field_label(name), _value(old), _value(new))
        for name, (old, new) in sorted(changes.items())
    )
    head = Markup("<tr><th>{}</th><th>{}</th><th>{}</th></tr>").format(_l("Changed field"), _l("Before"), _l("After"))
    return Markup('<table class="table table-condensed audit-changes">') + head + rows + Markup("</table>")


def changed_fields(changes: dict | None) -> str:
    return ", ".join(field_label(name) for name in sorted(changes or {}))


class AuditLogView(CivicModelView):
    """The audit log: a list with filters by kind, actor, date, action and source, and each entry's changes.
    Nothing here adds, edits or deletes (the database refuses it anyway)."""

    route_base = "/auditlog"
    datamodel = SQLAInterface(AuditEntry)
    base_permissions = ["can_list", "can_show"]
    list_title = _l("Audit log")
    show_title = _l("Audit entry")
    list_columns = ["at", "actor_label", "action", "object_kind", "object_label", "changes", "source"]
    show_columns = ["at", "actor_label", "actor_id", "action", "object_kind", "object_id", "object_label", "source", "changes"]
    search_columns = ["object_kind", "actor_label", "at", "action", "source", "object_label"]
    order_columns = ["at", "actor_label", "object_kind", "action", "source"]
    base_order = ("at", "desc")
    page_size = 50
    label_columns = {
        "at": _l("When"), "actor_label": _l("Who"), "actor_id": _l("User id"), "action": _l("Action"),
        "object_kind": _l("Kind"), "object_id": _l("Object id"), "object_label": _l("Object"),
        "changes": _l("Changes"), "source": _l("Through"),
    }
    description_columns = {
        "actor_label": _l("The user's name when the change was made (kept after the user is gone); "
                          "\"config sync\" or \"system\" for the command line."),
    }
    formatters_columns = {
        "at": format_datetime,
        "action": lambda a: AUDIT_ACTIONS.get(a, a),
        "source": lambda s: AUDIT_SOURCES.get(s, s),
        "object_kind": lambda k: OBJECT_KINDS.get(k, k),
    }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # The list names the fields that changed; the entry's page shows them before and after.
        self.formatters_columns = {**self.formatters_columns, "changes": changed_fields}

    def _get_show_widget(self, pk, item, widgets=None, actions=None, show_fieldsets=None):
        widgets = widgets or {}
        widgets["show"] = self.show_widget(
            pk=pk,
            label_columns=self.label_columns,
            include_columns=self.show_columns,
            value_columns=self.datamodel.get_values_item(item, self.show_columns),
            formatters_columns={**self.formatters_columns, "changes": changes_table},
            actions=actions or self.actions,
            fieldsets=show_fieldsets or self.show_fieldsets,
            modelview_name=self.__class__.__name__,
        )
        return widgets


def view_specs() -> list[ViewSpec]:
    return [ViewSpec("AuditLog", AuditLogView, _l("Audit log"), "Security", _l("Security"), "fa-history")]
