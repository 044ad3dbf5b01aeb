"""Load shedding: past a queue of waiting connections, answer 503 at once rather than make everyone wait.

Behind gunicorn's sync workers (``core/gunicorn_conf.py``), the requests a busy server has not started yet wait
in the listening socket's accept queue, which the application never sees: above capacity every client waits
longer and longer, then times out.  Linux reports that queue's length (``TCP_INFO`` on a listening socket:
``tcpi_unacked``), so each worker can look before it starts a request: when more than ``[server] max_waiting``
connections (default 32; ``CIVIC_MAX_WAITING`` in the environment wins) are waiting, only that share of the requests is served (32 of every 64 when 64 wait,
spread evenly) and the others get ``503 Service Unavailable`` with ``Retry-After`` straight away -- no database
work, no 500.  The servers keep working at full capacity on the requests they take, the rest learn at once
to come back later, and the wait of a served request stays near what ``CIVIC_MAX_WAITING`` connections take.
``/health`` is never refused: a load balancer asks it how the node is.

Off where there is nothing to look at (the development server, the tests' client, another OS) or with
``max_waiting = 0``.  Set it to about the number of requests the servers finish in the longest wait you
accept: 32 waiting at ~200 requests/s is ~160 ms.
"""
from __future__ import annotations

import logging
import os
import socket
import struct
import time

from flask import Flask, current_app, request
from werkzeug.exceptions import ServiceUnavailable

log = logging.getLogger(__name__)

DEFAULT_MAX_WAITING = 32
RETRY_AFTER = 2  # seconds: the queue drains fast once refusals start
NEVER_REFUSED = ("/health",)
LOG_EVERY = 10.0  # seconds between two "overloaded" lines of one process (a surge refuses thousands)
# struct tcp_info (linux/tcp.h): 8 one-byte fields, then u32 rto, ato, snd_mss, rcv_mss, unacked -- for a
# listening socket ``unacked`` is the accept queue's current length.
_UNACKED_OFFSET = 24

_listeners: list[socket.socket] = []
_last_logged = 0.0
_credit = 0.0  # the share of requests served, carried from one request to the next (so it is exact on average)


class Overloaded(ServiceUnavailable):
    """More connections wait than the server is set to keep waiting: 503 with Retry-After."""


def listen_on(sockets: list[socket.socket]) -> None:
    """The listening sockets of this worker (gunicorn's ``post_worker_init``, core/gunicorn_conf.py)."""
    _listeners[:] = [s for s in sockets if s.family in (socket.AF_INET, socket.AF_INET6)]


def max_waiting() -> int:
    """``CIVIC_MAX_WAITING`` from the environment, else the city config's ``[server] max_waiting``."""
    try:
        return max(0, int(os.environ.get("CIVIC_MAX_WAITING") or current_app.config.get("CIVIC_MAX_WAITING", DEFAULT_MAX_WAITING)))
    except ValueError:
        return DEFAULT_MAX_WAITING


def waiting(sockets: list[socket.socket] | None = None) -> int:
    """Connections accepted by the kernel that no worker has taken yet (0 where the OS does not say)."""
    total = 0
    for sock in _listeners if sockets is None else sockets:
        try:
            info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 104)
        except (OSError, AttributeError):  # not Linux, or the socket is gone
            continue
        if len(info) >= _UNACKED_OFFSET + 4:
            total += struct.unpack_from("=I", info, _UNACKED_OFFSET)[0]
    return total


def _gate() -> None:
    limit = max_waiting()
    if not _listeners or not limit or request.path in NEVER_REFUSED:
        return
    queued = waiting()
    if queued <= limit:
        return
    global _credit, _last_logged
    _credit += limit / queued
    if _credit >= 1.0:  # this one is among the share served
        _credit -= 1.0
        return
    now = time.monotonic()
    if now - _last_logged > LOG_EVERY:
        _last_logged = now
        log.warning("overloaded: %d connections waiting (more than %d): answering 503 to part of them", queued, limit)
    raise Overloaded(retry_after=RETRY_AFTER)


def init_app(app: Flask) -> None:
    """Look at the queue before anything else runs for a request (before the session, the user, the database)."""
    app.before_request_funcs.setdefault(None, []).insert(0, _gate)
