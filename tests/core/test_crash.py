"""Nothing lost: a real gunicorn (2 workers) takes a burst of Open311 and portal reports, is killed with SIGKILL
mid-burst (master and workers, the whole process group), and restarts.  Every report that got its answer is
there, whole (timeline, routing, department stint); nothing is half-written; the database is consistent."""
from __future__ import annotations

import html
import http.client
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

import pytest
import sqlalchemy as sa
from sqlalchemy.pool import NullPool

from bench.server import Server
from tests.conftest import DEMO_CONFIG, ROOT, build_app, drop_schema, postgres_url

pytestmark = pytest.mark.crash

OPEN311_THREADS = 4
PORTAL_THREADS = 2
PORTAL_POSTS = 16  # the portal allows 20 reports an hour from one address ([intake] report_limit)
KILL_AFTER = 30  # answered reports before the kill: the burst is in full flow when it comes
BUSY = (429, 503)  # "try again later" is a fair answer under load (not an acknowledgement: nothing is promised)
CIVIC = str(Path(sys.executable).with_name("civic"))
PRODUCTION = "python:core.gunicorn_conf"  # served as production serves it (load shedding included)


@dataclass
class Burst:
    """What the clients saw: references whose report was answered as created, and requests cut off."""

    answered: list[tuple[str, str]] = field(default_factory=list)  # (channel, reference)
    tokens: list[str] = field(default_factory=list)  # Open311 reports queued during the burst (answered with a token)
    cut_off: int = 0
    refused: list[str] = field(default_factory=list)  # unexpected answers (a 4xx/5xx before the kill)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def note(self, channel: str, reference: str) -> None:
        with self.lock:
            self.answered.append((channel, reference))

    def lost_connection(self) -> None:
        with self.lock:
            self.cut_off += 1


