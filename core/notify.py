"""Notifications: web requests write to the outbox; a worker delivers.

``enqueue`` is all a feature needs: it adds an ``OutboxMessage`` to the caller's session, and the
message goes out after the caller commits, never inside a web request.  The worker
(``civic notify run``, started by ``make run`` next to the server) calls ``deliver_due``:

1. **claim** the due messages (``pending`` and ``next_attempt_at <= now``), a few at a time, so that
   several workers never take the same one: on PostgreSQL ``SELECT ... FOR UPDATE SKIP LOCKED``, on
   SQLite a conditional ``UPDATE ... RETURNING`` (SQLite runs one writer at a time).  A claim counts
   the attempt and moves ``next_attempt_at`` past a lease (``LEASE``): a worker that dies while
   sending leaves the message to be claimed again when the lease ends, never lost;
2. **send** each through the ``Notifier`` of its channel (the ``register_notifiers`` hook; the core's
   default is ``SmtpNotifier`` for ``email``);
3. **record** the outcome: ``sent`` (``sent_at``), or the error in ``last_error`` and a retry after
   ``CIVIC_NOTIFY_RETRY_MINUTES`` (1, 5, 30 min, 2 h, 12 h), or ``failed`` after
   ``CIVIC_NOTIFY_MAX_ATTEMPTS`` attempts.  A channel nobody delivers is ``failed`` at once.
"""
from __future__ import annotations

import logging
import smtplib
import ssl
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from typing import Any

from flask import current_app
from sqlalchemy import and_, select, update
from sqlalchemy.orm import Session, object_session

from core.models import Case, OutboxMessage
from core.models.base import utcnow
from core.records import Notifier

log = logging.getLogger(__name__)

# A claimed message belongs to its worker this long; sending a chunk takes far less.
LEASE = timedelta(minutes=15)
# Messages claimed at a time: small, so a worker never holds many while it sends.
CLAIM_CHUNK = 10


def enqueue(
    session: Session,
    *,
    recipient: str,
    subject: str,
    body_text: str,
    body_html: str | None = None,
    locale: str = "en",
    kind: str = "",
    related: str | None = None,
    channel: str = "email",
    unsubscribe_url: str | None = None,
) -> OutboxMessage:
    """Queue one message; it is sent after the caller commits (never inside the web request)."""
    message = OutboxMessage(
        channel=channel, recipient=recipient, subject=subject[:300], body_text=body_text, body_html=body_html,
        locale=locale, kind=kind, related=related, unsubscribe_url=unsubscribe_url,
    )
    session.add(message)
    return message


# ---------------------------------------------------------------- notifiers


class UnknownChannel(Exception):
    """No enabled plugin delivers this channel: retrying would not help."""


def notifiers() -> dict[str, Notifier]:
    """The notifier of each channel.  The core's come first, so a plugin's notifier for a channel
    (an e-mail API instead of SMTP) replaces the core's; among plugins the later one wins."""
    found: dict[str, Notifier] = {}
    for record in current_app.extensions["civic"].pm.flatten("register_notifiers"):
        found[record.channel] = record
    return found


def auto_submitted(message: OutboxMessage) -> str:
    """RFC 3834's Auto-Submitted: "auto-replied" for the acknowledgement of a case reported by e-mail
    (it answers that e-mail), "auto-generated" for everything else."""
    related = message.related or ""
    session = object_session(message)
    if message.kind == "case_received" and related.startswith("case:") and related[5:].isdigit() and session is not None:
        if session.scalar(select(Case.channel).where(Case.id == int(related[5:]))) == "email":
            return "auto-replied"
    return "auto-generated"


