"""``civic intake poll-email``: read the city's mailbox over IMAP and take each new message in.

Messages are read with ``BODY.PEEK`` (left unseen) and marked only after ``ingest`` has committed:
flagged ``\\Seen``, or moved to ``processed_folder`` (MOVE, or COPY + ``\\Deleted`` + EXPUNGE).  A message
that fails stays as it was and is tried again at the next poll; one larger than ``max_bytes`` is read
only up to that size (the case says so).
"""
from __future__ import annotations

import imaplib
import logging
import re
import ssl
from dataclasses import dataclass

from flask_babel import gettext

from core.extensions import db
from plugins.intake.email.ingest import IngestError, Outcome, ingest
from plugins.intake.email.settings import EmailSettings

log = logging.getLogger(__name__)


class MailboxError(Exception):
    """The mailbox cannot be used (connection, TLS, login, folder): one line for the admin."""


@dataclass
class PollReport:
    cases: int = 0
    notes: int = 0
    ignored: int = 0
    failed: int = 0

    def count(self, outcome: Outcome) -> None:
        if outcome.kind == "case":
            self.cases += 1
        elif outcome.kind == "reply":
            self.notes += 1
        else:  # ignored, or taken in before
            self.ignored += 1

    def line(self, folder: str) -> str:
        return gettext(
            "E-mail %(folder)s: new cases %(cases)d, notes %(notes)d, ignored %(ignored)d, failed %(failed)d",
            folder=folder, cases=self.cases, notes=self.notes, ignored=self.ignored, failed=self.failed,
        )


def quoted(folder: str) -> str:
    """An IMAP mailbox name as a quoted string."""
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _first_line(exc: BaseException) -> str:
    """An error as one line (imaplib's carry the server's bytes)."""
    text = exc.args[0].decode("utf-8", "replace") if exc.args and isinstance(exc.args[0], bytes) else str(exc)
    return (text.strip().splitlines() or [type(exc).__name__])[0][:300]


def connect(settings: EmailSettings, password: str) -> imaplib.IMAP4:
    """A signed-in IMAP connection (``ssl``, ``starttls`` or ``none``); MailboxError with one line when not."""
    server = f"{settings.host}:{settings.imap_port}"
    try:
        context = ssl.create_default_context(cafile=settings.ca_file or None)
        if settings.security == "ssl":
            conn = imaplib.IMAP4_SSL(settings.host, settings.imap_port, ssl_context=context, timeout=settings.timeout)
        else:
            conn = imaplib.IMAP4(settings.host, settings.imap_port, timeout=settings.timeout)
            if settings.security == "starttls":
                conn.starttls(context)
    except (OSError, imaplib.IMAP4.error) as exc:
        raise MailboxError(gettext("cannot connect to the mailbox %(server)s: %(problem)s", server=server, problem=_first_line(exc))) from None
    try:
        conn.login(settings.username, password)
    except (OSError, imaplib.IMAP4.error) as exc:
        _close(conn)
        raise MailboxError(gettext("cannot sign in to the mailbox %(server)s as %(user)s: %(problem)s",
                                   server=server, user=settings.username, problem=_first_line(exc))) from None
    return conn


def _close(conn: imaplib.IMAP4) -> None:
    try:
        conn.logout()
    except (OSError, imaplib.IMAP4.error):
        pass


def _check(result: tuple[str, list], what: str) -> list:
    typ, data = result
    if typ != "OK":
        problem = b" ".join(d for d in data if isinstance(d, bytes)).decode("utf-8", "replace")
        raise MailboxError(gettext("the mailbox refused %(what)s: %(problem)s", what=what, problem=problem[:300]))
    return data


def _fetch(conn: imaplib.IMAP4, uid: bytes, max_bytes: int) -> tuple[bytes, bool]:
    """The message's bytes, at most ``max_bytes`` of them, and whether it was cut."""
    data = _check(conn.uid("FETCH", uid, "(RFC822.SIZE)"), "FETCH")
    found = re.search(rb"RFC822\.SIZE (\d+)", data[0] if isinstance(data[0], bytes) else data[0][0])
    size = int(found.group(1)) if found else 0
    truncated = size > max_bytes
    query = f"(BODY.PEEK[]<0.{max_bytes}>)" if truncated else "(BODY.PEEK[])"
    data = _check(conn.uid("FETCH", uid, query), "FETCH")
    raw = next((item[1] for item in data if isinstance(item, tuple)), None)
    if raw is None:
        raise MailboxError(gettext("the mailbox sent no content for message %(uid)s", uid=uid.decode()))
    return raw, truncated


def _mark(conn: imaplib.IMAP4, uid: bytes, settings: EmailSettings, can_move: bool) -> None:
    if not settings.processed_folder:
        _check(conn.uid("STORE", uid, "+FLAGS", "(\\Seen)"), "STORE")
    elif can_move:
        _check(conn.uid("MOVE", uid, quoted(settings.processed_folder)), "MOVE")
    else:
        _check(conn.uid("COPY", uid, quoted(settings.processed_folder)), "COPY")
        _check(conn.uid("STORE", uid, "+FLAGS", "(\\Seen \\Deleted)"), "STORE")


def poll(settings: EmailSettings, password: str) -> PollReport:
    """Take in up to ``max_messages`` new messages of the folder; MailboxError when the mailbox fails."""
    report = PollReport()
    conn = connect(settings, password)
    try:
        _check(conn.select(quoted(settings.folder)), f"SELECT {settings.folder}")
        moving = bool(settings.processed_folder)
        if moving:
            conn.create(quoted(settings.processed_folder))  # NO when it exists already: fine
        can_move = "MOVE" in conn.capabilities
        data = _check(conn.uid("SEARCH", None, "UNDELETED" if moving else "UNSEEN UNDELETED"), "SEARCH")
        uids = (data[0] or b"").split()[: settings.max_messages]
        for uid in uids:
            raw, truncated = _fetch(conn, uid, settings.max_bytes)
            try:
                outcome = ingest(raw, settings, truncated=truncated)
            except Exception as exc:  # noqa: BLE001 -- this message stays in the mailbox; the others go on
                db.session.rollback()
                report.failed += 1
                why = str(exc) if isinstance(exc, IngestError) else type(exc).__name__  # never the message's content
                log.warning("e-mail uid %s not taken in (%s); left in the mailbox for the next poll", uid.decode(), why)
                continue
            report.count(outcome)
            _mark(conn, uid, settings, can_move)
        if moving and not can_move and uids:
            _check(conn.expunge(), "EXPUNGE")
    except (OSError, imaplib.IMAP4.error) as exc:
        raise MailboxError(gettext("the mailbox connection failed: %(problem)s", problem=_first_line(exc))) from None
    finally:
        _close(conn)
    return report
