"""``civic serve``: the production server, gunicorn, run from the ``civic`` command with the city's ``[server]``
settings.  Each worker process builds the app itself (``core.wsgi``), so no database connection is ever shared
across a fork; each tells ``core.admission`` which sockets it listens on (``core.gunicorn_conf``)."""
from __future__ import annotations

from typing import Any

from gunicorn.app.base import BaseApplication

from core import gunicorn_conf


class CivicServer(BaseApplication):
    """gunicorn with settings given as a dict (no command line of its own to parse)."""

    def __init__(self, options: dict[str, Any]):
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)
        self.cfg.set("post_worker_init", gunicorn_conf.post_worker_init)

    def load(self):
        from core.wsgi import app

        return app


def options(host: str, port: int, server: dict[str, Any], workers: int | None = None) -> dict[str, Any]:
    """gunicorn's settings from ``[server]`` (``workers`` given on the command line wins)."""
    return {
        "bind": f"[{host}]:{port}" if ":" in host else f"{host}:{port}",
        "workers": workers or server["workers"],
        "worker_class": "sync",  # one request at a time per process: the accept queue is where requests wait (core.admission)
        "timeout": server["timeout"],
        "graceful_timeout": 10,
        "accesslog": "-",  # stdout: method, path, status, size, time -- nothing personal
        "access_log_format": '"%(m)s %(U)s" %(s)s %(b)s %(M)sms',  # no client address, no query string (API keys)
        "forwarded_allow_ips": "*" if server["proxies"] else "127.0.0.1",
    }


def run(host: str, port: int, server: dict[str, Any], workers: int | None = None) -> None:
    CivicServer(options(host, port, server, workers)).run()
