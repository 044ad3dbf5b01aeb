"""One e-mail in, one outcome out: used by ``civic intake poll-email`` (IMAP) and ``civic intake email`` (MTA pipe).

- a message seen before (same Message-ID, or the same bytes when it has none) changes nothing;
- a message a machine sent (auto-reply, bounce, list, bulk, our own mail coming back) is recorded as
  ``ignored`` with its reason, never answered and never a case;
- a reply about a case (its number in the subject, or In-Reply-To/References naming a message of the
  case: the resident's first e-mail or one the city sent) becomes a note on that case: the resident's
  own note (``resident_note``: public on the case page as theirs, never as the city's) when the sender is
  its reporter or one of its followers, an internal (staff only) note otherwise.  A closed case
  gets the note too: staff decide whether to reopen it;
- anything else becomes a new case (service guessed from the catalog, else the triage service); the
  sender follows it, so the usual "case received" e-mail answers them in their language.

The case (or the note) and its ``InboundEmail`` row are committed together, before the IMAP message is
marked: after a crash in between, the next poll finds the row and only marks the message.  Files come
after that commit (a crash there loses files, never the case).  Logs name message keys and outcomes,
never addresses.
"""
from __future__ import annotations

import io
import logging
import re
from dataclasses import dataclass

from flask import current_app
from flask_babel import force_locale, gettext, lazy_gettext
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from core.extensions import db
from core.i18n_content import default_locale, localized
from core.models import Account, Case, OutboxMessage, ServiceType
from core.services.attachments import store_attachment
from core.services.cases import MAX_DESCRIPTION, Actor, CaseError, add_note, create_case
from plugins.intake.email.guess import guess_language, guess_service, offered_locale, required_attributes
from plugins.intake.email.parse import ParsedEmail, automatic_reason, formatted_address, message_key, parse_email
from plugins.intake.email.settings import EmailSettings, current
from plugins.intake.email.text import clamp, hide_addresses, tidy, trim_reply
from plugins.intake.following import follow
from plugins.intake.models import Follower, InboundEmail
from plugins.intake.reporting import MAX_PHOTOS

log = logging.getLogger(__name__)

# Who the timeline says did it.
ACTOR = Actor(label="email")
MAX_FILES = MAX_PHOTOS


class IngestError(Exception):
    """The message could not be taken in now (the city's settings or catalog); retry later.
    ``message`` may be lazy: it is shown in the language of whoever prints it."""

    def __init__(self, key: str, message):
        super().__init__(key, message)
        self.key, self.message = key, message

    def __str__(self) -> str:
        return f"{self.key}: {self.message}"


@dataclass(frozen=True)
class Outcome:
    """What became of a message: ``case`` (a new case; ``reason`` is its service), ``reply`` (a note on a
    case; ``reason`` says public or internal), ``ignored`` (``reason``: why) or ``duplicate`` (taken in
    before: nothing changed)."""

    kind: str
    key: str
    reason: str = ""
    reference: str = ""


# ---------------------------------------------------------------- our own mail


def _mail_from() -> str:
    from email.utils import parseaddr

    return parseaddr(current_app.config.get("CIVIC_MAIL_FROM") or "")[1].lower()


def own_addresses(settings: EmailSettings) -> set[str]:
    """The city's own addresses: mail from them is a loop."""
    found = {settings.address.lower(), _mail_from()}
    if "@" in settings.username:
        found.add(settings.username.lower())
    return {a for a in found if a}


def own_message_id() -> re.Pattern[str]:
    """The Message-IDs the outbox gives the e-mails it sends (``core.notify.SmtpNotifier``): ``<...outboxID@domain>``."""
    domain = _mail_from().rpartition("@")[2] or "localhost"
    return re.compile(rf"[.<]outbox(\d{{1,18}})@{re.escape(domain)}>", re.IGNORECASE)


# ---------------------------------------------------------------- which case a reply is about


def reference_pattern() -> re.Pattern[str]:
    prefix = current_app.extensions["civic"].config.city["case_prefix"]
    return re.compile(rf"\b{re.escape(prefix)}-\d{{4}}-\d+\b", re.IGNORECASE)


