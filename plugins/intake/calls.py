"""The phone desk's entry points for plugin.py; the desk itself lives in ``plugins.intake.phone``.

Dispatchers and admins take calls (Calls › New call) and read the call log; department staff do not
take calls -- they work the cases the calls become -- so they get neither screen, nor the dashboard's
"Calls today" block.
"""
from __future__ import annotations

from flask_babel import lazy_gettext as _l

from core.records import ConfigProblem, Panel, RoleSpec, ViewSpec

CALL_VIEWS = "CallDeskView|CallLogView|New call|Call log|Calls"


def config_problems(config) -> list[ConfigProblem]:
    from plugins.intake.phone.reasons import config_problems as reason_problems

    return reason_problems(config)


def view_specs() -> list[ViewSpec]:
    from plugins.intake.phone.desk import CallDeskView
    from plugins.intake.phone.log import CallLogView

    return [
        ViewSpec("New call", CallDeskView, _l("New call"), "Calls", _l("Calls"), "fa-phone"),
        ViewSpec("Call log", CallLogView, _l("Call log"), "Calls", _l("Calls"), "fa-list-alt"),
    ]


def role_specs() -> list[RoleSpec]:
    return [RoleSpec("Dispatcher", ((CALL_VIEWS, ".*"),))]


def dashboard_panel() -> Panel:
    from plugins.intake.phone.panel import dashboard_panel as calls_panel

    return calls_panel()
