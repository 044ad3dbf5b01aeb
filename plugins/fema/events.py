"""Disasters and the active event: the PAPPG edition of a declaration, which event is active, tagging new
cases and work orders with it, and the portal banner that shows it to residents.

Other modules (sweeps, cost entry) call ``active_event(session)`` to tag what they create."""
from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import sqlalchemy as sa
from flask import Blueprint, current_app, url_for
from flask_babel import gettext
from markupsafe import Markup

from core.models.base import utcnow
from core.models.tag import normalise_tag

# PAPPG editions by declaration date: (first day, edition); the last row that starts on or before wins.
PAPPG_EDITIONS: tuple[tuple[date, str], ...] = (
    (date(2017, 8, 23), "3.1"),
    (date(2020, 6, 1), "4"),
    (date(2025, 1, 6), "5"),
)
NUMBER = re.compile(r"^(DR|EM)-\d{1,5}$")
TAG_MAX = 50


def pappg_edition(declaration_date: date | None) -> str | None:
    """The PAPPG edition that applies to a declaration made that day ("3.1", "4", "5"); None before 2017-08-23."""
    if declaration_date is None:
        return None
    found = None
    for start, edition in PAPPG_EDITIONS:
        if declaration_date >= start:
            found = edition
    return found


def event_tag(title: str, number: str | None = None) -> str:
    """A case tag for an event: "Hurricane Dorian", "DR-4468" -> "hurricane-dorian-dr-4468" (at most 50 characters)."""
    suffix = normalise_tag(number or "")
    base = normalise_tag(title or "")
    if suffix:
        base = base[: TAG_MAX - len(suffix) - 1].strip("-")
        return f"{base}-{suffix}" if base else suffix
    return base[:TAG_MAX].strip("-")


# ---------------------------------------------------------------- the active event


def active_event(session):
    """The active Disaster, or None.  Sweeps and cost entry call this to tag what they create."""
    from plugins.fema.models import Disaster

    return session.scalar(sa.select(Disaster).where(Disaster.active.is_(True)).order_by(Disaster.id.desc()).limit(1))


def find_event(session, key: str):
    """A disaster by its tag or its number ("DR-4468", any case), or None."""
    from plugins.fema.models import Disaster

    key = (key or "").strip()
    if not key:
        return None
    return session.scalar(sa.select(Disaster).where(
        sa.or_(Disaster.tag == normalise_tag(key), sa.func.upper(Disaster.number) == key.upper())).limit(1))


def activate(session, disaster) -> None:
    """Make ``disaster`` the only active event (every other one ends) and commit."""
    from plugins.fema.models import Disaster

    now = utcnow()
    session.execute(sa.update(Disaster).where(Disaster.active.is_(True), Disaster.id != disaster.id)
                    .values(active=False, ended_at=now).execution_options(synchronize_session="fetch"))
    if not disaster.active:
        disaster.active = True
        disaster.started_at = now
        disaster.ended_at = None
    session.commit()


def deactivate(session, disaster=None) -> int:
    """End ``disaster`` (or whichever event is active); commit; how many events ended."""
    from plugins.fema.models import Disaster

    stmt = sa.update(Disaster).where(Disaster.active.is_(True))
    if disaster is not None:
        stmt = stmt.where(Disaster.id == disaster.id)
    ended = session.execute(stmt.values(active=False, ended_at=utcnow()).execution_options(synchronize_session="fetch")).rowcount
    session.commit()
    return int(ended or 0)


# ---------------------------------------------------------------- tagging (hooks, called after the commit)


def _add_tag(session, case, tag: str) -> None:
    from core.services.cases import SYSTEM, set_tags

    names = [t.name for t in case.tags]
    if tag not in names:
        set_tags(session, case, names + [tag], SYSTEM)  # its own transaction: the case itself is already committed


def tag_new_task(session, task, changes):
    """A new work order during an active event: its case gets the event's tag too."""
    created = "title" in (changes or {}) and changes["title"][0] is None
    if not created or task is None or task.case is None:
        return None
    event = active_event(session)
    if event is not None:
        _add_tag(session, task.case, event.tag)
    return None


# ---------------------------------------------------------------- the portal banner

# Its template folder holds every template of the plugin (templates/fema/...): Flask looks in each blueprint's.
banner = Blueprint("fema_events", __name__, template_folder=str(Path(__file__).resolve().parent / "templates"))


def banner_html(session, locale: str | None = None) -> str:
    """The active event's banner (title and a link to report each configured emergency service) or ""."""
    from core.i18n_content import localized
    from core.models import ServiceType

    event = active_event(session)
    if event is None:
        return ""
    codes = list(current_app.extensions["civic"].plugin_config.get("fema", {}).get("emergency_services") or [])
    services = {}
    if codes:
        found = session.scalars(sa.select(ServiceType).where(ServiceType.code.in_(codes), ServiceType.active.is_(True),
                                                            ServiceType.public.is_(True)))
        services = {s.code: s for s in found}
    links = []
    has_report = "portal.report" in current_app.view_functions
    for code in codes:
        service = services.get(code)
        if service is None or not has_report:
            continue
        links.append(Markup('<li><a href="{}">{}</a></li>').format(url_for("portal.report", service_code=code),
                                                                   localized(service, "name", locale)))
    parts = [Markup('<section class="fema-event-banner flash flash-warning" role="region" aria-label="{}">').format(gettext("Emergency")),
             Markup("<strong>{}</strong>").format(gettext("Active emergency: %(title)s", title=event.title))]
    if links:
        parts.append(Markup("<p>{}</p><ul>").format(gettext("Report storm problems:")))
        parts.extend(links)
        parts.append(Markup("</ul>"))
    parts.append(Markup("</section>"))
    return Markup("").join(parts)


@banner.app_context_processor
def _banner_processor():
    def fema_event_banner():
        from core.extensions import db

        try:
            return Markup(banner_html(db.session))
        except Exception:  # noqa: BLE001 -- a banner must never break a portal page
            current_app.logger.exception("fema: the event banner could not be drawn")
            return ""

    return {"fema_event_banner": fema_event_banner}


def blueprints():
    return [banner]


__all__ = ["PAPPG_EDITIONS", "NUMBER", "pappg_edition", "event_tag", "active_event", "find_event", "activate", "deactivate",
           "tag_new_task", "banner_html", "blueprints"]
