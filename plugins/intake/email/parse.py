"""An RFC 822 message as a clean record: who sent it, the text they wrote, their files, how it threads,
the language it says it is in, and whether a machine sent it (auto-reply, bounce, list, loop)."""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.headerregistry import Address
from email.message import Message
from email.utils import parseaddr

from plugins.intake.email.text import html_to_text, tidy

MAX_ATTACHMENTS = 20  # parts looked at; the channel keeps fewer (see ingest.MAX_FILES)
LOGO_BYTES = 16 * 1024  # an inline image the HTML shows that is smaller than this is a signature logo
MESSAGE_ID = re.compile(r"<([^<>\s]+)>")
RE_PREFIX = re.compile(r"^\s*(?:(?:re|aw|sv|vs|rif|réf|ref|tr|fw|fwd|wg)\s*(?:\[\d+\])?\s*:\s*)+", re.IGNORECASE)


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str
    data: bytes


@dataclass
class ParsedEmail:
    """What the channel needs from one message (text already safe plain text)."""

    sender: str  # the From address, lower case ("" when none)
    sender_name: str
    subject: str  # without Re:/Fwd: prefixes
    text: str  # the body as plain text (quoted history still in: see text.trim_reply)
    attachments: list[Attachment]
    skipped_attachments: int  # attachments beyond MAX_ATTACHMENTS
    message_id: str  # without angle brackets ("" when none)
    in_reply_to: list[str]  # In-Reply-To then References, without angle brackets
    content_language: str  # "fr", "fr-CA"... ("" when none)
    headers: Message = field(repr=False)  # the parsed message, for the automatic-sender checks


def _header(msg: Message, name: str) -> str:
    try:
        value = msg.get(name)
    except Exception:  # noqa: BLE001 -- a header the parser cannot make sense of counts as absent
        return ""
    return str(value or "").strip()


def _decode(part: Message) -> str:
    """A text part as str, whatever its charset says (an unknown charset: UTF-8, then Latin-1)."""
    payload = part.get_payload(decode=True) or b""
    charset = part.get_content_charset() or "utf-8"
    for candidate in (charset, "utf-8", "cp1252"):
        try:
            return payload.decode(candidate)
        except (LookupError, UnicodeDecodeError):
            continue
    return payload.decode("latin-1")


def _filename(part: Message) -> str:
    try:
        return _decoded(part.get_filename() or "")
    except Exception:  # noqa: BLE001 -- a broken RFC 2231 name
        return ""


def _cid_references(html: str) -> set[str]:
    return {m.lower() for m in re.findall(r"cid:([^\"'\s>)]+)", html, flags=re.IGNORECASE)}


def _body_and_files(msg: Message) -> tuple[str, str, list[Message]]:
    """The first text/plain and text/html bodies, and the parts that are files."""
    plain = html = None
    files: list[Message] = []
    for part in msg.walk():
        if part.is_multipart():
            continue
        ctype = part.get_content_type()
        disposition = (part.get_content_disposition() or "").lower()
        if disposition != "attachment" and ctype == "text/plain" and plain is None and not _filename(part):
            plain = _decode(part)
        elif disposition != "attachment" and ctype == "text/html" and html is None and not _filename(part):
            html = _decode(part)
        elif disposition == "attachment" or _filename(part) or ctype.startswith("image/") or ctype == "application/pdf":
            files.append(part)
    return plain or "", html or "", files


def message_ids(value: str) -> list[str]:
    """The ``<id>`` values of a Message-ID, In-Reply-To or References header, without brackets."""
    return MESSAGE_ID.findall(value or "")


def message_key(message_id: str, raw: bytes) -> str:
    """SHA-256 of the normalised Message-ID (the raw bytes' when the message has none)."""
    if message_id:
        return hashlib.sha256(message_id.strip().strip("<>").lower().encode("utf-8", "replace")).hexdigest()
    return hashlib.sha256(raw).hexdigest()


def clean_subject(subject: str) -> str:
    return tidy(RE_PREFIX.sub("", " ".join(subject.split())))