class SmtpNotifier:
    """The ``email`` channel: one SMTP conversation per message, plain text plus HTML."""

    def __init__(self, host: str, port: int, *, sender: str, user: str | None = None, password: str | None = None,
                 tls: str = "none", timeout: float = 30, reply_to: str = ""):
        self.host, self.port, self.sender, self.reply_to = host, port, sender, reply_to
        self.user, self.password, self.tls, self.timeout = user, password, tls, timeout

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> SmtpNotifier:
        return cls(
            config["CIVIC_SMTP_HOST"], config["CIVIC_SMTP_PORT"], sender=config["CIVIC_MAIL_FROM"],
            user=config.get("CIVIC_SMTP_USER"), password=config.get("CIVIC_SMTP_PASSWORD"),
            tls=config.get("CIVIC_SMTP_TLS", "none"), timeout=config.get("CIVIC_SMTP_TIMEOUT", 30),
            reply_to=config.get("CIVIC_MAIL_REPLY_TO", ""),
        )

    def build(self, message: OutboxMessage) -> EmailMessage:
        """The e-mail for an outbox message: multipart/alternative when it has HTML."""
        mail = EmailMessage()
        mail["From"] = self.sender
        mail["To"] = message.recipient
        mail["Subject"] = message.subject
        if self.reply_to:
            mail["Reply-To"] = self.reply_to
        mail["Date"] = formatdate(usegmt=True)
        domain = parseaddr(self.sender)[1].rpartition("@")[2] or "localhost"
        mail["Message-ID"] = make_msgid(f"outbox{message.id}", domain=domain)
        mail["Auto-Submitted"] = auto_submitted(message)  # RFC 3834: no vacation replies to a robot
        mail["X-Auto-Response-Suppress"] = "All"
        if message.unsubscribe_url:
            mail["List-Unsubscribe"] = f"<{message.unsubscribe_url}>"
        mail.set_content(message.body_text)
        if message.body_html:
            mail.add_alternative(message.body_html, subtype="html")
        mail["Content-Language"] = message.locale.replace("_", "-")  # after the body: set_content drops Content-*
        return mail

    def send(self, message: OutboxMessage) -> None:
        mail = self.build(message)
        context = ssl.create_default_context()
        if self.tls == "ssl":
            smtp = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=context)
        else:
            smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        with smtp:
            if self.tls == "starttls":
                smtp.starttls(context=context)
            if self.user:
                smtp.login(self.user, self.password or "")
            smtp.send_message(mail)


# ---------------------------------------------------------------- the worker


@dataclass
class DeliveryReport:
    """What one ``deliver_due`` did."""

    sent: int = 0
    retrying: int = 0
    failed: int = 0

    @property
    def claimed(self) -> int:
        return self.sent + self.retrying + self.failed

    def add(self, other: DeliveryReport) -> None:
        self.sent += other.sent
        self.retrying += other.retrying
        self.failed += other.failed


def _engine():
    from core.extensions import db

    return db.engine


def claim_due(session: Session, limit: int) -> list[int]:
    """Take up to ``limit`` due messages for this worker and commit the claim; their ids.

    The claim counts an attempt and leases the message (``next_attempt_at`` moves past ``LEASE``),
    so no other worker takes it meanwhile and a crashed worker's message comes back later.
    """
    now = utcnow()
    due = and_(OutboxMessage.status == "pending", OutboxMessage.next_attempt_at <= now)
    oldest_first = (OutboxMessage.next_attempt_at, OutboxMessage.id)
    lease = {"attempts": OutboxMessage.attempts + 1, "next_attempt_at": now + LEASE}
    if session.get_bind().dialect.name == "postgresql":
        # Rows another worker holds are skipped, not waited for.
        ids = list(session.scalars(select(OutboxMessage.id).where(due).order_by(*oldest_first).limit(limit).with_for_update(skip_locked=True)))
        if ids:
            session.execute(update(OutboxMessage).where(OutboxMessage.id.in_(ids)).values(**lease).execution_options(synchronize_session=False))
    else:
        # SQLite: this UPDATE is the transaction's first statement, so it waits for the write lock and
        # then reads the latest rows; the repeated `due` condition makes the claim conditional.
        candidates = select(OutboxMessage.id).where(due).order_by(*oldest_first).limit(limit).scalar_subquery()
        stmt = update(OutboxMessage).where(OutboxMessage.id.in_(candidates), due).values(**lease).returning(OutboxMessage.id)
        ids = list(session.scalars(stmt.execution_options(synchronize_session=False)))
    session.commit()
    return sorted(ids)


