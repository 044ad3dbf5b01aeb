"""Retention and anonymisation of residents' personal data (``civic privacy anonymise``, docs/privacy.md).

Personal data here: a resident's name, e-mail, phone, utility account number and login, and the contact
fields of a case (``contact_name``, ``contact_email``, ``contact_phone``).  Anonymising never deletes a
case nor a timeline entry: the case keeps its service, place, description and history (the city still
reports on it, FEMA still claims it), loses who reported it, and gets one new private timeline entry
saying so.  Plugins forget what they keep about the same people through the ``forget_contact`` hook.

Two rules, both read from the city config's ``[privacy]`` section:
- an account unused for ``inactive_resident_days`` (no sign-in, no report, no portal action, no open
  case) is anonymised like an account the resident closed;
- a closed case reported without an account loses its contact fields ``case_contact_days`` after it closed,
  and plugins clear the contact details they recorded outside of cases as long ago (hook ``expire_contacts``:
  the phone desk's callers).
"""
from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Iterable

from flask import current_app
from sqlalchemy import delete, exists, func, null, or_, select, update
from sqlalchemy.orm import Session
from werkzeug.security import generate_password_hash
from werkzeug.serving import WSGIRequestHandler
from werkzeug.serving import _log as _werkzeug_log

from core.models import CLOSED_STATUSES, OPEN_STATUSES, Account, Case, CaseEvent, OutboxMessage, User
from core.models.base import utcnow

CLOSED_NAME = "Closed account"
CONTACT_FIELDS = ("contact_name", "contact_email", "contact_phone")
RESIDENT_ROLES = frozenset({"Resident", "Public"})  # an account whose login has any other role is staff: never touched
ANONYMISED_RECIPIENT = "anonymised@invalid"  # what a sent e-mail's recipient becomes (the column is required)
# A portal action moves ``Account.last_active_at`` at most this often (one UPDATE per resident per hour).
ACTIVITY_RESOLUTION = timedelta(hours=1)
CASE_BATCH = 500  # expired case contacts cleared per transaction


@dataclass
class RetentionReport:
    """What a retention run changed (or, with ``dry_run``, would change)."""

    accounts: list[int] = field(default_factory=list)  # ids of the accounts anonymised
    account_cases: int = 0  # cases of those accounts that lost their contact details
    cases: list[str] = field(default_factory=list)  # references of anonymous reporters' closed cases cleared
    skipped_staff: int = 0  # inactive accounts left alone because their login is a staff login
    other_records: int = 0  # plugins' records that lost their contact details (phone calls...: hook expire_contacts)
    dry_run: bool = False


# ---------------------------------------------------------------- activity

def touch(account: Account, now: datetime | None = None) -> None:
    """Note a portal action of the resident (sign-in, report, follow, preferences...); the caller commits."""
    now = now or utcnow()
    if account.last_active_at is None or now - account.last_active_at >= ACTIVITY_RESOLUTION:
        account.last_active_at = now


def inactive_accounts(session: Session, cutoff: datetime) -> list[Account]:
    """Accounts not anonymised yet with no sign of life since ``cutoff`` and no open case."""
    recent_case = exists().where(Case.account_id == Account.id, Case.created_at >= cutoff)
    open_case = exists().where(Case.account_id == Account.id, Case.status.in_(sorted(OPEN_STATUSES)))
    recent_login = exists().where(User.id == Account.user_id, User.last_login >= cutoff)
    stmt = (
        select(Account)
        .where(Account.anonymised_at.is_(None), func.coalesce(Account.last_active_at, Account.created_at) < cutoff,
               Account.created_at < cutoff, ~recent_case, ~open_case, ~recent_login)
        .order_by(Account.id)
    )
    return list(session.scalars(stmt))


def is_staff_login(user: User | None) -> bool:
    return user is not None and any(role.name not in RESIDENT_ROLES for role in user.roles)


# ---------------------------------------------------------------- anonymising

def _hook():
    return current_app.extensions["civic"].pm.hook


def _note_anonymised(session: Session, case: Case, what: list[str], actor_label: str) -> None:
    """A new private timeline entry (the timeline is append-only: earlier entries stay as they are)."""
    session.add(CaseEvent(case=case, kind="updated", actor_label=actor_label, public=False, body="", data={"anonymised": what}))


