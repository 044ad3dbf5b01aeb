"""Sliding-window rate limits kept in the database (so they hold across processes and restarts).

``allow(bucket, key, limit, window)`` counts the events of ``key`` in the last
``window`` seconds; under the limit it records one more and says yes.  Keys are
hashed: no client address or e-mail is stored in clear.
"""
from __future__ import annotations

import hashlib
import math
from datetime import timedelta

from flask import current_app, request
from sqlalchemy import DateTime, String, delete, func, insert, literal, select

from core.extensions import db
from core.models.base import utcnow
from plugins.intake.models import RateEvent


def hashed(value: str) -> str:
    secret = current_app.config["SECRET_KEY"]
    return hashlib.sha256(f"{secret}:{value}".encode()).hexdigest()


def client_key() -> str:
    """The requesting client (its address), hashed."""
    return hashed(request.remote_addr or "unknown")


def commit_keeping(session) -> None:
    """Commit without expiring what the session holds (an API key, a service, a case just written): it is still
    what the database has, and expiring it would make the rest of the request read each row back."""
    actual = session() if callable(session) else session  # Flask-SQLAlchemy's scoped session -> this request's
    keep = actual.expire_on_commit
    actual.expire_on_commit = False
    try:
        actual.commit()
    finally:
        actual.expire_on_commit = keep


def allow(bucket: str, key: str, limit: int, window: int) -> bool:
    """Record one event and return True, or return False when ``limit`` events happened in ``window`` seconds.

    One statement counts and records (``INSERT ... SELECT ... WHERE count < limit``), committed at once so that
    the event counts even when the request fails later; on every Open311 POST, so it is kept to one round trip."""
    now = utcnow()
    since = now - timedelta(seconds=window)
    counted = (select(func.count()).select_from(RateEvent)
               .where(RateEvent.bucket == bucket, RateEvent.key == key, RateEvent.created_at >= since).scalar_subquery())
    row = select(literal(bucket, String), literal(key, String), literal(now, DateTime)).where(counted < limit)
    stmt = insert(RateEvent.__table__).from_select(["bucket", "key", "created_at"], row).returning(RateEvent.__table__.c.id)
    recorded = db.session.execute(stmt).first() is not None  # (rowcount is not reliable for INSERT ... SELECT)
    commit_keeping(db.session)
    return recorded


def retry_after(bucket: str, key: str, window: int) -> int:
    """Seconds until the oldest counted event of ``key`` leaves the window (at least 1): ``Retry-After``."""
    now = utcnow()
    oldest = db.session.scalar(
        select(func.min(RateEvent.created_at)).where(RateEvent.bucket == bucket, RateEvent.key == key, RateEvent.created_at >= now - timedelta(seconds=window))
    )
    if oldest is None:
        return 1
    return max(1, math.ceil((oldest + timedelta(seconds=window) - now).total_seconds()))


def forget_older_than(seconds: int) -> int:
    """Housekeeping: drop events older than any window (called by the notification worker)."""
    result = db.session.execute(delete(RateEvent).where(RateEvent.created_at < utcnow() - timedelta(seconds=seconds)))
    db.session.commit()
    return result.rowcount or 0
