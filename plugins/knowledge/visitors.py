"""Who a visitor is, without knowing who they are: a keyed hash of a random id kept in the browser session.

Views count once per visitor, article and day; a vote is one per visitor and article (a second one
replaces the first); deflections are counted at read time and cancelled when that visitor sends a report
within ``DEFLECTION_WINDOW`` (see ``cancel_deflections``): no scheduled job is needed."""
from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta

from flask import current_app, has_request_context, session as browser
from sqlalchemy import delete, select

from core.models.base import utcnow
from plugins.knowledge.models import KnowledgeEvent

SESSION_KEY = "knowledge_visitor"
DEFLECTION_WINDOW = timedelta(minutes=30)
VOTES = ("helpful", "not_helpful")


def visitor_key(create: bool = True) -> str | None:
    """This browser's visitor key (64 hex characters), made on first use when ``create``."""
    raw = browser.get(SESSION_KEY)
    if raw is None:
        if not create:
            return None
        raw = browser[SESSION_KEY] = secrets.token_hex(16)
    secret = str(current_app.config["SECRET_KEY"]).encode()
    return hmac.new(secret, f"knowledge:{raw}".encode(), hashlib.sha256).hexdigest()


def _day_start(now: datetime) -> datetime:
    return now.replace(hour=0, minute=0, second=0, microsecond=0)


def record_once(session, kind: str, article_id: int, visitor: str, locale: str, since: datetime) -> bool:
    """Add a ``kind`` event unless this visitor already has one for the article since ``since``."""
    found = session.scalar(select(KnowledgeEvent.id).where(
        KnowledgeEvent.kind == kind, KnowledgeEvent.article_id == article_id,
        KnowledgeEvent.visitor == visitor, KnowledgeEvent.created_at >= since,
    ).limit(1))
    if found is not None:
        return False
    session.add(KnowledgeEvent(kind=kind, article_id=article_id, visitor=visitor, locale=locale))
    return True


def record_read(session, article_id: int, locale: str, from_report: bool, now: datetime | None = None) -> None:
    """A view (once a day per visitor), and a deflection when read from the report form (once per window)."""
    now = now or utcnow()
    visitor = visitor_key()
    record_once(session, "view", article_id, visitor, locale, _day_start(now))
    if from_report:
        record_once(session, "deflected", article_id, visitor, locale, now - DEFLECTION_WINDOW)
    session.commit()


def vote(session, article_id: int, helpful: bool, locale: str) -> None:
    """One vote per visitor and article: a second vote replaces the first."""
    visitor = visitor_key()
    kind = VOTES[0] if helpful else VOTES[1]
    existing = session.scalar(select(KnowledgeEvent).where(
        KnowledgeEvent.kind.in_(VOTES), KnowledgeEvent.article_id == article_id, KnowledgeEvent.visitor == visitor,
    ).limit(1))
    if existing is None:
        session.add(KnowledgeEvent(kind=kind, article_id=article_id, visitor=visitor, locale=locale))
    else:
        existing.kind, existing.locale, existing.created_at = kind, locale, utcnow()
    session.commit()


def current_vote(session, article_id: int) -> str | None:
    visitor = visitor_key(create=False)
    if visitor is None:
        return None
    return session.scalar(select(KnowledgeEvent.kind).where(
        KnowledgeEvent.kind.in_(VOTES), KnowledgeEvent.article_id == article_id, KnowledgeEvent.visitor == visitor,
    ).limit(1))


def cancel_deflections(session, now: datetime | None = None) -> int:
    """The visitor sent a report after all: their deflections of the last ``DEFLECTION_WINDOW`` are withdrawn."""
    if not has_request_context():
        return 0
    visitor = visitor_key(create=False)
    if visitor is None:
        return 0
    now = now or utcnow()
    result = session.execute(delete(KnowledgeEvent).where(
        KnowledgeEvent.kind == "deflected", KnowledgeEvent.visitor == visitor,
        KnowledgeEvent.created_at >= now - DEFLECTION_WINDOW,
    ))
    session.commit()
    return result.rowcount or 0
