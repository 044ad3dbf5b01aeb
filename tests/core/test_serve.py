"""`civic serve` runs the production server: gunicorn with the city's [server] settings -- its worker processes,
the load shedding of core.admission, an access log with nothing personal in it -- and stops cleanly on Ctrl-C."""
from __future__ import annotations

import http.client
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench.server import free_port
from tests.conftest import DEMO_CONFIG, ROOT

CIVIC = [sys.executable, "-c", "from core.cli import main; main()"]


def city_with(tmp: Path, extra: str) -> dict[str, str]:
    shutil.copytree(DEMO_CONFIG.parent, tmp / "config")
    config = tmp / "config" / "city.toml"
    config.write_text(DEMO_CONFIG.read_text(encoding="utf-8") + "\n" + extra, encoding="utf-8")
    return {**os.environ, "CIVIC_CONFIG": str(config), "CIVIC_DATA_DIR": str(tmp / "data"), "CIVIC_DATABASE_URL": f"sqlite:///{tmp / 'civic.db'}",
            "PYTHONPATH": str(ROOT)}


def get(port: int, path: str) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path)
        return conn.getresponse().status
    finally:
        conn.close()


def wait_for(port: int, process: subprocess.Popen, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()[0]
        try:
            get(port, "/open311/v2/discovery.json")
            return
        except OSError:
            time.sleep(0.2)
    raise AssertionError("civic serve did not answer")


def workers_of(pid: int) -> list[int]:
    found = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
    return [int(p) for p in found]


@pytest.fixture(scope="module")
def city(tmp_path_factory) -> dict[str, str]:
    env = city_with(tmp_path_factory.mktemp("serve"), "[server]\nworkers = 3\nmax_waiting = 16\n")
    done = subprocess.run(CIVIC + ["init"], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    return env


def test_civic_serve_runs_gunicorn_with_the_workers_of_the_config_and_stops_on_ctrl_c(city):
    port = free_port()
    server = subprocess.Popen(CIVIC + ["serve", "--port", str(port)], env=city, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True, start_new_session=True)
    try:
        wait_for(port, server)
        assert len(workers_of(server.pid)) == 3  # [server] workers = 3
        assert get(port, "/open311/v2/services.json?api_key=SECRET-KEY-123") == 200
        assert get(port, "/login/") == 200
    finally:
        server.send_signal(signal.SIGINT)
        output, _ = server.communicate(timeout=30)
    assert server.returncode == 0, output
    assert "admin login: admin" in output and "3 worker processes (gunicorn)" in output
    assert '"GET /open311/v2/services.json" 200' in output  # the access log: method, path, status...
    assert "SECRET-KEY-123" not in output and "127.0.0.1 " not in output  # ...never a query string or a client address


def test_workers_on_the_command_line_win_over_the_config(city):
    port = free_port()
    server = subprocess.Popen(CIVIC + ["serve", "--port", str(port), "--workers", "1"], env=city, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        wait_for(port, server)
        assert len(workers_of(server.pid)) == 1
    finally:
        server.send_signal(signal.SIGINT)
        server.communicate(timeout=30)


def test_a_bad_server_setting_is_one_line_naming_the_file_and_key(tmp_path):
    env = city_with(tmp_path, "[server]\nworkers = 0\n")
    done = subprocess.run(CIVIC + ["config", "check"], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert "city.toml: server.workers:" in done.stdout + done.stderr


def test_behind_a_proxy_the_forwarded_client_and_scheme_are_trusted_only_when_the_config_says_so(tmp_path):
    from werkzeug.middleware.proxy_fix import ProxyFix

    from tests.conftest import build_app

    env = city_with(tmp_path, "[server]\nproxies = 1\n")
    trusting = build_app(f"sqlite:///{tmp_path / 'proxy.db'}", env["CIVIC_CONFIG"])
    assert isinstance(trusting.wsgi_app, ProxyFix) and trusting.wsgi_app.x_for == 1 and trusting.wsgi_app.x_proto == 1
    plain = build_app(f"sqlite:///{tmp_path / 'plain.db'}")
    assert not isinstance(plain.wsgi_app, ProxyFix)
