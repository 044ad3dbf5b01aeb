"""The core's staff screens, registered through the core's own ``register_views`` hookimpl."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l

from core.records import ViewSpec


def core_view_specs() -> list[ViewSpec]:
    from core.views.accounts import AccountView
    from core.views.attachments import AttachmentView
    from core.views.cases import CaseView
    from core.views.catalog import DepartmentView, ServiceTypeView, TagView
    from core.views.dashboard import DashboardView

    return [
        ViewSpec("Dashboard", DashboardView, _l("Dashboard"), icon="fa-tachometer"),
        ViewSpec("Cases", CaseView, _l("Cases"), "Cases", _l("Cases"), "fa-folder-open"),
        ViewSpec("Accounts", AccountView, _l("Accounts"), "Accounts", _l("Accounts"), "fa-address-book"),
        ViewSpec("Departments", DepartmentView, _l("Departments"), "Catalog", _l("Catalog"), "fa-building"),
        ViewSpec("Services", ServiceTypeView, _l("Services"), "Catalog", _l("Catalog"), "fa-list"),
        ViewSpec("Tags", TagView, _l("Tags"), "Catalog", _l("Catalog"), "fa-tag"),
        ViewSpec("Attachments", AttachmentView, _l("Attachments"), menu=False),
    ]
