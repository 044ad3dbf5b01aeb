"""Column helpers shared by the core models."""
from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import BigInteger, Integer

# 64-bit ids on PostgreSQL (millions of cases and events), INTEGER PRIMARY KEY on SQLite.
BigId = BigInteger().with_variant(Integer(), "sqlite")


def utcnow() -> datetime:
    """Naive UTC: every timestamp in the database is UTC without a zone."""
    return datetime.now(timezone.utc).replace(tzinfo=None)