def parse_email(raw: bytes) -> ParsedEmail:
    """Parse a message; never raises on malformed input (odd parts are skipped, odd headers ignored)."""
    msg = message_from_bytes(raw, policy=policy.compat32)  # compat32: broken headers stay text, never raise
    name, sender = parseaddr(_decoded_header(msg, "From"))
    plain, html, file_parts = _body_and_files(msg)
    text = tidy(plain) if plain.strip() else html_to_text(html, drop_quotes=True)
    referenced = _cid_references(html)
    attachments = []
    for part in file_parts[:MAX_ATTACHMENTS]:
        data = part.get_payload(decode=True) or b""
        cid = _header(part, "Content-ID").strip("<>").lower()
        if cid and cid in referenced and len(data) < LOGO_BYTES:
            continue  # a logo in the sender's signature
        attachments.append(Attachment(_filename(part), part.get_content_type(), data))
    raw_id = _header(msg, "Message-ID")
    message_id = next(iter(message_ids(raw_id)), "") or (raw_id.split() or [""])[0]  # <id>, or a bare id
    threads = message_ids(_header(msg, "In-Reply-To")) + message_ids(_header(msg, "References"))
    return ParsedEmail(
        sender=sender.strip().lower() if "@" in sender and len(sender) <= 254 else "",
        sender_name=tidy(name)[:200],
        subject=clean_subject(_decoded_header(msg, "Subject")),
        text=text,
        attachments=attachments,
        skipped_attachments=max(0, len(file_parts) - MAX_ATTACHMENTS),
        message_id=message_id[:500],
        in_reply_to=list(dict.fromkeys(threads)),
        content_language=_header(msg, "Content-Language").split(",")[0].strip(),
        headers=msg,
    )


def _decoded_header(msg: Message, name: str) -> str:
    return _decoded(_header(msg, name))


def _decoded(value: str) -> str:
    """A header value with its RFC 2047 encoded words decoded (``=?utf-8?q?...?=``)."""
    from email.header import decode_header, make_header

    try:
        return str(make_header(decode_header(value)))
    except Exception:  # noqa: BLE001 -- an unknown charset or a broken encoded word: keep it as it came
        return value


# ---------------------------------------------------------------- automatic senders


def automatic_reason(email: ParsedEmail, own_addresses: set[str], own_message_id: re.Pattern[str] | None) -> str:
    """Why a machine, not a person, sent this message ("" when a person did).

    ``loop``: our own address or Message-ID, or an X-Loop header; ``bounce``: a delivery report,
    MAILER-DAEMON or an empty Return-Path; ``auto-reply``: RFC 3834 Auto-Submitted or the usual
    auto-responder headers; ``list``/``bulk``: mailing lists and bulk mail.  A vacation-like subject
    alone proves nothing and is not looked at.
    """
    msg = email.headers
    if email.sender and email.sender in own_addresses:
        return "loop"
    if _header(msg, "X-Loop"):
        return "loop"
    if own_message_id is not None and email.message_id and own_message_id.search(f"<{email.message_id}>"):
        return "loop"
    ctype = msg.get_content_type()
    if ctype == "multipart/report" and (msg.get_param("report-type") or "").lower() == "delivery-status":
        return "bounce"
    if email.sender.split("@")[0] == "mailer-daemon":
        return "bounce"
    return_path = msg.get("Return-Path")
    if return_path is not None and str(return_path).strip() in ("<>", ""):
        return "bounce"
    auto_submitted = _header(msg, "Auto-Submitted").split(";")[0].strip().lower()
    if auto_submitted and auto_submitted != "no":
        return "auto-reply"
    if _header(msg, "X-Autoreply") or _header(msg, "X-Autorespond") or _header(msg, "X-Autoresponder"):
        return "auto-reply"
    precedence = _header(msg, "Precedence").lower()
    if precedence == "auto_reply":
        return "auto-reply"
    if _header(msg, "List-Id") or precedence == "list":
        return "list"
    if precedence in ("bulk", "junk"):
        return "bulk"
    if not email.sender:
        return "no-sender"
    return ""


def formatted_address(name: str, address: str) -> str:
    """``Name <address>`` for display (staff-only notes)."""
    try:
        return str(Address(display_name=name, addr_spec=address)) if name else address
    except (ValueError, IndexError):
        return address
