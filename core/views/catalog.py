"""Staff screens for the catalog: departments, services, tags."""
from __future__ import annotations

from flask_appbuilder import ModelView
from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_babel import lazy_gettext as _l

from core.models import Department, ServiceType, Tag


class DepartmentView(ModelView):
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


class ServiceTypeView(ModelView):
    datamodel = SQLAInterface(ServiceType)
    list_title = _l("Services")
    show_title = _l("Service")
    add_title = _l("Add service")
    edit_title = _l("Edit service")
    list_columns = ["code", "name", "group", "department", "sla_hours", "public", "active"]
    search_columns = ["code", "name", "group", "department", "public", "active"]
    add_columns = edit_columns = [
        "code", "name", "description", "group", "keywords", "department", "sla_hours", "public", "type", "active",
    ]
    show_columns = add_columns
    base_permissions = ["can_list", "can_show", "can_add", "can_edit"]
    order_columns = ["code", "name", "group", "sla_hours"]
    base_order = ("group", "asc")
    label_columns = {
        "code": _l("Code"), "name": _l("Name"), "description": _l("Description"), "group": _l("Group"),
        "keywords": _l("Keywords"), "department": _l("Department"), "sla_hours": _l("SLA (hours)"),
        "public": _l("Public"), "type": _l("Type"), "active": _l("Active"),
    }


class TagView(ModelView):
    datamodel = SQLAInterface(Tag)
    list_title = _l("Tags")
    list_columns = ["name"]
    search_columns = ["name"]
    add_columns = edit_columns = show_columns = ["name"]
    base_permissions = ["can_list", "can_show", "can_add", "can_edit"]
    label_columns = {"name": _l("Name")}
