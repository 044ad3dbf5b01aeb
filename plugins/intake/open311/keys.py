"""Open311 API keys: created and shown once, stored as a SHA-256, checked on every POST, rate limited.

- A key is ``secrets.token_urlsafe(32)`` (32 random bytes, 43 characters).  Only its SHA-256 is kept,
  with its first 8 characters (``prefix``) so that staff can tell keys apart on the screens.
- A client sends it as the form field ``api_key`` (what FixMyStreet does), the query parameter
  ``api_key``, or ``Authorization: Bearer <key>``.  Missing, unknown or revoked: HTTP 403.
- Each key may make ``rate_limit`` requests a minute (its own, else ``[intake] open311_rate_limit``,
  default 120), counted in the database (``plugins.intake.ratelimit.allow_counted``: a counter per minute,
  the previous minute weighted by its share still in the last 60 s; bucket ``open311``, key = the key's id)
  so the limit holds across processes.  Over it: HTTP 429 with ``Retry-After`` (seconds).
- ``last_used_at`` is written at most once a minute per key (no write on every request).
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from flask import current_app, g, request
from flask_babel import gettext
from sqlalchemy import Row, Subquery, bindparam, select, true, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.extensions import db
from core.models.base import utcnow
from plugins.intake.models import ApiKey
from plugins.intake.open311.views import Open311Error
from plugins.intake.ratelimit import allow_counted, retry_after_counted

KEY_BYTES = 32
PREFIX_LENGTH = 8
MAX_NAME = 100
MAX_RATE_LIMIT = 100_000
RATE_BUCKET = "open311"
RATE_WINDOW = 60  # seconds: limits are requests per minute
LAST_USED_EVERY = timedelta(minutes=1)


class KeyProblem(ValueError):
    """A key that cannot be created or changed: ``field`` names the input, the message says why."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class RateLimited(Open311Error):
    """HTTP 429: the key made too many requests in the last minute; ``retry_after`` in seconds."""

    def __init__(self, retry_after_seconds: int, description: str):
        super().__init__(429, description)
        self.retry_after = retry_after_seconds


def key_hash(plain: str) -> str:
    return hashlib.sha256(plain.encode("utf-8")).hexdigest()


def clean_name(name: str | None) -> str:
    name = " ".join((name or "").split())
    if not name:
        raise KeyProblem("name", gettext("is required"))
    if len(name) > MAX_NAME:
        raise KeyProblem("name", gettext("is %(length)d characters long; the limit is %(limit)d", length=len(name), limit=MAX_NAME))
    return name


def check_rate_limit(value) -> int | None:
    """A key's own requests per minute: a whole number from 1 to 100,000, or None for the city's default."""
    if value is None or value == "":
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = 0
    if isinstance(value, bool) or str(number) != str(value).strip() or not 1 <= number <= MAX_RATE_LIMIT:
        raise KeyProblem("rate_limit", gettext("must be a whole number of requests per minute from 1 to %(max)d", max=MAX_RATE_LIMIT))
    return number


def find_key(session: Session, name: str) -> ApiKey | None:
    return session.scalar(select(ApiKey).where(ApiKey.name == " ".join((name or "").split())))


def create_key(session: Session, name: str, created_by=None, rate_limit=None) -> tuple[ApiKey, str]:
    """A new key named ``name``: returns the row and the plain key, which is never stored nor shown again."""
    name = clean_name(name)
    limit = check_rate_limit(rate_limit)
    if find_key(session, name) is not None:
        raise KeyProblem("name", gettext("a key named '%(name)s' already exists", name=name))
    plain = secrets.token_urlsafe(KEY_BYTES)
    created_by_id = created_by if isinstance(created_by, int) or created_by is None else getattr(created_by, "id", None)
    key = ApiKey(name=name, prefix=plain[:PREFIX_LENGTH], key_hash=key_hash(plain), rate_limit=limit,
                 created_at=utcnow(), created_by_id=created_by_id)
    session.add(key)
    try:
        session.commit()
    except IntegrityError:  # the same name created at the same moment elsewhere
        session.rollback()
        raise KeyProblem("name", gettext("a key named '%(name)s' already exists", name=name)) from None
    return key, plain


def revoke_key(session: Session, key: ApiKey) -> bool:
    """Revoke ``key`` (it stops working at once); False when it was already revoked."""
    if key.revoked_at is not None:
        return False
    key.revoked_at = utcnow()
    session.commit()
    return True