def find_case(session, email: ParsedEmail) -> Case | None:
    """The case a message answers: by In-Reply-To/References (a message of ours or of the case's
    first e-mail), else by the case number in the subject."""
    ours = own_message_id()
    for message_id in email.in_reply_to:
        match = ours.search(f"<{message_id}>")
        if match:
            sent = session.get(OutboxMessage, int(match.group(1)))
            if sent is not None and (sent.related or "").startswith("case:") and sent.related[5:].isdigit():
                case = session.get(Case, int(sent.related[5:]))
                if case is not None:
                    return case
    if email.in_reply_to:
        stmt = select(InboundEmail.case_id).where(InboundEmail.message_id.in_(email.in_reply_to[:50]), InboundEmail.case_id.is_not(None))
        case_id = session.scalar(stmt.order_by(InboundEmail.id).limit(1))
        if case_id is not None:
            return session.get(Case, case_id)
    for reference in reference_pattern().findall(email.subject):
        case = session.scalar(select(Case).where(Case.reference == reference.upper()))
        if case is not None:
            return case
    return None


def follows(session, case: Case, address: str) -> bool:
    """Whether ``address`` is the case's reporter or one of its followers."""
    if not address:
        return False
    reporter = (case.contact_email or (case.account.email if case.account else "") or "").strip().lower()
    if address == reporter:
        return True
    return session.scalar(select(Follower.id).where(Follower.case_id == case.id, Follower.email == address)) is not None


def failed_authentication(email: ParsedEmail) -> bool:
    """The receiving server says the sender's domain disowns this message (DMARC fail): the From is forged."""
    results = email.headers.get_all("Authentication-Results") or []
    return any(re.search(r"\bdmarc\s*=\s*fail\b", str(value), re.IGNORECASE) for value in results)


# ---------------------------------------------------------------- the outcomes


def _seen(session, key: str) -> InboundEmail | None:
    return session.scalar(select(InboundEmail).where(InboundEmail.message_key == key))


def _duplicate(session, key: str) -> Outcome:
    session.rollback()
    seen = _seen(session, key)
    return Outcome("duplicate", key, seen.outcome if seen else "", seen.case.reference if seen and seen.case else "")


def _ignore(session, email: ParsedEmail, key: str, reason: str) -> Outcome:
    session.add(InboundEmail(message_key=key, message_id=email.message_id, outcome="ignored", reason=reason))
    try:
        session.commit()
    except IntegrityError:
        return _duplicate(session, key)
    return Outcome("ignored", key, reason)


def _staff_note(session, case: Case, text: str) -> None:
    add_note(session, case, clamp(text, MAX_DESCRIPTION), ACTOR, public=False)


def _store_files(session, case: Case, email: ParsedEmail) -> None:
    """The message's files on the case (checked by content); each refused one is an internal note."""
    problems = []
    for item in email.attachments[:MAX_FILES]:
        name = item.filename or gettext("attachment")
        try:
            store_attachment(session, case, io.BytesIO(item.data), name, ACTOR, public=False)
        except CaseError as exc:
            problem = " ".join(str(m) for m in exc.errors.get("file", []))
            problems.append(gettext("%(name)s from the e-mail was not added: %(problem)s", name=name, problem=problem))
    extra = len(email.attachments[MAX_FILES:]) + email.skipped_attachments
    if extra:
        problems.append(gettext("%(count)d more files of the e-mail were not added (at most %(limit)d are kept).", count=extra, limit=MAX_FILES))
    if problems:
        _staff_note(session, case, "\n".join(problems))


