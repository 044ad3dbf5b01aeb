"""Every screen of the plugin and the roles that open them, gathered from the modules that define them."""
from __future__ import annotations

from core.records import RoleSpec, ViewSpec


def _modules():
    from plugins.fema import cost_screens, event_screens, export_screens, rate_screens, site_photos, timesheet_screens

    return (event_screens, cost_screens, export_screens, rate_screens, site_photos, timesheet_screens)


def view_specs() -> list[ViewSpec]:
    return [spec for module in _modules() for spec in module.view_specs()]


def role_specs() -> list[RoleSpec]:
    from plugins.fema import report_subjects

    return [spec for module in _modules() for spec in module.role_specs()] + report_subjects.role_specs()
