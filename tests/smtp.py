"""A real SMTP server for tests (aiosmtpd on 127.0.0.1, a free port) that keeps what it receives.

Use it from any test module::

    from tests.smtp import smtp, smtp_server  # noqa: F401  (fixtures)

    def test_something(app, smtp):           # the app's CIVIC_SMTP_* point at the server
        ...
        deliver_due()
        [mail] = smtp.to("resident@example.com")
        assert mail["Subject"] == "..."

``smtp_server`` alone is the server without touching any app.  ``smtp.refuse_with = "451 4.3.0
Try again later"`` makes it answer every message with that reply; ``smtp.stop()`` closes the port
(connections are refused); ``smtp.delay`` slows each message down (concurrency tests).
"""
from __future__ import annotations

import asyncio
import socket
import threading
import time
from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest
from aiosmtpd.controller import Controller

HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


class SmtpServer:
    """An aiosmtpd server in a thread of its own; ``messages`` are the parsed e-mails it accepted."""

    def __init__(self) -> None:
        self.host = HOST
        self.port = 0
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []  # (MAIL FROM, RCPT TOs) of each accepted message
        self.refuse_with: str | None = None
        self.delay = 0.0
        self._lock = threading.Lock()
        self._controller: Controller | None = None

    # aiosmtpd handler hook
    async def handle_DATA(self, server, session, envelope):
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.refuse_with:
            return self.refuse_with
        mail = message_from_bytes(envelope.original_content or envelope.content, policy=policy.default)
        with self._lock:
            self.messages.append(mail)
            self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 Message accepted for delivery"

    def start(self) -> SmtpServer:
        for _ in range(5):  # another process may take the free port between the look and the bind
            self.port = free_port()
            controller = Controller(self, hostname=self.host, port=self.port)
            try:
                controller.start()
            except (OSError, RuntimeError):
                time.sleep(0.1)
                continue
            self._controller = controller
            return self
        raise RuntimeError("could not start the test SMTP server")

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def to(self, address: str) -> list[EmailMessage]:
        """The accepted e-mails addressed to ``address`` (case-insensitive)."""
        address = address.lower()
        with self._lock:
            return [m for m in self.messages if address in str(m["To"]).lower()]

    def clear(self) -> None:
        with self._lock:
            self.messages.clear()
            self.envelopes.clear()


def parts(mail: EmailMessage) -> tuple[str, str]:
    """The plain-text and HTML bodies of a multipart/alternative e-mail."""
    text = mail.get_body(("plain",))
    html = mail.get_body(("html",))
    return (text.get_content() if text else ""), (html.get_content() if html else "")


@pytest.fixture
def smtp_server():
    """A running SMTP server of its own for the test."""
    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture
def smtp(app, smtp_server):
    """The test SMTP server, with the app's outgoing mail pointed at it for the test."""
    saved = {key: app.config[key] for key in ("CIVIC_SMTP_HOST", "CIVIC_SMTP_PORT", "CIVIC_SMTP_TLS", "CIVIC_SMTP_USER")}
    app.config.update(CIVIC_SMTP_HOST=smtp_server.host, CIVIC_SMTP_PORT=smtp_server.port, CIVIC_SMTP_TLS="none", CIVIC_SMTP_USER=None)
    yield smtp_server
    app.config.update(saved)
