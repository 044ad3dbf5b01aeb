"""The core's own hook implementations, registered like a plugin.

Each default is ``trylast``, so any enabled plugin can replace it: a city
that wants other case numbers or smarter routing writes one hookimpl.
"""
from __future__ import annotations

from flask import current_app
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError

from core.config import fold_text
from core.hookspecs import hookimpl
from core.models import CaseSequence
from core.records import Notifier, RoleSpec, RoutingDecision


def next_number(session, prefix: str, year: int) -> int:
    """Take the next number for (prefix, year); the row stays locked until the caller commits."""
    for _ in range(5):
        stmt = (
            update(CaseSequence)
            .where(CaseSequence.prefix == prefix, CaseSequence.year == year)
            .values(last=CaseSequence.last + 1)
            .returning(CaseSequence.last)
            # No need to scan the session's objects for a CaseSequence to refresh (that scan grows with the session).
            .execution_options(synchronize_session=False)
        )
        number = session.execute(stmt).scalar()
        if number is not None:
            return number
        try:
            with session.begin_nested():
                session.add(CaseSequence(prefix=prefix, year=year, last=1))
            return 1
        except IntegrityError:  # another request created the row first: take the next one
            continue
    raise RuntimeError(f"could not take a case number for {prefix}-{year}")


@hookimpl(trylast=True)
def case_reference(case, session):
    prefix = current_app.extensions["civic"].config.city["case_prefix"]
    year = case.created_at.year
    return f"{prefix}-{year}-{next_number(session, prefix, year):06d}"


def _matches(rule: dict, case, tag_names: set[str]) -> bool:
    if rule.get("service") and rule["service"] != case.service_type.code:
        return False
    if rule.get("zone") and (case.zone or "").lower() != rule["zone"].lower():
        return False
    if rule.get("keywords"):
        text = fold_text(case.description or "")
        if not any(word in text for word in rule["keywords"]):
            return False
    if rule.get("tag") and rule["tag"] not in tag_names:
        return False
    return True


@hookimpl(trylast=True)
def route_case(case, session):
    """The city's routing rules in order (first match wins), then the catalog's department."""
    tag_names = {t.name for t in case.tags}
    for i, rule in enumerate(current_app.extensions["civic"].config.routing):
        if _matches(rule, case, tag_names):
            return RoutingDecision(rule["department"], rule.get("name") or f"routing[{i}]")
    return RoutingDecision(case.service_type.department.code, f"catalog:{case.service_type.code}")


# Roles as data: (view-name regex, permission regex).  FAB checks them in memory.
_READ = "can_list|can_show|can_get|can_info|menu_access"
_CASE_VIEWS = "CaseView|CaseApi|CaseEventView|AttachmentView|DashboardView|Dashboard|Cases"
_CATALOG = "DepartmentView|ServiceTypeView|TagView|ServiceTypeApi|DepartmentApi|Catalog"


@hookimpl(trylast=True)
def register_roles():
    from core.views import coordination_role_specs

    return [
        RoleSpec("Admin", ((".*", ".*"),)),
        RoleSpec(
            "Dispatcher",
            (
                (_CASE_VIEWS, ".*"),
                ("AccountView|AccountApi|Accounts", ".*"),
                (_CATALOG, _READ),
                ("UserInfoEditView|UtilView|ResetMyPasswordView", ".*"),
            ),
        ),
        RoleSpec(
            "Department staff",
            (
                (_CASE_VIEWS, "can_list|can_show|can_get|can_edit|can_put|can_add|can_post|can_act|can_download|can_info|menu_access"),
                ("AccountView|Accounts", _READ),
                (_CATALOG, _READ),
                ("UserInfoEditView|UtilView|ResetMyPasswordView", ".*"),
            ),
        ),
        RoleSpec(
            "Field crew",
            (
                (_CASE_VIEWS, "can_list|can_show|can_get|can_act|can_download|can_info|menu_access"),
                ("ServiceTypeApi|DepartmentApi", "can_get|can_info"),
                ("UserInfoEditView|UtilView|ResetMyPasswordView", ".*"),
            ),
        ),
        RoleSpec("Resident", ()),
        *coordination_role_specs(),
    ]


@hookimpl
def case_panels(case):
    from core.views import coordination_case_panels

    return coordination_case_panels(case)


@hookimpl(trylast=True)
def register_views():
    from core.views import core_view_specs

    return core_view_specs()


@hookimpl(trylast=True)
def register_apis():
    from core.api import core_apis

    return core_apis()


@hookimpl(trylast=True)
def register_notifiers():
    """E-mail through the SMTP server of CIVIC_SMTP_HOST (see core.notify)."""
    from core.notify import SmtpNotifier

    return [Notifier("email", SmtpNotifier.from_config(current_app.config).send)]


@hookimpl(trylast=True)
def user_locale(user_id):
    """The language of the user's resident account, if they have one; staff get the city's default
    (core.mail.staff_locale) unless a plugin (i18n) knows the language they chose."""
    from sqlalchemy import select

    from core.extensions import db
    from core.models import Account

    with db.session.no_autoflush:
        return db.session.scalar(select(Account.preferred_language).where(Account.user_id == user_id))


@hookimpl(trylast=True)
def report_subjects():
    from core.reports.cases import case_subject

    return [case_subject()]
