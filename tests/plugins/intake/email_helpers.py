"""Helpers for the e-mail channel's tests: messages as a mail program writes them, the channel's settings
pointed at the test Dovecot, and what the database says became of a message."""
from __future__ import annotations

import io
import uuid
from datetime import datetime, timezone
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

import pytest
import sqlalchemy as sa
from PIL import Image

CITY_ADDRESS = "311@palmcoast.example.gov"
PASSWORD_ENV = "CIVIC_TEST_IMAP_PASSWORD"


def tag() -> str:
    return uuid.uuid4().hex[:10]


def address(name: str = "resident") -> str:
    return f"{name}.{tag()}@example.org"


def jpeg(size=(64, 48)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 120, 40)).save(out, "JPEG")
    return out.getvalue()


def message(
    *,
    sender: str,
    subject: str = "Streetlight out on Palm Coast Pkwy",
    text: str | None = "The streetlight in front of 12 Palm Coast Pkwy has been dark for three nights.",
    html: str | None = None,
    headers: dict[str, str] | None = None,
    attachments: list[tuple[str, str, bytes]] = (),
    message_id: str | None = None,  # None: a new one; "": none at all
    charset: str = "utf-8",
) -> tuple[bytes, str]:
    """An RFC 822 message (bytes) and its Message-ID (without brackets)."""
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = f"Palm Coast 311 <{CITY_ADDRESS}>"
    mail["Subject"] = subject
    mail["Date"] = format_datetime(datetime.now(timezone.utc))
    mid = make_msgid(tag(), domain="mail.example.org") if message_id is None else message_id
    if mid:  # "": a message without a Message-ID
        mail["Message-ID"] = mid if mid.startswith("<") else f"<{mid}>"
    if text is not None:
        mail.set_content(text, charset=charset, cte="quoted-printable" if charset != "utf-8" else None)
        if html is not None:
            mail.add_alternative(html, subtype="html", charset=charset)
    elif html is not None:
        mail.set_content(html, subtype="html", charset=charset)
    for filename, content_type, data in attachments:
        maintype, subtype = content_type.split("/")
        mail.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    for name, value in (headers or {}).items():  # after the body: set_content drops Content-* headers
        mail[name] = value
    return mail.as_bytes(), mid.strip("<>")


def settings_table(server, **overrides) -> dict:
    """``[intake.email]`` for the test Dovecot: IMAPS with the fixture's certificate as CA file."""
    table = {
        "host": server.host, "port": server.ssl_port, "security": "ssl", "username": server.user,
        "password_env": PASSWORD_ENV, "ca_file": server.ca_file, "address": CITY_ADDRESS,
    }
    table.update(overrides)
    return {k: v for k, v in table.items() if v is not None}


def run_cli(app, *args, table: dict | None = None, env: dict | None = None, input: bytes | None = None):
    """``civic ARGS`` in this process against the test app, with ``[intake.email]`` set to ``table``."""
    from core.cli import cli

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FLASK_RUN_FROM_CLI", "false")
        mp.setitem(app.extensions["civic"].plugin_config["intake"], "email", table or {})
        for name, value in (env or {}).items():
            if value is None:
                mp.delenv(name, raising=False)
            else:
                mp.setenv(name, value)
        return app.test_cli_runner().invoke(cli, list(args), input=input)


def poll(app, server, **overrides):
    """``civic intake poll-email`` against the test Dovecot."""
    return run_cli(app, "intake", "poll-email", table=settings_table(server, **overrides), env={PASSWORD_ENV: server.password})


def inbound(app, message_id: str) -> dict | None:
    """What the channel recorded for a message (``InboundEmail``), with its case's number."""
    from core.extensions import db
    from plugins.intake.models import InboundEmail

    with app.app_context():
        rows = list(db.session.scalars(sa.select(InboundEmail).where(InboundEmail.message_id == message_id)))
        out = [{"outcome": r.outcome, "reason": r.reason, "case_id": r.case_id, "reference": r.case.reference if r.case else None,
                "key": r.message_key} for r in rows]
        db.session.remove()
    assert len(out) <= 1
    return out[0] if out else None


def case_of(app, message_id: str) -> dict:
    """The case a message became: its fields, timeline, files, followers and queued e-mails."""
    from core.extensions import db
    from core.models import Attachment, Case, CaseEvent, OutboxMessage
    from plugins.intake.models import Follower

    row = inbound(app, message_id)
    assert row is not None and row["case_id"], row
    with app.app_context():
        case = db.session.get(Case, row["case_id"])
        out = {
            "reference": case.reference, "service": case.service_type.code, "department": case.department.code,
            "channel": case.channel, "description": case.description, "contact_email": case.contact_email,
            "contact_name": case.contact_name, "account_id": case.account_id, "status": case.status,
            "events": [(e.kind, e.public, e.body, e.actor_label) for e in db.session.scalars(
                sa.select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.id))],
            "files": [(a.original_name, a.content_type, a.public) for a in db.session.scalars(
                sa.select(Attachment).where(Attachment.case_id == case.id).order_by(Attachment.id))],
            "followers": {f.email: (f.reason, f.locale) for f in db.session.scalars(sa.select(Follower).where(Follower.case_id == case.id))},
            "outbox": [{"recipient": m.recipient, "kind": m.kind, "locale": m.locale, "subject": m.subject, "body": m.body_text, "id": m.id}
                       for m in db.session.scalars(sa.select(OutboxMessage).where(OutboxMessage.related == f"case:{case.id}").order_by(OutboxMessage.id))],
        }
        db.session.remove()
    return out


def outbox_to(app, recipient: str) -> list[dict]:
    from core.extensions import db
    from core.models import OutboxMessage

    with app.app_context():
        rows = [{"kind": m.kind, "subject": m.subject, "related": m.related} for m in db.session.scalars(
            sa.select(OutboxMessage).where(OutboxMessage.recipient == recipient).order_by(OutboxMessage.id))]
        db.session.remove()
    return rows


def ingest(app, raw: bytes, **overrides):
    """The channel's ``ingest`` on one message, as both commands call it."""
    from plugins.intake.email.ingest import ingest as take_in
    from plugins.intake.email.settings import load

    with app.app_context():
        try:
            return take_in(raw, load({"address": CITY_ADDRESS, **overrides}))
        finally:
            from core.extensions import db

            db.session.remove()
