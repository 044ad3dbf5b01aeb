"""Staff screens for resident and business accounts."""
from __future__ import annotations

from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_babel import lazy_gettext as _l

from core.views.base import CivicModelView
from core.models import Account


class AccountView(CivicModelView):
    datamodel = SQLAInterface(Account)
    list_title = _l("Accounts")
    show_title = _l("Account")
    add_title = _l("Add account")
    edit_title = _l("Edit account")
    list_columns = ["name", "kind", "email", "phone", "utility_account_number", "preferred_language"]
    search_columns = ["name", "kind", "email", "phone", "utility_account_number"]
    add_columns = edit_columns = show_columns = [
        "name", "kind", "email", "phone", "utility_account_number", "preferred_language", "contact_by_email",
    ]
    base_permissions = ["can_list", "can_show", "can_add", "can_edit"]
    base_order = ("name", "asc")
    label_columns = {
        "name": _l("Name"), "kind": _l("Kind"), "email": _l("E-mail"), "phone": _l("Phone"),
        "utility_account_number": _l("Utility account number"), "preferred_language": _l("Preferred language"),
        "contact_by_email": _l("Contact by e-mail"),
    }
