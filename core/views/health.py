"""``GET /health``: may a load balancer send this node traffic?

200 when the database answers and every Alembic environment (the core's and each enabled plugin's, each with its
own version table) is at the head its code ships; 503 otherwise, so the node is taken out until it is fixed.
No login, no CSRF (a GET that changes nothing), no personal data, never cached.  A few statements on one
connection, no ORM: it is called every few seconds by every balancer.

    {"status": "ok" | "degraded" | "down",
     "database": "ok" | "<short reason>",
     "migrations": "current" | {"pending": ["intake: 0004 -> 0005", ...]},
     "outbox": {"pending": N, "oldest_seconds": S},
     "queues": {"open311": {"pending": N, "oldest_seconds": S}, ...}}

``degraded`` (still 200): the node serves, but an e-mail has been due for more than ``OUTBOX_LATE`` without being
sent, or a plugin's queue (``waiting_work`` hook: Open311 reports queued during a surge) has held work that long
-- the background worker (``civic notify run``) is probably not running.
"""
from __future__ import annotations

import logging
from datetime import timedelta
from functools import lru_cache
from typing import Any

import sqlalchemy as sa
from alembic.script import ScriptDirectory
from flask import Blueprint, Flask, Response, current_app, jsonify

from core import migrate
from core.extensions import csrf, db
from core.models.base import utcnow

log = logging.getLogger(__name__)
health = Blueprint("health", __name__)
OUTBOX_LATE = timedelta(minutes=15)  # the worker looks every 10 s and retries after 1 min at first
STATEMENT_TIMEOUT_MS = 3000  # PostgreSQL: a version table locked by a running migration answers "busy", not never


def init_app(app: Flask) -> None:
    app.register_blueprint(health)
    csrf.exempt(health)


@lru_cache(maxsize=64)
def _heads(directory: str) -> frozenset[str]:
    """The heads an environment's code ships (read from its versions folder once per process)."""
    return frozenset(ScriptDirectory(directory, version_locations=[f"{directory}/versions"]).get_heads())


@health.get("/health")
def check() -> Response:
    report, healthy = node_health()
    response = jsonify(report)
    response.status_code = 200 if healthy else 503
    response.headers["Cache-Control"] = "no-store"
    return response


def node_health() -> tuple[dict[str, Any], bool]:
    """(the report, whether the node should get traffic)."""
    specs = migrate.specs()
    report: dict[str, Any] = {"status": "down", "database": "ok", "migrations": None, "outbox": None, "queues": {}}
    try:
        with db.engine.connect() as connection:
            _limit_time(connection)
            pending = _pending_migrations(connection, specs)
            report["migrations"] = {"pending": pending} if pending else "current"
            report["outbox"] = _outbox(connection)
            if not pending:  # every table is there
                report["queues"] = _queues(connection)
            connection.rollback()
    except sa.exc.DBAPIError as exc:
        # The driver's text names hosts and ports: it goes to the log, the answer only says what kind of failure.
        log.warning("health: the database does not answer: %s", (str(exc.orig or exc).strip() or type(exc).__name__).splitlines()[0])
        report["database"] = "timeout" if "timeout" in str(exc).lower() else "not answering"
        return report, False
    healthy = report["migrations"] == "current"
    late = report["outbox"] is not None and report["outbox"].pop("late", False)
    late = any([queue.pop("late") for queue in report["queues"].values()]) or late
    report["status"] = "down" if not healthy else ("degraded" if late else "ok")
    return report, healthy


def _pending_migrations(connection: sa.Connection, specs) -> list[str]:
    """One line per environment whose version table is not at its code's heads: ``name: in database -> head``."""
    applied: dict[str, set[str]] = {spec.name: set() for spec in specs}
    union = " UNION ALL ".join(f"SELECT :n{i} AS env, version_num FROM {_table(spec.version_table)}" for i, spec in enumerate(specs))
    params = {f"n{i}": spec.name for i, spec in enumerate(specs)}
    try:
        rows = connection.execute(sa.text(union), params).all()
    except (sa.exc.ProgrammingError, sa.exc.OperationalError) as exc:
        if _gone(exc):
            raise
        # A version table is missing (an environment never migrated): read them one by one (the rare path).
        connection.rollback()
        _limit_time(connection)
        rows = []
        for spec in specs:
            try:
                with connection.begin_nested():
                    rows += [(spec.name, v) for v in connection.execute(sa.text(f"SELECT version_num FROM {_table(spec.version_table)}")).scalars()]
            except (sa.exc.ProgrammingError, sa.exc.OperationalError) as inner:
                if _gone(inner):
                    raise
    for name, version in rows:
        applied[name].add(version)
    pending = []
    for spec in specs:
        heads = _heads(spec.directory)
        if applied[spec.name] != heads:
            have = ", ".join(sorted(applied[spec.name])) or "none"
            pending.append(f"{spec.name}: {have} -> {', '.join(sorted(heads))}")
    return pending


def _limit_time(connection: sa.Connection) -> None:
    if connection.dialect.name == "postgresql":
        connection.execute(sa.text(f"SET LOCAL statement_timeout = {STATEMENT_TIMEOUT_MS}"))


def _gone(exc: sa.exc.DBAPIError) -> bool:
    """A failure of the connection itself (not a missing table): the caller reports the database down."""
    text = str(exc).lower()
    missing_table = "no such table" in text or "does not exist" in text
    return bool(exc.connection_invalidated) or not missing_table


def _table(name: str) -> str:
    if not name.replace("_", "").isalnum():
        raise ValueError(f"unexpected version table name {name!r}")
    return name


def _outbox(connection: sa.Connection) -> dict[str, Any] | None:
    try:
        count, oldest, first_due = connection.execute(sa.text(
            "SELECT count(*), min(created_at), min(next_attempt_at) FROM outbox_message WHERE status = 'pending'"
        )).one()
    except (sa.exc.ProgrammingError, sa.exc.OperationalError) as exc:
        if _gone(exc):
            raise
        return None  # no outbox table yet: the migrations line says why
    now = utcnow()
    oldest = _naive(oldest)
    first_due = _naive(first_due)
    return {
        "pending": int(count or 0),
        "oldest_seconds": max(0, int((now - oldest).total_seconds())) if oldest else 0,
        "late": bool(first_due and now - first_due > OUTBOX_LATE),
    }


def _queues(connection: sa.Connection) -> dict[str, dict[str, Any]]:
    now = utcnow()
    found: dict[str, dict[str, Any]] = {}
    for waiting in current_app.extensions["civic"].pm.hook.waiting_work(connection=connection):
        for name, (count, oldest) in (waiting or {}).items():
            age = max(0, int((now - _naive(oldest)).total_seconds())) if oldest else 0
            found[name] = {"pending": int(count or 0), "oldest_seconds": age, "late": age > OUTBOX_LATE.total_seconds()}
    return found


def _naive(value):
    """SQLite hands back text for min(); both engines store naive UTC."""
    if isinstance(value, str):
        from datetime import datetime

        return datetime.fromisoformat(value)
    return value
