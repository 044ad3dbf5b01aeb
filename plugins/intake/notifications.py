"""Case e-mails to residents, queued in the outbox (``core.notify.enqueue``) and sent by the worker.

- **case received**: to the reporter (the case's contact e-mail, else its account's), with the
  number, what happens next and the expected date.  The reporter becomes a follower of the case
  then, so that every later e-mail goes to the followers and "stop following" really stops them;
- **status changes that matter to a resident** (``RESIDENT_STATUSES``): to the followers;
- **public notes**: to the followers (internal notes never leave the city);
- **closure** (resolved or closed): to the followers, the reporter's with the "Was this resolved?"
  link.

Each e-mail is written in its recipient's language (the account's preferred language, else the
language they followed in), in plain text and HTML (``plugins.intake.mail.render_mail``), carries a
"stop following" link, and names no staff member.  Someone whose account says "no e-mail"
(``Account.contact_by_email``) gets none.  A case recorded after the fact (an import, the demo's
year of history) is nobody's news: nothing is sent for a case created more than a day before.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app, has_request_context
from sqlalchemy import func, select
from werkzeug.routing import BuildError

from core.extensions import db
from core.i18n_content import current_locale, default_locale, localized
from core.models import Account, Case, CaseEvent
from core.models.base import utcnow
from core.notify import enqueue
from plugins.intake.following import follow, followers, status_in_plain_words, unfollow_url
from plugins.intake.links import public_url
from plugins.intake.mail import render_mail

log = logging.getLogger(__name__)

# Statuses a resident is told about; "new" is the case received, "duplicate" is staff bookkeeping.
RESIDENT_STATUSES = ("acknowledged", "in_progress", "on_hold", "resolved", "closed", "reopened")
CLOSURE_STATUSES = ("resolved", "closed")
NEWS_WINDOW = timedelta(days=1)


@dataclass(frozen=True)
class Recipient:
    email: str
    locale: str
    reporter: bool = False


# ---------------------------------------------------------------- links

def case_url(case: Case) -> str:
    return public_url("portal.case", reference=case.reference)


def unfollow_link(case: Case, email: str) -> str:
    try:
        return unfollow_url(case, email)
    except BuildError:  # the portal's unfollow page is not there: the case page still helps
        return case_url(case)


def survey_link(case: Case, email: str) -> str:
    try:
        from plugins.intake.satisfaction import survey_url

        return survey_url(case, email)
    except (ImportError, BuildError):
        return case_url(case)


# ---------------------------------------------------------------- who, in which language

def _offered(locale: str | None) -> str:
    offered = current_app.extensions["civic"].config.city["locales"]
    locale = (locale or "").replace("-", "_")
    for candidate in (locale, locale.split("_")[0]):
        if candidate in offered:
            return candidate
    return default_locale()


def reporter_email(case: Case) -> str | None:
    email = case.contact_email or (case.account.email if case.account else None)
    return email.strip().lower() if email else None


def reporter_locale(case: Case) -> str:
    """The account's language; for a guest on the portal, the language they reported in."""
    if case.account is not None:
        return _offered(case.account.preferred_language)
    if case.channel == "web" and has_request_context():
        return _offered(current_locale())
    return default_locale()


def _silenced(emails: set[str]) -> set[str]:
    """The addresses of accounts that asked for no e-mail."""
    if not emails:
        return set()
    stmt = select(func.lower(Account.email)).where(Account.contact_by_email.is_(False), func.lower(Account.email).in_(sorted(emails)))
    return set(db.session.scalars(stmt))


def recipients(case: Case) -> list[Recipient]:
    """The case's followers, each once and in their language, without those who turned e-mail off."""
    rows = followers(case)
    accounts = {a.id: a for a in db.session.scalars(select(Account).where(Account.id.in_({f.account_id for f in rows if f.account_id})))}
    silenced = _silenced({f.email for f in rows})
    reporter = reporter_email(case)
    out: list[Recipient] = []
    for f in rows:
        account = accounts.get(f.account_id)
        if f.email in silenced or (account is not None and not account.contact_by_email):
            continue
        locale = _offered(account.preferred_language if account is not None else f.locale)
        out.append(Recipient(f.email, locale, reporter=f.reason in ("reporter", "duplicate") or f.email == reporter))
    return out


# ---------------------------------------------------------------- the e-mails

def _is_news(case: Case) -> bool:
    return case.created_at is not None and case.created_at >= utcnow() - NEWS_WINDOW


