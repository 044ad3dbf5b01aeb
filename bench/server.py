"""Real server processes for the benchmarks: gunicorn with 2 sync workers on 127.0.0.1, on a free port.

Every measure goes through one of these (the app, the bare baseline, stock Flask-AppBuilder), started with the
same settings so the ratios compare applications, not servers.  The server's output goes to a log file next to
the results; ``stop`` ends the master (which ends its workers) and waits for it.
"""
from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

WORKERS = 2


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """``with Server("core.wsgi:app", env) as server:`` -- ``server.port`` answers once the block starts."""

    def __init__(self, target: str, env: dict[str, str] | None = None, log: Path | None = None, workers: int = WORKERS,
                 timeout: int = 120, ready_path: str = "/", cwd: str | None = None, config: str | None = None):
        self.target = target
        self.config = config  # a gunicorn config (``python:core.gunicorn_conf`` for the app: its load shedding)
        self.env = {**os.environ, **(env or {})}
        self.log = log
        self.workers = workers
        self.timeout = timeout
        self.ready_path = ready_path
        self.cwd = cwd
        self.port = 0
        self.process: subprocess.Popen | None = None

    def command(self) -> list[str]:
        return [sys.executable, "-m", "gunicorn", self.target, "--bind", f"127.0.0.1:{self.port}",
                "--workers", str(self.workers), "--worker-class", "sync", "--timeout", str(self.timeout),
                "--graceful-timeout", "5", "--log-level", "warning"] + (["--config", self.config] if self.config else [])

    def start(self, wait: float = 90.0) -> "Server":
        self.port = free_port()
        out = open(self.log, "ab") if self.log else subprocess.DEVNULL
        try:
            self.process = subprocess.Popen(self.command(), env=self.env, stdout=out, stderr=subprocess.STDOUT, cwd=self.cwd,
                                            start_new_session=True)
        finally:
            if self.log:
                out.close()  # the server has its own copy
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.target} exited with status {self.process.returncode}"
                                   + (f" (see {self.log})" if self.log else ""))
            if self._answers():
                return self
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"{self.target} did not answer within {wait:.0f} s")

    def _answers(self) -> bool:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
        try:
            conn.request("GET", self.ready_path)
            conn.getresponse().read()
            return True
        except OSError:
            return False
        finally:
            conn.close()

    def worker_pids(self) -> list[int]:
        """The master's children (its workers), read from /proc."""
        if self.process is None:
            return []
        pids = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    stat = (entry / "stat").read_text()
                except OSError:
                    continue
                if int(stat.rsplit(")", 1)[1].split()[1]) == self.process.pid:
                    pids.append(int(entry.name))
        return pids

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)  # gunicorn: graceful stop of master and workers
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def __enter__(self) -> "Server":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
