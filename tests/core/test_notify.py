"""The outbox and its worker, against a real SMTP server (aiosmtpd), on SQLite and PostgreSQL.

Messages are queued with ``enqueue`` and delivered only by ``deliver_due`` (``civic notify run``);
a refusal or a closed port leaves the message pending with its error and a later retry, and after
the last attempt it is failed.  The database is shared with other tests: each test looks only at
its own recipients.
"""
from __future__ import annotations

import os
import subprocess
import sys
import threading
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from core.models import OutboxMessage
from core.models.base import utcnow
from core.notify import deliver_due, enqueue, retry_delay
from tests.conftest import DEMO_CONFIG, ROOT
from tests.fixtures import civic_env, run_civic
from tests.smtp import parts, smtp, smtp_server  # noqa: F401  (fixtures)


def address(label: str) -> str:
    return f"{label}-{uuid.uuid4().hex[:8]}@example.org"


def queue(session, recipient: str, **kwargs) -> int:
    values = {"subject": "Your request PC-2026-000042 is resolved", "body_text": "It is fixed.\n",
              "body_html": "<p>It is <b>fixed</b>.</p>", "locale": "en", "kind": "test", **kwargs}
    message = enqueue(session, recipient=recipient, **values)
    session.commit()
    return message.id


def reload(session, message_id: int) -> OutboxMessage:
    session.expire_all()
    return session.get(OutboxMessage, message_id)


def make_due(session, message_id: int) -> None:
    session.execute(update(OutboxMessage).where(OutboxMessage.id == message_id).values(next_attempt_at=utcnow() - timedelta(seconds=1)))
    session.commit()


def test_enqueue_only_writes_the_outbox_and_the_worker_sends_text_and_html(app, session, smtp):
    recipient = address("resident")
    message_id = queue(session, recipient, locale="fr", unsubscribe_url="https://city.example/portal/unfollow/abc",
                       subject="Votre demande PC-2026-000042 est réglée", body_text="C’est réparé.\n",
                       body_html="<p>C’est <b>réparé</b>.</p>")
    assert smtp.to(recipient) == []  # queued, not sent
    assert reload(session, message_id).status == "pending"

    with app.app_context():
        report = deliver_due()
    assert report.sent >= 1

    [mail] = smtp.to(recipient)
    assert mail["Subject"] == "Votre demande PC-2026-000042 est réglée"
    assert mail["From"] == app.config["CIVIC_MAIL_FROM"] == "City of Palm Coast <no-reply@localhost>"
    assert mail["Auto-Submitted"] == "auto-generated"
    assert mail["List-Unsubscribe"] == "<https://city.example/portal/unfollow/abc>"
    assert mail["Content-Language"] == "fr"
    assert mail["Message-ID"].endswith("@localhost>") and mail["Date"]
    assert mail.get_content_type() == "multipart/alternative"
    text, html = parts(mail)
    assert text.strip() == "C’est réparé."
    assert "<p>C’est <b>réparé</b>.</p>" in html

    sent = reload(session, message_id)
    assert (sent.status, sent.attempts, sent.last_error) == ("sent", 1, None)
    assert sent.sent_at is not None


def test_a_message_without_html_is_plain_text_and_has_no_list_unsubscribe(app, session, smtp):
    recipient = address("plain")
    queue(session, recipient, body_html=None)
    with app.app_context():
        deliver_due()
    [mail] = smtp.to(recipient)
    assert mail.get_content_type() == "text/plain"
    assert mail["List-Unsubscribe"] is None


def test_a_refusing_server_keeps_the_message_and_retries_later_then_gives_up(app, session, smtp):
    smtp.refuse_with = "451 4.3.0 Mailbox temporarily unavailable"
    message_id = queue(session, address("refused"))
    before = utcnow()
    with app.app_context():
        deliver_due()
    message = reload(session, message_id)
    assert message.status == "pending"
    assert message.attempts == 1
    assert "451" in message.last_error and "Mailbox temporarily unavailable" in message.last_error
    assert message.next_attempt_at >= before + timedelta(minutes=1) - timedelta(seconds=1)

    with app.app_context():
        deliver_due()  # not due yet: nothing happens to it
    assert reload(session, message_id).attempts == 1

    max_attempts = app.config["CIVIC_NOTIFY_MAX_ATTEMPTS"]
    for attempt in range(2, max_attempts + 1):
        make_due(session, message_id)
        with app.app_context():
            deliver_due()
        message = reload(session, message_id)
        assert message.attempts == attempt
        assert message.status == ("failed" if attempt == max_attempts else "pending")
    assert "451" in message.last_error