# ---------------------------------------------------------------- on each request

def presented_key() -> str:
    """The key the client sent: form field, query parameter, or ``Authorization: Bearer``."""
    for value in (request.form.get("api_key"), request.args.get("api_key")):
        if value and value.strip():
            return value.strip()
    scheme, _, credentials = (request.headers.get("Authorization") or "").partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    return ""


@dataclass(frozen=True)
class PresentedKey:
    """The valid key of a request: what the request needs of it (read as one row, not an ORM object)."""

    id: int
    name: str
    rate_limit: int | None
    last_used_at: datetime | None
    beside: Row | None = None  # what ``authenticate(beside=...)`` read in the same statement


_KEY_COLUMNS = (ApiKey.id, ApiKey.name, ApiKey.key_hash, ApiKey.rate_limit, ApiKey.revoked_at, ApiKey.last_used_at)
_FIND_KEY = select(*_KEY_COLUMNS).where(ApiKey.key_hash == bindparam("digest"))


@lru_cache(maxsize=8)
def _find_key_beside(beside: Subquery):
    return select(*_KEY_COLUMNS, beside).select_from(ApiKey.__table__.outerjoin(beside, true())).where(ApiKey.key_hash == bindparam("digest"))


def authenticate(beside: tuple[Subquery, dict[str, Any]] | None = None) -> PresentedKey:
    """The valid key of this request, else Open311Error(403) saying what is wrong with it.

    ``beside=(subquery, its parameters)``: a row the request needs next (at most one), read with the key in the
    same statement (a round trip less on every POST): ``key.beside``, its columns None when it found nothing."""
    plain = presented_key()
    if not plain:
        raise Open311Error(403, gettext("api_key: is required: ask the city for a key and send it as api_key"))
    digest = key_hash(plain[:200])
    statement, params = (_FIND_KEY, {}) if beside is None else (_find_key_beside(beside[0]), beside[1])
    row = db.session.connection().execute(statement, {"digest": digest, **params}).first()  # Core: no ORM work for one row
    if row is None or not hmac.compare_digest(row.key_hash, digest):
        raise Open311Error(403, gettext("api_key: this key is not known here"))
    if row.revoked_at is not None:
        raise Open311Error(403, gettext("api_key: this key was revoked"))
    return PresentedKey(row.id, row.name, row.rate_limit, row.last_used_at, row if beside is not None else None)


def limit_of(key: PresentedKey | ApiKey) -> int:
    return key.rate_limit or int(current_app.extensions["civic"].plugin_config["intake"]["open311_rate_limit"])


def count_request(key: PresentedKey, commit: bool = True, insert_row: tuple[Any, dict[str, Any]] | None = None) -> None:
    """Count one request of ``key``; over its limit, RateLimited (429).  Also keeps ``last_used_at`` fresh.

    ``commit=False``: the count joins the caller's transaction (a queued POST writes its submission and its count
    with one commit; when the caller rolls back, it must count again: ``counted()`` says whether it did).
    ``insert_row=(table, values)``: a row written only when the request is allowed (``allow_counted``)."""
    limit = limit_of(key)
    if not allow_counted(RATE_BUCKET, str(key.id), limit, RATE_WINDOW, commit=commit, insert_row=insert_row):
        wait = retry_after_counted(RATE_BUCKET, str(key.id), limit, RATE_WINDOW)
        raise RateLimited(wait, gettext("api_key: more than %(limit)d requests in a minute; try again in %(seconds)d seconds",
                                        limit=limit, seconds=wait))
    now = utcnow()
    if key.last_used_at is None or key.last_used_at <= now - LAST_USED_EVERY:
        db.session.execute(update(ApiKey).where(ApiKey.id == key.id).values(last_used_at=now))
        if commit:
            db.session.commit()
    g.open311_counted = commit


def counted() -> bool:
    """Whether this request's count is committed."""
    return bool(g.get("open311_counted"))


def authorized(count: bool = True, beside: tuple[Subquery, dict[str, Any]] | None = None) -> PresentedKey:
    """``authenticate()`` then ``count_request()``: what every keyed Open311 method calls first (POST
    ``requests`` counts later: see write.py)."""
    key = authenticate(beside)
    if count:
        count_request(key)
    return key
