"""The dashboard's "Calls today" block: calls taken, how many became cases, information-only calls by
wrap-up reason, and the phone's share of today's contacts.  Every number is a GROUP BY in SQL.

The core dashboard already counts today's new cases by channel; this block adds what it cannot see:
the calls that made no case.  A contact is an information-only call or a new case (any channel); the
phone's share is (information-only calls + phone cases) / (information-only calls + all new cases).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from flask import current_app, g, has_request_context, render_template
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.formats import city_timezone, format_number
from core.models import Case
from core.models.base import utcnow
from core.records import Panel
from core.security import case_scope
from core.views.dashboard import today_bounds_utc
from plugins.intake.models import Call
from plugins.intake.phone import reasons

ORDER = 55


@dataclass
class CallsToday:
    total: int = 0
    cases: int = 0
    information: int = 0
    by_reason: dict[str, int] = field(default_factory=dict)
    phone_cases: int = 0
    all_cases: int = 0

    @property
    def phone_share(self) -> float | None:
        """Share of today's contacts that came by phone (None when there were none)."""
        contacts = self.information + self.all_cases
        return (self.information + self.phone_cases) / contacts if contacts else None


def calls_today(session: Session, scope, now=None) -> CallsToday:
    """Today's calls (in the city's timezone) and the cases within ``scope`` (a WHERE clause on Case, or None
    for all), counted in two GROUP BY queries."""
    start, end = today_bounds_utc(now or utcnow(), city_timezone())
    data = CallsToday()
    stmt = (select(Call.outcome, Call.wrap_up, func.count()).where(Call.started_at >= start, Call.started_at < end)
            .group_by(Call.outcome, Call.wrap_up))
    for outcome, wrap_up, n in session.execute(stmt):
        data.total += n
        if outcome == "case":
            data.cases += n
        else:
            data.information += n
            data.by_reason[wrap_up or ""] = data.by_reason.get(wrap_up or "", 0) + n
    cases = select(Case.channel, func.count()).where(Case.created_at >= start, Case.created_at < end).group_by(Case.channel)
    for channel, n in session.execute(cases if scope is None else cases.where(scope)):
        data.all_cases += n
        if channel == "phone":
            data.phone_cases += n
    return data


def may_see() -> bool:
    """Whoever may take calls sees the block (dispatchers and admins); nobody outside a signed-in request."""
    if not has_request_context() or getattr(g, "user", None) is None:
        return False
    return bool(current_app.appbuilder.sm.has_access("can_take", "CallDeskView"))


def dashboard_panel() -> Panel:
    title = _l("Calls today")
    if not may_see():
        return Panel(title, "", order=ORDER)
    from core.extensions import db

    data = calls_today(db.session, case_scope())
    share = data.phone_share
    html = render_template(
        "calls/dashboard_panel.html", data=data, reason_label=reasons.label,
        share=format_number(round(share * 100)) if share is not None else None,
    )
    return Panel(title, html, order=ORDER)