def _scrub_outbox(session: Session, emails: set[str], related: Iterable[str] | None = None) -> None:
    """Drop the pending e-mails to these addresses and blank the ones already sent (they named the person)."""
    if not emails:
        return
    to_them = func.lower(OutboxMessage.recipient).in_(sorted(emails))
    scope = [to_them] if related is None else [to_them, OutboxMessage.related.in_(list(related))]
    session.execute(delete(OutboxMessage).where(*scope, OutboxMessage.status == "pending").execution_options(synchronize_session=False))
    session.execute(
        update(OutboxMessage).where(*scope)
        .values(recipient=ANONYMISED_RECIPIENT, body_text="", body_html=null(), unsubscribe_url=null())
        .execution_options(synchronize_session=False)
    )


def anonymise_account(session: Session, account: Account, user: User | None = None, *, actor_label: str = "portal",
                      now: datetime | None = None) -> int:
    """Anonymise a resident (closing their account, or retention): their cases keep everything but who
    reported them, plugins forget them (follows, survey answers' link to them), e-mails to them go, the
    account keeps no personal data and the login is deactivated under a scrambled name.  Returns the
    number of cases changed; the caller commits."""
    now = now or utcnow()
    email = (account.email or "").strip().lower()
    if user is None and account.user_id is not None:
        user = session.get(User, account.user_id)
    emails = {e for e in (email, (user.email or "").strip().lower() if user is not None else "") if e}
    cases = list(session.scalars(select(Case).where(Case.account_id == account.id)))
    for case in cases:
        emails.update(e.strip().lower() for e in [case.contact_email] if e)
        case.contact_name = case.contact_email = case.contact_phone = None
        case.account_id = None
        case.updated_at = now
        _note_anonymised(session, case, [*CONTACT_FIELDS, "account"], actor_label)
    session.flush()
    _hook().forget_contact(session=session, account=account, emails=sorted(emails), case_ids=None)
    _scrub_outbox(session, emails)
    account.name = CLOSED_NAME
    account.email = account.phone = account.utility_account_number = None
    account.contact_by_email = False
    account.preferences = {}
    account.user_id = None
    account.anonymised_at = now
    if user is not None:
        scrambled = f"closed-{secrets.token_hex(8)}"
        user.username = scrambled
        user.email = f"{scrambled}@closed.invalid"
        user.first_name, user.last_name = "Closed", "account"
        user.password = generate_password_hash(secrets.token_urlsafe(32))  # a password nobody knows
        user.active = False
        user.roles = []
    return len(cases)


def expired_contact_cases(session: Session, cutoff: datetime, limit: int | None = None) -> list[Case]:
    """Closed cases without an account, closed before ``cutoff``, that still carry contact details
    (the first ``limit`` of them by id)."""
    has_contact = or_(*(getattr(Case, name).is_not(None) for name in CONTACT_FIELDS))
    stmt = (
        select(Case)
        .where(Case.account_id.is_(None), Case.status.in_(sorted(CLOSED_STATUSES)), Case.closed_at.is_not(None),
               Case.closed_at < cutoff, has_contact)
        .order_by(Case.id).limit(limit)
    )
    return list(session.scalars(stmt))


def anonymise_case_contact(session: Session, case: Case, *, actor_label: str = "retention", now: datetime | None = None) -> None:
    """Clear a case's contact fields; plugins forget that reporter on this case only.  The caller commits."""
    emails = sorted({case.contact_email.strip().lower()} if case.contact_email else set())
    cleared = [name for name in CONTACT_FIELDS if getattr(case, name) is not None]
    case.contact_name = case.contact_email = case.contact_phone = None
    case.updated_at = now or utcnow()
    _note_anonymised(session, case, cleared, actor_label)
    session.flush()
    _hook().forget_contact(session=session, account=None, emails=emails, case_ids=[case.id])
    _scrub_outbox(session, set(emails), related=[f"case:{case.id}"])


# ---------------------------------------------------------------- logs

