"""Calls › Call log: every call taken at the desk, newest first (read-only; dispatchers and admins)."""
from __future__ import annotations

from flask import url_for
from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_babel import lazy_gettext as _l
from markupsafe import Markup, escape
from wtforms import SelectField

from core.formats import format_datetime
from core.views.base import CivicModelView
from core.views.cases import user_label
from plugins.intake.models import Call
from plugins.intake.phone import reasons

OUTCOMES = {"case": _l("New case"), "information": _l("Information only")}


def outcome_label(code: str) -> str:
    return str(OUTCOMES.get(code, code))


def wrap_up_label(code: str) -> str:
    return reasons.label(code) if code else ""


def case_link(case) -> Markup | str:
    if case is None:
        return ""
    return Markup('<a href="{}">{}</a>').format(url_for("CaseView.show", pk=case.id), escape(case.reference))


def _outcome_choices() -> list[tuple[str, str]]:
    return [(code, str(label)) for code, label in OUTCOMES.items()]


class CallLogView(CivicModelView):
    """One row per call: when, who answered, who called, and what came of it."""

    route_base = "/calls/log"
    datamodel = SQLAInterface(Call)
    base_permissions = ["can_list", "can_show"]
    list_title = _l("Call log")
    show_title = _l("Call")
    list_columns = ["started_at", "agent", "caller_name", "caller_phone", "outcome", "wrap_up", "case"]
    show_columns = ["started_at", "ended_at", "agent", "caller_name", "caller_phone", "caller_email", "account", "address",
                    "outcome", "wrap_up", "case", "notes"]
    search_columns = ["started_at", "agent", "outcome", "wrap_up", "caller_name", "caller_phone"]
    search_form_extra_fields = {
        "outcome": SelectField(_l("Outcome"), choices=_outcome_choices),
        "wrap_up": SelectField(_l("Wrap-up reason"), choices=reasons.log_choices),
    }
    order_columns = ["started_at", "caller_name", "outcome", "wrap_up"]
    base_order = ("started_at", "desc")
    page_size = 50
    label_columns = {
        "started_at": _l("Started"), "ended_at": _l("Ended"), "agent": _l("Agent"), "caller_name": _l("Caller's name"),
        "caller_phone": _l("Caller's phone"), "caller_email": _l("Caller's e-mail"), "account": _l("Account"),
        "address": _l("Address"), "outcome": _l("Outcome"), "wrap_up": _l("Wrap-up reason"), "case": _l("Case"),
        "notes": _l("Notes"),
    }
    formatters_columns = {
        "started_at": format_datetime, "ended_at": format_datetime, "agent": user_label, "outcome": outcome_label,
        "wrap_up": wrap_up_label, "case": case_link,
    }
