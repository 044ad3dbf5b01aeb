"""Sliding-window rate limits kept in the database (so they hold across processes and restarts).

``allow(bucket, key, limit, window)`` counts the events of ``key`` in the last
``window`` seconds; under the limit it records one more and says yes.  Keys are
hashed: no client address or e-mail is stored in clear.  That is exact, and right for the residents' small
limits (a few sign-ins or reports an hour); its cost grows with the events in the window.

``allow_counted`` is for the API keys' large limits (thousands a minute): one counter per window-long slot,
the previous slot weighted by the part of it still inside the window (the usual sliding-window estimate,
exact when requests are spread evenly) -- one upsert per request whatever the rate.
"""
from __future__ import annotations

import hashlib
import math
import time
from datetime import timedelta
from functools import lru_cache
from typing import Any

from flask import current_app, request
from sqlalchemy import BigInteger, DateTime, Float, Integer, String, Table, bindparam, delete, func, insert, literal, select, true
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from core.extensions import db
from core.models.base import utcnow
from plugins.intake.models import RateCounter, RateEvent


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
    the event counts even when the request fails later.  The key's events that left the window go first: the
    table holds at most a window's worth per key (nothing else ever cleans it)."""
    now = utcnow()
    since = now - timedelta(seconds=window)
    db.session.execute(delete(RateEvent).where(RateEvent.bucket == bucket, RateEvent.key == key, RateEvent.created_at < since))
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


def _slot(window: int, now: float | None = None) -> tuple[int, float]:
    """This moment's slot and how far into it we are (0 <= elapsed < window seconds); ``now``: epoch seconds."""
    now = time.time() if now is None else now
    slot = int(now // window)
    return slot, now - slot * window


def allow_counted(bucket: str, key: str, limit: int, window: int, now: float | None = None, commit: bool = True,
                  insert_row: tuple[Table, dict[str, Any]] | None = None) -> bool:
    """Count one request and return True, or return False when the sliding-window estimate reached ``limit``.

    One statement: insert this slot's counter, or add one to it, only while ``earlier * weight + count + 1 <=
    limit``.  Committed at once like ``allow`` (a failed request counts too).  On PostgreSQL that commit does not
    wait for the disk (``synchronous_commit`` off for this transaction only): a crash may forget a few counts,
    which costs nothing, and every request is spared a flush.  ``commit=False``: the count joins the caller's
    transaction, and its commit waits for the disk as usual (what else it writes must not be forgotten).

    ``insert_row=(table, values)``: also insert that row, only when the request is allowed (the caller commits;
    on False it rolls back).  On PostgreSQL the count and the row are one statement (a data-modifying WITH)."""
    slot, elapsed = _slot(window, now)
    connection = db.session.connection()
    dialect = connection.dialect.name
    params = {"bucket": bucket, "key": key, "slot": slot, "earlier_slot": slot - 1, "weight": 1 - elapsed / window, "limit": limit}
    if insert_row is not None and dialect == "postgresql":
        table, values = insert_row
        row = connection.execute(_counting_with_row(table, tuple(values)), {**params, **{f"row_{k}": v for k, v in values.items()}}).first()
    else:
        if insert_row is not None:
            connection.execute(insert_row[0].insert(), insert_row[1])
        row = connection.execute(_counting(dialect, quick=commit and dialect == "postgresql"), params).first()
    if row is not None and row.count == 1:  # a new slot (once a window per key): the slots before the earlier one go
        table = RateCounter.__table__
        db.session.execute(delete(table).where(table.c.bucket == bucket, table.c.key == key, table.c.slot < slot - 1))
    if commit:
        commit_keeping(db.session)
    return row is not None


@lru_cache(maxsize=8)
def _counting_with_row(table: Table, columns: tuple[str, ...]):
    """PostgreSQL: ``WITH counted AS (the upsert) , kept AS (INSERT INTO table SELECT ... FROM counted)`` -- the
    row is written only when the count was, in the same round trip."""
    counted = _counting("postgresql", quick=False).cte("counted")
    values = [bindparam(f"row_{c}", type_=table.c[c].type) for c in columns]
    kept = insert(table).from_select(list(columns), select(*values).select_from(counted)).returning(table.c[columns[0]]).cte("kept")
    return select(counted.c.count).select_from(counted.join(kept, true()))


@lru_cache(maxsize=8)
def _counting(dialect: str, quick: bool):
    """``allow_counted``'s upsert, built once (with bind parameters): building it on every request cost more
    than running it.  ``quick``: its transaction's commit does not wait for the disk (PostgreSQL)."""
    table = RateCounter.__table__
    earlier_row = table.alias("earlier")
    bucket, key, limit = bindparam("bucket", type_=String), bindparam("key", type_=String), bindparam("limit", type_=Integer)
    earlier = func.coalesce(select(earlier_row.c.count).where(
        earlier_row.c.bucket == bucket, earlier_row.c.key == key,
        earlier_row.c.slot == bindparam("earlier_slot", type_=BigInteger)).scalar_subquery(), 0) * bindparam("weight", type_=Float)
    rows = select(bucket, key, bindparam("slot", type_=BigInteger), literal(1, Integer)).where(earlier + 1 <= limit)
    if quick:
        rows = rows.where(func.set_config("synchronous_commit", "off", True) == "off")
    stmt = (pg_insert if dialect == "postgresql" else sqlite_insert)(table).from_select(["bucket", "key", "slot", "count"], rows)
    return stmt.on_conflict_do_update(
        index_elements=[table.c.bucket, table.c.key, table.c.slot], set_={"count": table.c.count + 1},
        where=table.c.count + 1 + earlier <= limit,
    ).returning(table.c.count)


def retry_after_counted(bucket: str, key: str, limit: int, window: int, now: float | None = None) -> int:
    """Seconds until ``allow_counted`` says yes again (at least 1, at most ``window``): ``Retry-After``."""
    slot, elapsed = _slot(window, now)
    counts = dict(db.session.execute(select(RateCounter.slot, RateCounter.count).where(
        RateCounter.bucket == bucket, RateCounter.key == key, RateCounter.slot.in_([slot - 1, slot]))).all())
    current, earlier = counts.get(slot, 0), counts.get(slot - 1, 0)
    if current + 1 > limit:  # this slot is full: the next one starts with it as its (fading) earlier slot
        wait = window - elapsed
    elif earlier:  # the earlier slot's share must fade below what is left
        wait = window * (1 - (limit - current - 1) / earlier) - elapsed
    else:
        wait = 1
    return max(1, min(window, math.ceil(wait)))
