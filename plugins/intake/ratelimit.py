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
from sqlalchemy import delete, func, select

from core.extensions import db
from core.models.base import utcnow
from plugins.intake.models import RateEvent


def hashed(value: str) -> str:
    secret = current_app.config["SECRET_KEY"]
    return hashlib.sha256(f"{secret}:{value}".encode()).hexdigest()


def client_key() -> str:
    """The requesting client (its address), hashed."""
    return hashed(request.remote_addr or "unknown")


def allow(bucket: str, key: str, limit: int, window: int) -> bool:
    """Record one event and return True, or return False when ``limit`` events happened in ``window`` seconds."""
    now = utcnow()
    since = now - timedelta(seconds=window)
    count = db.session.scalar(
        select(func.count()).select_from(RateEvent).where(RateEvent.bucket == bucket, RateEvent.key == key, RateEvent.created_at >= since)
    )
    if count >= limit:
        return False
    db.session.add(RateEvent(bucket=bucket, key=key, created_at=now))
    db.session.commit()
    return True


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
