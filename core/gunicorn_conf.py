"""Gunicorn settings Civic Connect needs whatever the deployment: ``gunicorn -c python:core.gunicorn_conf core.wsgi:app``.

Each worker tells ``core.admission`` which sockets it listens on, so that it can refuse work (503) when more
connections wait than ``CIVIC_MAX_WAITING`` instead of letting the queue grow.  Workers, bind address and
timeouts stay on the command line (or in the deployment's own config file).
"""
from __future__ import annotations


def post_worker_init(worker) -> None:
    from core import admission

    admission.listen_on([listener.sock for listener in worker.sockets])