def _shortened_note(session, case: Case, settings: EmailSettings) -> None:
    mb = max(1, settings.max_bytes // (1024 * 1024))
    _staff_note(session, case, gettext("The e-mail was larger than %(size)d MB: only its beginning was read, and files may be missing.", size=mb))


def _reply(session, email: ParsedEmail, key: str, case: Case, settings: EmailSettings, truncated: bool) -> Outcome:
    text = trim_reply(email.text, keep_all_when_empty=False)
    public = follows(session, case, email.sender) and not failed_authentication(email)
    if public:
        body = hide_addresses(text)
    else:
        heading = gettext("E-mail from an unrecognised sender (%(sender)s), not shown to the public:",
                          sender=formatted_address(email.sender_name, email.sender))
        body = f"{heading}\n\n{text}" if text else ""
    session.add(InboundEmail(message_key=key, message_id=email.message_id, outcome="reply", case=case))
    try:
        if body:
            add_note(session, case, clamp(body, MAX_DESCRIPTION), ACTOR, resident=public)  # commits the row too
        else:
            session.commit()
    except IntegrityError:
        return _duplicate(session, key)
    _store_files(session, case, email)
    if truncated:
        _shortened_note(session, case, settings)
    return Outcome("reply", key, "public" if public else "internal", case.reference)


def sender_locale(email: ParsedEmail, account: Account | None, text: str) -> str:
    """The sender's language: Content-Language, else their account's, else a guess from the text, else the city's."""
    return (
        offered_locale(email.content_language)
        or (offered_locale(account.preferred_language) if account is not None else None)
        or guess_language(f"{email.subject}\n{text}")
        or default_locale()
    )


def _new_case(session, email: ParsedEmail, key: str, settings: EmailSettings, truncated: bool) -> Outcome:
    triage = session.scalar(select(ServiceType).where(ServiceType.code == settings.triage_service, ServiceType.active.is_(True)))
    if triage is None:
        raise IngestError("intake.email.triage_service", lazy_gettext("no active service '%(code)s' in the catalog", code=settings.triage_service))
    account = session.scalar(select(Account).where(func.lower(Account.email) == email.sender).order_by(Account.id).limit(1))
    text = trim_reply(email.text)
    description = tidy("\n\n".join(part for part in (email.subject, text) if part))
    staff_notes = []
    service = guess_service(session, description, exclude=triage.code) or triage
    missing = required_attributes(service)
    if missing:
        staff_notes.append(gettext(
            "This e-mail looks like a report for %(service)s, which needs answers an e-mail does not give (%(questions)s): "
            "it was filed under %(triage)s for triage.",
            service=localized(service, "name"), questions="; ".join(d.get("description") or d["code"] for d in missing),
            triage=localized(triage, "name"),
        ))
        service = triage
    try:
        case = create_case(
            session, service_code=service.code, description=clamp(hide_addresses(description), MAX_DESCRIPTION), channel="email",
            account=account, contact_name=email.sender_name or None, contact_email=email.sender, actor=ACTOR, commit=False,
        )
    except CaseError as exc:
        session.rollback()
        raise IngestError(f"service {service.code}", str(exc)) from None
    session.add(InboundEmail(message_key=key, message_id=email.message_id, outcome="case", case=case))
    try:
        session.flush()
        # The sender follows the case in their language; this commits the case, its row and the follower together.
        follow(case, email.sender, account=account, locale=sender_locale(email, account, text), reason="reporter")
        session.commit()
    except IntegrityError:
        return _duplicate(session, key)
    current_app.extensions["civic"].pm.hook.case_created(case=case)  # the acknowledgement, as create_case would
    _store_files(session, case, email)
    for note in staff_notes:
        _staff_note(session, case, note)
    if truncated:
        _shortened_note(session, case, settings)
    return Outcome("case", key, service.code, case.reference)


def ingest(raw: bytes, settings: EmailSettings | None = None, *, truncated: bool = False) -> Outcome:
    """Take one message in (``raw``: its bytes, perhaps only the first ``max_bytes`` of it: ``truncated``).

    Raises IngestError when the city's settings stop it, and database errors as they come: the caller
    leaves the message where it is, to be tried again.
    """
    session = db.session
    settings = settings or current()
    email = parse_email(raw)
    key = message_key(email.message_id, raw)
    with force_locale(default_locale()):  # what staff read on the timeline is in the city's language
        if _seen(session, key) is not None:
            outcome = _duplicate(session, key)
        elif reason := automatic_reason(email, own_addresses(settings), own_message_id()):
            outcome = _ignore(session, email, key, reason)
        elif not (email.subject or email.text.strip() or email.attachments):
            outcome = _ignore(session, email, key, "empty")
        elif (case := find_case(session, email)) is not None:
            outcome = _reply(session, email, key, case, settings, truncated)
        else:
            outcome = _new_case(session, email, key, settings, truncated)
    log.info("e-mail %s: %s %s %s", key[:12], outcome.kind, outcome.reason, outcome.reference)
    return outcome
