"""Notifications: web requests write to the outbox; a worker delivers.

``enqueue`` is all a feature needs.  Delivery (``civic notify run``), retries,
the SMTP notifier and the ``register_notifiers`` hook live here too.
"""
from __future__ import annotations

from sqlalchemy.orm import Session

from core.models import OutboxMessage


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
) -> OutboxMessage:
    """Queue one message; it is sent after the caller commits (never inside the web request)."""
    message = OutboxMessage(
        channel=channel, recipient=recipient, subject=subject[:300], body_text=body_text, body_html=body_html,
        locale=locale, kind=kind, related=related,
    )
    session.add(message)
    return message