def retry_delay(attempts: int, minutes: tuple[int, ...] | list[int]) -> timedelta:
    """The wait after the ``attempts``-th failed attempt (the last delay repeats)."""
    return timedelta(minutes=minutes[min(attempts, len(minutes)) - 1])


def _error_text(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:2000]


def _deliver(session: Session, message_id: int, channels: dict[str, Notifier], report: DeliveryReport) -> None:
    message = session.get(OutboxMessage, message_id)
    if message is None or message.status != "pending":
        return
    config = current_app.config
    notifier = channels.get(message.channel)
    try:
        if notifier is None:
            known = ", ".join(sorted(channels)) or "none"
            raise UnknownChannel(f"no notifier for channel '{message.channel}': no enabled plugin registers one (channels: {known})")
        notifier.send(message)
    except UnknownChannel as exc:
        message.status, message.last_error = "failed", str(exc)
        report.failed += 1
        log.error("outbox message %s failed: %s", message.id, exc)
    except Exception as exc:  # noqa: BLE001 -- whatever a notifier raises, the message is kept and retried
        message.last_error = _error_text(exc)
        if message.attempts >= config["CIVIC_NOTIFY_MAX_ATTEMPTS"]:
            message.status = "failed"
            report.failed += 1
            log.error("outbox message %s failed after %s attempts: %s", message.id, message.attempts, type(exc).__name__)
        else:
            message.next_attempt_at = utcnow() + retry_delay(message.attempts, config["CIVIC_NOTIFY_RETRY_MINUTES"])
            report.retrying += 1
            log.warning("outbox message %s not delivered (attempt %s), retrying: %s", message.id, message.attempts, type(exc).__name__)
    else:
        message.status, message.sent_at = "sent", utcnow()
        report.sent += 1
    session.commit()


def deliver_due(limit: int = 100) -> DeliveryReport:
    """Deliver up to ``limit`` due messages of the outbox (needs an app context); safe to run in
    several workers at once.  Uses a session of its own: the caller's session is left alone."""
    channels = notifiers()
    report = DeliveryReport()
    with Session(_engine()) as session:
        while report.claimed < limit:
            ids = claim_due(session, min(CLAIM_CHUNK, limit - report.claimed))
            if not ids:
                break
            for message_id in ids:
                _deliver(session, message_id, channels, report)
    return report


def run_worker(*, interval: float = 10.0, once: bool = False, limit: int = 100,
               stop: threading.Event | None = None, on_report: Callable[[DeliveryReport], None] | None = None) -> DeliveryReport:
    """Deliver until ``stop`` is set (``once``: until nothing is due), polling every ``interval`` seconds."""
    stop = stop or threading.Event()
    total = DeliveryReport()
    while not stop.is_set():
        report = deliver_due(limit)
        total.add(report)
        if report.claimed and on_report:
            on_report(report)
        more = background_work(drain=once)
        if report.claimed < limit and not more:  # the outbox had nothing more due, nor the plugins' queues
            if once:
                break
            stop.wait(interval)
    return total


def background_work(drain: bool = False) -> bool:
    """The plugins' queued work (``background_work`` hook: Open311 requests accepted during a surge...); True
    when some of it said more is waiting.  One plugin failing does not stop the worker: it is logged."""
    try:
        return any(current_app.extensions["civic"].pm.hook.background_work(drain=drain))
    except Exception:  # noqa: BLE001 -- the outbox must keep going; the next round tries again
        log.exception("background work failed")
        return False