def _queue(case: Case, template: str, kind: str, who: list[Recipient], **context) -> int:
    """Render ``template`` for each recipient in their language and queue it; commit once."""
    for r in who:
        unfollow = unfollow_link(case, r.email)
        extra = {"survey_url": survey_link(case, r.email)} if kind == "case_closed" and r.reporter else {}
        mail = render_mail(
            template, r.locale, case=case, case_url=case_url(case), unfollow_url=unfollow,
            service=localized(case.service_type, "name", r.locale),
            department=localized(case.department, "name", r.locale), plain_words=status_in_plain_words, **context, **extra,
        )
        enqueue(db.session, recipient=r.email, subject=mail.subject, body_text=mail.text, body_html=mail.html,
                locale=r.locale, kind=kind, related=f"case:{case.id}", unsubscribe_url=unfollow)
    db.session.commit()
    return len(who)


def _safely(what: str, case: Case, queue) -> None:
    """A problem with an e-mail must not undo or fail the change that caused it: log it loudly."""
    try:
        queue()
    except Exception:  # noqa: BLE001
        db.session.rollback()
        log.exception("could not queue the %s e-mails of case %s", what, case.reference)


def case_received(case: Case) -> None:
    """``case_created``: the reporter follows the case and is told it was received -- unless they declined
    e-mail updates (the phone desk sets ``case.reporter_declined_email`` before the hook fires)."""
    if not _is_news(case) or getattr(case, "reporter_declined_email", False):
        return
    email = reporter_email(case)
    if not email:
        return

    def queue():
        # A channel that knows the reporter's language (e-mail) makes them a follower in it first.
        locale = _offered(follow(case, email, account=case.account, locale=reporter_locale(case), reason="reporter").locale)
        if email in _silenced({email}) or (case.account is not None and not case.account.contact_by_email):
            return
        _queue(case, "case_received", "case_received", [Recipient(email, locale, reporter=True)])

    _safely("case received", case, queue)


def _latest_event(case: Case, kind: str) -> CaseEvent | None:
    stmt = select(CaseEvent).where(CaseEvent.case_id == case.id, CaseEvent.kind == kind).order_by(CaseEvent.id.desc()).limit(1)
    return db.session.scalar(stmt)


def status_changed(case: Case, old: str, new: str) -> None:
    """``case_status_changed``: tell the followers, when the new status means something to them."""
    if new not in RESIDENT_STATUSES or (new in CLOSURE_STATUSES and old in CLOSURE_STATUSES):
        return  # resolved -> closed: they were told at resolution

    def queue():
        event = _latest_event(case, "status_changed")
        note = event.body if event is not None and (event.data or {}).get("new") == new else ""
        if new in CLOSURE_STATUSES:
            _queue(case, "case_closed", "case_closed", recipients(case), status=new, note=note)
        else:
            _queue(case, "case_status", "case_status", recipients(case), status=new, note=note)

    _safely("status", case, queue)


def case_updated(case: Case, changes: dict) -> None:
    """``case_updated``: a public note goes to the followers; a merge moves the duplicate's followers to
    the parent.  Nothing else here (statuses have their hook)."""
    if "duplicate_of" in changes and case.duplicate_of is not None:
        _safely("merge", case, lambda: duplicate_merged(case, case.duplicate_of))
    if changes.get("note", (None, None))[1] != "public_note":
        return

    def queue():
        event = _latest_event(case, "public_note")
        if event is not None and event.public:
            who = recipients(case)
            if case.duplicate_of is not None:  # those who follow the parent hear it from there
                on_parent = {f.email for f in followers(case.duplicate_of)}
                who = [r for r in who if r.email not in on_parent]
            _queue(case, "case_note", "case_note", who, note=event.body)

    _safely("note", case, queue)


def duplicate_merged(duplicate: Case, parent: Case) -> None:
    """The duplicate's followers now follow the parent (its reporters as reporters: they get its survey),
    and each is told once, in their language, which case to follow from now on."""
    reporter = reporter_email(duplicate)
    for f in followers(duplicate):
        reported = f.reason in ("reporter", "duplicate") or f.email == reporter
        moved = follow(parent, f.email, locale=f.locale, reason="duplicate" if reported else "follow")
        if moved.account_id is None and f.account_id is not None:
            moved.account_id = f.account_id
    db.session.commit()
    told = recipients(duplicate)
    _queue(duplicate, "case_merged", "case_merged", told, parent=parent, parent_url=case_url(parent))
