from __future__ import annotations

from flask_appbuilder import Model
from sqlalchemy import Column, DateTime, Index, Integer, String, Text

from core.models.base import BigId, utcnow

OUTBOX_STATUSES = ("pending", "sent", "failed")


class OutboxMessage(Model):
    """A message waiting to go out (or gone, or given up on).  Web requests only ever write here;
    the worker (`civic notify run`) delivers through the notifier of the message's channel."""

    __tablename__ = "outbox_message"
    id = Column(BigId, primary_key=True)
    channel = Column(String(20), nullable=False, default="email")
    recipient = Column(String(254), nullable=False)
    locale = Column(String(10), nullable=False, default="en")
    subject = Column(String(300), nullable=False, default="")
    body_text = Column(Text, nullable=False, default="")
    body_html = Column(Text)
    kind = Column(String(40), nullable=False, default="")  # e.g. case_received, status_changed, notice
    related = Column(String(60))  # e.g. "case:123", "notice:4"
    unsubscribe_url = Column(String(1000))  # the message's "stop following" link (e-mail: List-Unsubscribe)
    status = Column(String(10), nullable=False, default="pending")
    attempts = Column(Integer, nullable=False, default=0)
    next_attempt_at = Column(DateTime, nullable=False, default=utcnow)
    last_error = Column(Text)
    created_at = Column(DateTime, nullable=False, default=utcnow)
    sent_at = Column(DateTime)

    __table_args__ = (
        Index("ix_outbox_due", "status", "next_attempt_at"),
        Index("ix_outbox_related", "related"),
    )