# Flask-AppBuilder's log lines that carry a user's name, username or e-mail (its ``const.LOGMSG_*`` templates).
_FAB_USER_MESSAGES = ("LOGMSG_WAR_SEC_LOGIN_FAILED", "LOGMSG_INF_SEC_ADD_USER", "LOGMSG_INF_SEC_UPD_USER", "LOGMSG_INF_SEC_DEL_USER",
                      "LOGMSG_ERR_SEC_ADD_USER", "LOGMSG_ERR_SEC_UPD_USER", "LOGMSG_ERR_SEC_DEL_USER", "LOGMSG_ERR_SEC_ADD_REGISTER_USER",
                      "LOGMSG_ERR_SEC_DEL_REGISTER_USER", "LOGMSG_ERR_SEC_NO_REGISTER_HASH", "LOGMSG_WAR_SEC_NOLDAP_OBJ")
_FAB_LOGGERS = ("flask_appbuilder.security.manager", "flask_appbuilder.security.sqla.manager", "flask_appbuilder.security.registerviews")


class HideUserNames(logging.Filter):
    """Keeps Flask-AppBuilder's security lines ("Login Failed for user: %s", "Updated user %s"...) but not the
    person they name: a resident's username is their e-mail, their first name their full name."""

    def __init__(self) -> None:
        super().__init__()
        from flask_appbuilder import const

        self.templates = {getattr(const, name) for name in _FAB_USER_MESSAGES if hasattr(const, name)}

    def filter(self, record: logging.LogRecord) -> bool:
        if record.msg in self.templates and record.args:
            args = record.args if isinstance(record.args, tuple) else (record.args,)
            record.args = tuple("(hidden)" for _ in args)
        return True


def hide_personal_data_in_logs() -> None:
    """Install the filters above (once per process; create_app calls it)."""
    for name in _FAB_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, HideUserNames) for f in logger.filters):
            logger.addFilter(HideUserNames())


class AccessLogWithoutAddress(WSGIRequestHandler):
    """Werkzeug's request handler (``civic serve``) whose access log leaves out the client's address, which is
    personal data: ``- - - [date] "GET /portal/ HTTP/1.1" 200 -``.  The app still sees the address (rate limits)."""

    def log(self, type: str, message: str, *args) -> None:
        _werkzeug_log(type, f"- - - [{self.log_date_time_string()}] {message}\n", *args)


# ---------------------------------------------------------------- the retention run

def run_retention(session: Session, *, inactive_resident_days: int, case_contact_days: int, dry_run: bool = False,
                  now: datetime | None = None) -> RetentionReport:
    """Apply both retention rules (see the module docstring); commits unless ``dry_run``.  Idempotent."""
    now = now or utcnow()
    report = RetentionReport(dry_run=dry_run)
    for account in inactive_accounts(session, now - timedelta(days=inactive_resident_days)):
        user = session.get(User, account.user_id) if account.user_id is not None else None
        if is_staff_login(user):
            report.skipped_staff += 1
            continue
        report.accounts.append(account.id)
        if dry_run:
            report.account_cases += session.scalar(select(func.count()).select_from(Case).where(Case.account_id == account.id))
        else:
            report.account_cases += anonymise_account(session, account, user, actor_label="retention", now=now)
    contact_cutoff = now - timedelta(days=case_contact_days)
    report.other_records = sum(n or 0 for n in _hook().expire_contacts(session=session, before=contact_cutoff))
    if dry_run:
        report.cases = [case.reference for case in expired_contact_cases(session, contact_cutoff)]
        session.rollback()
        return report
    session.commit()
    while True:  # a batch per transaction: a first run on a city's whole history must not hold one huge one
        batch = expired_contact_cases(session, contact_cutoff, limit=CASE_BATCH)
        for case in batch:
            report.cases.append(case.reference)
            anonymise_case_contact(session, case, now=now)
        session.commit()
        if len(batch) < CASE_BATCH:
            return report


__all__ = ["CLOSED_NAME", "CONTACT_FIELDS", "RetentionReport", "touch", "inactive_accounts", "anonymise_account",
           "expired_contact_cases", "anonymise_case_contact", "run_retention", "AccessLogWithoutAddress", "HideUserNames",
           "hide_personal_data_in_logs"]
