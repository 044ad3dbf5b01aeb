"""Staff screens for cases, scoped to what each user may see."""
from __future__ import annotations

from flask_appbuilder import ModelView
from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_babel import lazy_gettext as _l

from core.models import Case
from core.security import CaseScopeFilter


class CaseView(ModelView):
    datamodel = SQLAInterface(Case)
    base_filters = [["id", CaseScopeFilter, None]]
    list_title = _l("Cases")
    show_title = _l("Case")
    list_columns = ["reference", "service_type", "status", "priority", "department", "assignee", "channel", "address", "created_at", "expected_at"]
    search_columns = ["reference", "status", "department", "service_type", "tags", "channel", "priority", "created_at", "description", "address"]
    show_columns = ["reference", "service_type", "status", "priority", "channel", "department", "assignee", "description", "address", "tags", "created_at", "expected_at", "closed_at"]
    edit_columns = ["description", "priority", "address", "zipcode", "lat", "long", "zone", "tags"]
    base_permissions = ["can_list", "can_show", "can_edit"]
    base_order = ("created_at", "desc")
    page_size = 25
    label_columns = {
        "reference": _l("Reference"), "service_type": _l("Service"), "status": _l("Status"),
        "priority": _l("Priority"), "department": _l("Department"), "assignee": _l("Assignee"),
        "channel": _l("Channel"), "address": _l("Address"), "created_at": _l("Created"),
        "expected_at": _l("Expected"), "closed_at": _l("Closed"), "description": _l("Description"),
        "tags": _l("Tags"), "zipcode": _l("ZIP code"), "lat": _l("Latitude"), "long": _l("Longitude"),
        "zone": _l("Zone"),
    }