@pytest.fixture(params=["sqlite", "postgresql"])
def city(request, tmp_path):
    """A new city on a scratch database, set up by `civic init`: (environment for the server, database URL)."""
    schema = None
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'civic.db'}"
    else:
        schema = f"civic_crash_{uuid.uuid4().hex[:8]}"
        url = postgres_url(schema)
    env = {**os.environ, "CIVIC_DATA_DIR": str(tmp_path), "CIVIC_DATABASE_URL": url, "CIVIC_CONFIG": str(DEMO_CONFIG),
           "CIVIC_ADMIN_PASSWORD": "crash-test-admin-pw", "CIVIC_SECRET_KEY": "crash-test-secret"}
    done = subprocess.run([CIVIC, "init"], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    yield env, url
    if schema:
        drop_schema(schema)


def api_key(url: str) -> str:
    """An Open311 key with a limit the burst never reaches (plugins.intake.open311.keys, as `civic open311 create-key`)."""
    from core.extensions import db
    from plugins.intake.open311.keys import create_key

    application = build_app(url)
    with application.app_context():
        _, plain = create_key(db.session, f"Crash test {uuid.uuid4().hex[:6]}", rate_limit=100_000)
        db.session.remove()
        db.engine.dispose()
    return plain


# ---------------------------------------------------------------- the clients

def open311_client(port: int, key: str, burst: Burst, stop: threading.Event, n: int) -> None:
    body = urlencode({"api_key": key, "service_code": "POTHOLE", "lat": "29.58", "long": "-81.2", "attribute[SIZE]": "small",
                      "description": f"Crash test pothole from client {n}"})
    while not stop.is_set():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        try:
            conn.request("POST", "/open311/v2/requests.json", body=body, headers={"Content-Type": "application/x-www-form-urlencoded"})
            response = conn.getresponse()
            data = response.read()
        except (OSError, http.client.HTTPException):
            burst.lost_connection()
            return  # the server is gone
        finally:
            conn.close()
        if 200 <= response.status < 300:
            (answer,) = json.loads(data)
            if "token" in answer:  # queued: the server was busy ([intake] open311_queue = "busy")
                with burst.lock:
                    burst.tokens.append(answer["token"])
            burst.note("open311", answer.get("service_request_id") or answer["token"])
        elif response.status not in BUSY and not stop.is_set():
            burst.refused.append(f"open311 {response.status}: {data[:200]!r}")


def portal_client(port: int, burst: Burst, stop: threading.Event, posts: int, n: int) -> None:
    for i in range(posts):
        if stop.is_set():
            return
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        try:
            conn.request("GET", "/portal/report/POTHOLE")
            page = conn.getresponse()
            text = page.read().decode()
            if page.status != 200:
                if page.status not in BUSY:
                    burst.refused.append(f"portal form {page.status}")
                continue
            cookie = "; ".join(c.split(";")[0] for c in page.headers.get_all("Set-Cookie") or [])
            token = html.unescape(re.search(r'name="csrf_token"[^>]*value="([^"]+)"', text).group(1))
            form = urlencode({"csrf_token": token, "action": "send", "attr_SIZE": "small", "attr_LANE": "no",
                              "description": f"Crash test report {n}-{i} from the portal", "address": f"{100 + i} Crash Test Lane"})
            conn.request("POST", "/portal/report/POTHOLE", body=form,
                         headers={"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie})
            response = conn.getresponse()
            response.read()
        except (OSError, http.client.HTTPException):
            burst.lost_connection()
            return
        finally:
            conn.close()
        found = re.search(r"/portal/cases/([^/]+)/submitted", response.headers.get("Location") or "")
        if response.status == 302 and found:
            burst.note("portal", found.group(1))
        elif response.status not in BUSY and not stop.is_set():
            burst.refused.append(f"portal {response.status}")


def kill_whole_server(server: Server) -> None:
    """SIGKILL to the master and its workers at once (gunicorn runs in a session of its own: its process group)."""
    workers = server.worker_pids()
    assert len(workers) == 2, workers
    os.killpg(server.process.pid, signal.SIGKILL)
    server.process.wait(timeout=30)
    deadline = time.monotonic() + 10
    while any(Path(f"/proc/{pid}").exists() and "Z" not in _state(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(Path(f"/proc/{pid}").exists() and "Z" not in _state(pid) for pid in workers), "a worker survived"


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "Z"


# ---------------------------------------------------------------- what the database must say

def consistency(url: str) -> dict[str, object]:
    engine = sa.create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as c:
            one = lambda q: c.scalar(sa.text(q))  # noqa: E731
            found = {
                "cases": one('SELECT count(*) FROM "case"'),
                "cases without their created entry": one(
                    "SELECT count(*) FROM \"case\" c WHERE NOT EXISTS (SELECT 1 FROM case_event e WHERE e.case_id = c.id AND e.kind = 'created')"),
                "cases without their routing": one(
                    "SELECT count(*) FROM \"case\" c WHERE NOT EXISTS (SELECT 1 FROM case_event e WHERE e.case_id = c.id AND e.kind = 'routed')"),
                "cases without a department stint": one(
                    'SELECT count(*) FROM "case" c WHERE NOT EXISTS (SELECT 1 FROM case_department_stint s WHERE s.case_id = c.id)'),
                "cases with more than one open stint": one(
                    'SELECT count(*) FROM (SELECT case_id FROM case_department_stint WHERE ended_at IS NULL GROUP BY case_id HAVING count(*) > 1) x'),
                "timeline entries of no case": one('SELECT count(*) FROM case_event e WHERE NOT EXISTS (SELECT 1 FROM "case" c WHERE c.id = e.case_id)'),
                "stints of no case": one('SELECT count(*) FROM case_department_stint s WHERE NOT EXISTS (SELECT 1 FROM "case" c WHERE c.id = s.case_id)'),
                "duplicate references": one('SELECT count(*) FROM (SELECT reference FROM "case" GROUP BY reference HAVING count(*) > 1) x'),
                # The numbering never goes back: a number handed out before the crash is never handed out again.
                "cases above the sequence": max(0, one('SELECT count(*) FROM "case"') - (one("SELECT coalesce(sum(last), 0) FROM case_sequence") or 0)),
            }
            if c.dialect.name == "sqlite":
                found["integrity_check"] = c.exec_driver_sql("PRAGMA integrity_check").scalar()
                found["foreign_key_check"] = c.exec_driver_sql("PRAGMA foreign_key_check").all()
            return found
    finally:
        engine.dispose()


def references_whole(url: str, references: list[str]) -> dict[str, list[str]]:
    """For each answered reference: what it lacks ("case", "created", "routed", "stint"); empty when whole."""
    engine = sa.create_engine(url, poolclass=NullPool)
    lacking: dict[str, list[str]] = {}
    try:
        with engine.connect() as c:
            for reference in references:
                case_id = c.scalar(sa.text('SELECT id FROM "case" WHERE reference = :r'), {"r": reference})
                if case_id is None:
                    lacking[reference] = ["case"]
                    continue
                kinds = set(c.scalars(sa.text("SELECT kind FROM case_event WHERE case_id = :i"), {"i": case_id}))
                missing = [k for k in ("created", "routed") if k not in kinds]
                if not c.scalar(sa.text("SELECT count(*) FROM case_department_stint WHERE case_id = :i"), {"i": case_id}):
                    missing.append("stint")
                if missing:
                    lacking[reference] = missing
    finally:
        engine.dispose()
    return lacking


def queued_tokens(url: str, tokens: list[str]) -> set[str]:
    engine = sa.create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as c:
            return {t for t in tokens if c.scalar(sa.text("SELECT count(*) FROM intake_batch_submission WHERE token = :t"), {"t": t})}
    finally:
        engine.dispose()


def token_references(url: str, tokens: list[str]) -> dict[str, str]:
    """token -> the reference of the case made from it (tokens without a case left out)."""
    engine = sa.create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as c:
            rows = [c.execute(sa.text('SELECT s.token, c.reference FROM intake_batch_submission s JOIN "case" c ON c.id = s.case_id '
                                      "WHERE s.token = :t"), {"t": t}).first() for t in tokens]
            return {row[0]: row[1] for row in rows if row is not None}
    finally:
        engine.dispose()


# ---------------------------------------------------------------- the story

def test_reports_answered_before_a_kill_9_are_all_there_after_the_restart_and_whole(city, tmp_path):
    env, url = city
    key = api_key(url)
    burst, stop = Burst(), threading.Event()
    server = Server("core.wsgi:app", env=env, log=tmp_path / "gunicorn.log", ready_path="/health", cwd=str(ROOT), config=PRODUCTION).start()
    try:
        clients = [threading.Thread(target=open311_client, args=(server.port, key, burst, stop, n)) for n in range(OPEN311_THREADS)]
        clients += [threading.Thread(target=portal_client, args=(server.port, burst, stop, PORTAL_POSTS // PORTAL_THREADS, n))
                    for n in range(PORTAL_THREADS)]
        for client in clients:
            client.start()
        deadline = time.monotonic() + 60
        while len(burst.answered) < KILL_AFTER and time.monotonic() < deadline and not burst.refused:
            time.sleep(0.01)
        kill_whole_server(server)  # mid-burst: requests are in flight in both workers
        stop.set()
        for client in clients:
            client.join(60)
    finally:
        stop.set()
        if server.process.poll() is None:
            os.killpg(server.process.pid, signal.SIGKILL)
            server.process.wait()
    assert not burst.refused, burst.refused[:5]
    assert len(burst.answered) >= KILL_AFTER, f"only {len(burst.answered)} reports answered before the kill"
    assert {channel for channel, _ in burst.answered} == {"open311", "portal"}
    assert burst.cut_off >= 1, "the kill came mid-burst: requests were cut off"

    # The restart: the database recovers by itself (SQLite replays its write-ahead log), and the city works again.
    with Server("core.wsgi:app", env=env, log=tmp_path / "gunicorn.log", ready_path="/health", cwd=str(ROOT), config=PRODUCTION) as again:
        conn = http.client.HTTPConnection("127.0.0.1", again.port, timeout=30)
        conn.request("GET", "/health")
        health = conn.getresponse()
        assert health.status == 200, health.read()
        health.read()
        conn.request("POST", "/open311/v2/requests.json", body=urlencode({"api_key": key, "service_code": "POTHOLE", "lat": "29.6",
                     "long": "-81.21", "attribute[SIZE]": "small"}), headers={"Content-Type": "application/x-www-form-urlencoded"})
        answer = conn.getresponse()
        assert 200 <= answer.status < 300, answer.read()
        conn.close()

    # Reports queued with a token were kept too, and the background worker makes each one a whole case.
    assert queued_tokens(url, burst.tokens) == set(burst.tokens), "a report answered with a token was lost"
    worked = subprocess.run([CIVIC, "notify", "run", "--once"], env=env, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert worked.returncode == 0, worked.stderr
    made = token_references(url, burst.tokens)
    assert sorted(made) == sorted(burst.tokens), "a queued report did not become a case"
    references = [reference for _, reference in burst.answered if reference not in made] + list(made.values())
    assert references_whole(url, references) == {}, "a report that was answered is missing or half-written"
    found = consistency(url)
    assert found["cases"] >= len(set(references))
    problems = {name: value for name, value in found.items()
                if name not in ("cases", "integrity_check", "foreign_key_check") and value != 0}
    assert problems == {}, problems
    if "integrity_check" in found:
        assert found["integrity_check"] == "ok"
        assert found["foreign_key_check"] == []
