"""Above capacity the server refuses at once (503 with Retry-After) instead of letting the queue grow: each gunicorn
worker looks at how many connections wait in the listening socket's queue before it starts a request."""
from __future__ import annotations

import os
import signal
import socket
import time
from pathlib import Path

import pytest

from bench.server import Server
from core import admission
from tests.conftest import DEMO_CONFIG

ROOT = Path(__file__).resolve().parent.parent.parent
LINUX = hasattr(socket, "TCP_INFO")


@pytest.mark.skipif(not LINUX, reason="the accept queue's length is read with TCP_INFO (Linux)")
def test_the_connections_waiting_in_a_listening_sockets_queue_are_counted():
    listener = socket.create_server(("127.0.0.1", 0), backlog=16)
    clients = []
    try:
        assert admission.waiting([listener]) == 0
        for _ in range(3):
            clients.append(socket.create_connection(listener.getsockname()))
        assert admission.waiting([listener]) == 3  # loopback handshakes complete at once; nobody accepted them
        accepted, _ = listener.accept()
        accepted.close()
        assert admission.waiting([listener]) == 2
    finally:
        for client in clients:
            client.close()
        listener.close()


def _send(port: int, path: str) -> socket.socket:
    client = socket.create_connection(("127.0.0.1", port), timeout=30)
    client.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
    return client


def _answer(client: socket.socket) -> tuple[int, str]:
    data = b""
    while chunk := client.recv(65536):
        data += chunk
    client.close()
    head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1")
    return int(head.split()[1]), head


@pytest.mark.skipif(not LINUX, reason="the accept queue's length is read with TCP_INFO (Linux)")
def test_a_server_with_more_connections_waiting_than_allowed_answers_503_at_once_and_serves_the_rest(app, database_url, tmp_path):
    env = {"CIVIC_DATABASE_URL": database_url, "CIVIC_DATA_DIR": str(tmp_path), "CIVIC_CONFIG": str(DEMO_CONFIG),
           "CIVIC_MAX_WAITING": "2"}
    server = Server("core.wsgi:app", env, log=tmp_path / "gunicorn.log", workers=1, cwd=str(ROOT), config="python:core.gunicorn_conf",
                    ready_path="/open311/v2/services.json")
    with server:
        (worker,) = server.worker_pids()
        os.kill(worker, signal.SIGSTOP)  # the worker is busy: twenty requests queue up behind it
        try:
            clients = [_send(server.port, "/open311/v2/services.json") for _ in range(20)]
            time.sleep(0.2)
        finally:
            os.kill(worker, signal.SIGCONT)
        answers = [_answer(client) for client in clients]
        health, _ = _answer(_send(server.port, "/open311/v2/services.json"))
    statuses = [status for status, _ in answers]
    assert set(statuses) <= {200, 503}, answers  # never a 500
    refused = [head for status, head in answers if status == 503]
    # With 19 waiting behind it a request has 2 chances in 19 to be served, ..., with 2 or fewer it always is.
    assert len(refused) >= 8 and statuses.count(200) >= 3, statuses
    assert statuses[-3:] == [200, 200, 200], statuses
    assert all("Retry-After: 2" in head for head in refused)
    assert health == 200  # the queue drained: business as usual


def test_without_a_listening_socket_nothing_is_refused(app):
    """The development server and the tests' client have no queue to read: the gate stays open."""
    assert admission.waiting() == 0
    assert app.test_client().get("/open311/v2/services.json").status_code == 200
