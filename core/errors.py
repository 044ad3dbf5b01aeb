"""JSON errors for the APIs: a status and a message, never a traceback.

A database that is too busy to answer (SQLite still locked after its busy timeout, PostgreSQL out of pool
connections or of server slots) is a moment of overload, not a bug: every request that meets it -- an
Open311 POST, the portal's report form, a staff screen -- gets 503 with ``Retry-After`` instead of a 500, and
its transaction is rolled back (nothing half-written).  ``is_busy`` tells those errors apart.
"""
from __future__ import annotations

import logging

from flask import Flask, jsonify, make_response, request
from flask_babel import gettext
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException

from core.admission import Overloaded

log = logging.getLogger(__name__)

BUSY_RETRY_AFTER = 5  # seconds: what a client is told to wait when the database is busy
# Driver messages that mean "too busy now, try again" (SQLite locks; PostgreSQL out of connection slots).
BUSY_MESSAGES = ("database is locked", "database table is locked", "database is busy", "too many clients",
                 "remaining connection slots are reserved", "too many connections")


def is_busy(exc: BaseException) -> bool:
    """True for a database too busy to answer now: SQLite locked, the pool or the server out of connections."""
    if isinstance(exc, PoolTimeout):
        return True
    if isinstance(exc, OperationalError):
        text = str(getattr(exc, "orig", None) or exc).lower()
        return any(message in text for message in BUSY_MESSAGES)
    return False


def busy_message() -> str:
    return gettext("The service is busy; please try again in a few seconds.")


def wants_json() -> bool:
    """Whether the answer to this request is JSON: an API path, a .json/.geojson path, or a client asking for it."""
    if request.path.startswith("/api/") or request.path.endswith((".json", ".geojson")):
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json" and request.accept_mimetypes[best] > request.accept_mimetypes["text/html"]


def _rollback() -> None:
    from core.extensions import db

    try:
        db.session.rollback()
    except Exception:  # noqa: BLE001 -- the connection may be gone; the request ends anyway
        log.warning("rollback after a busy database failed", exc_info=True)


def busy_response():
    """503 with Retry-After, rolled back: what any request gets while the database is busy."""
    _rollback()
    log.warning("database busy on %s %s: answered 503", request.method, request.path)
    if wants_json():
        response = jsonify(message=busy_message())
    else:
        response = make_response(busy_message(), {"Content-Type": "text/plain; charset=utf-8"})
    response.status_code = 503
    response.headers["Retry-After"] = str(BUSY_RETRY_AFTER)
    return response


def init_app(app: Flask) -> None:
    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        if request.path.startswith("/api/"):
            return jsonify(message=exc.description), exc.code
        return exc

    @app.errorhandler(Overloaded)
    def overloaded(exc: Overloaded):  # core.admission: too many connections waiting; the request has not started
        response = jsonify(message=busy_message()) if wants_json() else make_response(busy_message(), {"Content-Type": "text/plain; charset=utf-8"})
        response.status_code = 503
        response.headers["Retry-After"] = str(exc.retry_after)
        return response

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        if isinstance(exc, HTTPException):
            return http_error(exc)
        if is_busy(exc):
            return busy_response()
        log.exception("unhandled error on %s %s", request.method, request.path)
        if request.path.startswith("/api/"):
            return jsonify(message="internal error; it has been logged"), 500
        return "Internal error; it has been logged.", 500