def test_a_server_that_is_down_leaves_the_message_pending_and_it_goes_out_when_it_is_back(app, session, smtp):
    recipient = address("later")
    smtp.stop()
    message_id = queue(session, recipient)
    with app.app_context():
        deliver_due()
    message = reload(session, message_id)
    assert (message.status, message.attempts) == ("pending", 1)
    assert "Connection" in message.last_error or "refused" in message.last_error.lower()

    smtp.start()  # on a new port
    app.config["CIVIC_SMTP_PORT"] = smtp.port
    make_due(session, message_id)
    with app.app_context():
        deliver_due()
    assert len(smtp.to(recipient)) == 1
    assert reload(session, message_id).status == "sent"


def test_the_backoff_grows_and_keeps_its_last_step():
    minutes = (1, 5, 30, 120, 720)
    assert [retry_delay(n, minutes) for n in (1, 2, 3, 4, 5, 9)] == [
        timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=30), timedelta(hours=2), timedelta(hours=12), timedelta(hours=12),
    ]


def test_a_channel_nobody_delivers_fails_at_once_with_a_clear_error(app, session):
    message_id = queue(session, "+13865550100", channel="carrier-pigeon")
    with app.app_context():
        deliver_due()
    message = reload(session, message_id)
    assert message.status == "failed"
    assert message.last_error.startswith("no notifier for channel 'carrier-pigeon'")
    assert "channels: email" in message.last_error


def test_two_workers_at_once_never_send_a_message_twice(app, session, smtp):
    smtp.delay = 0.01  # each message takes a moment, so the two workers overlap
    recipients = [address(f"crowd{i}") for i in range(40)]
    ids = [queue(session, r) for r in recipients]
    start = threading.Barrier(2)
    reports, errors = [], []

    def worker():
        try:
            with app.app_context():
                start.wait()
                reports.append(deliver_due(limit=1000))
        except Exception as exc:  # noqa: BLE001 -- reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    assert all(report.sent > 0 for report in reports), "both workers should have delivered some"
    for r in recipients:
        assert len(smtp.to(r)) == 1, r
    session.expire_all()
    statuses = set(session.scalars(select(OutboxMessage.status).where(OutboxMessage.id.in_(ids))))
    attempts = set(session.scalars(select(OutboxMessage.attempts).where(OutboxMessage.id.in_(ids))))
    assert (statuses, attempts) == ({"sent"}, {1})


def test_civic_notify_run_once_delivers_what_is_due_and_exits(app, session, smtp, tmp_path):
    recipient = address("cli")
    queue(session, recipient, subject="Sent by the worker command")
    env = {"CIVIC_SMTP_HOST": smtp.host, "CIVIC_SMTP_PORT": str(smtp.port), "CIVIC_MAIL_FROM": "Palm Coast 311 <311@palmcoast.example.gov>"}
    result = run_civic("notify", "run", "--once", config=DEMO_CONFIG, database_url=app.config["SQLALCHEMY_DATABASE_URI"],
                       data_dir=tmp_path, site=False, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("notifications: ") and " sent, " in result.stdout
    [mail] = smtp.to(recipient)
    assert mail["Subject"] == "Sent by the worker command"
    assert mail["From"] == "Palm Coast 311 <311@palmcoast.example.gov>"
    assert mail["Message-ID"].endswith("@palmcoast.example.gov>")


@pytest.mark.parametrize(("variable", "value", "line"), [
    ("CIVIC_SMTP_PORT", "twenty-five", "CIVIC_SMTP_PORT: must be a port number (1-65535), not 'twenty-five'"),
    ("CIVIC_SMTP_TLS", "maybe", "CIVIC_SMTP_TLS: must be one of none, starttls, ssl, not 'maybe'"),
])
def test_bad_mail_settings_stop_the_command_with_one_line(tmp_path, variable, value, line):
    """In a process of its own: the command's exit status and its only line."""
    env = civic_env(DEMO_CONFIG, f"sqlite:///{tmp_path / 'unused.db'}", tmp_path, site=False)
    env[variable] = value
    result = subprocess.run([sys.executable, "-m", "core.cli", "notify", "run", "--once"], env=env, cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert result.stderr.strip() == line
    assert "Traceback" not in result.stderr
    assert os.environ.get(variable) is None  # the test's own environment is untouched
