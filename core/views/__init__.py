"""The core's staff screens, registered through the core's own ``register_views`` hookimpl."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l

from core.records import ViewSpec


def core_view_specs() -> list[ViewSpec]:
    from core.views import audit, incidents, mentions, queues, tasks
    from core.views.accounts import AccountView
    from core.views.attachments import AttachmentView
    from core.views.cases import CaseView
    from core.views.catalog import DepartmentView, ServiceTypeView, TagView
    from core.views.dashboard import DashboardView
    from core.reports.performance import PerformanceView
    from core.reports.views import ReportView

    return [
        ViewSpec("Dashboard", DashboardView, _l("Dashboard"), icon="fa-tachometer"),
        ViewSpec("Cases", CaseView, _l("Cases"), "Cases", _l("Cases"), "fa-folder-open"),
        ViewSpec("Accounts", AccountView, _l("Accounts"), "Accounts", _l("Accounts"), "fa-address-book"),
        ViewSpec("Departments", DepartmentView, _l("Departments"), "Catalog", _l("Catalog"), "fa-building"),
        ViewSpec("Services", ServiceTypeView, _l("Services"), "Catalog", _l("Catalog"), "fa-list"),
        ViewSpec("Tags", TagView, _l("Tags"), "Catalog", _l("Catalog"), "fa-tag"),
        ViewSpec("Attachments", AttachmentView, _l("Attachments"), menu=False),
        *tasks.view_specs(),
        *mentions.view_specs(),
        *incidents.view_specs(),
        *queues.view_specs(),
        ViewSpec("Reports", ReportView, _l("Reports"), icon="fa-bar-chart"),
        ViewSpec("Performance", PerformanceView, _l("City performance"), menu=False),  # public; 404 unless [reports] public_performance
        *audit.view_specs(),  # Security › Audit log (Admin only: no other role names AuditLogView)
    ]


def coordination_role_specs() -> list:
    """Roles of the coordination screens (tasks, mentions, incidents, queues), added to the core's roles."""
    from core.reports import views as reports
    from core.views import incidents, mentions, queues, tasks

    return [*tasks.role_specs(), *mentions.role_specs(), *incidents.role_specs(), *queues.role_specs(), *reports.role_specs()]


def coordination_case_panels(case) -> list:
    """The coordination blocks of the staff case page: tasks, hand-offs and mentions, incident, queue."""
    from core.views import incidents, mentions, queues, tasks

    return [*tasks.case_panels(case), *mentions.case_panels(case), *incidents.case_panels(case), *queues.case_panels(case)]
