"""The benchmark harness's machinery (`make bench`), quickly: the load generator against a tiny local server, the
percentile math, the table and its JSON copy, and gunicorn started with 2 workers and stopped again.  The
benchmarks themselves are never run here: they measure, they do not pass or fail."""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import sqlalchemy as sa

from bench.loadgen import Request, fetch, percentile, run_load
from bench.output import Row, table, write_json
from bench.server import Server, free_port

ROOT = Path(__file__).resolve().parent.parent
STATUS_OF = {"/ok": 200, "/busy": 429, "/full": 503, "/broken": 500, "/missing": 404}


class Answers(BaseHTTPRequestHandler):
    """Answers each path with its status, on keep-alive connections (HTTP/1.1 with a length)."""

    protocol_version = "HTTP/1.1"

    def do_GET(self):
        body = b"x"
        self.send_response(STATUS_OF.get(self.path, 404))
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def local_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Answers)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def test_percentiles_are_nearest_rank():
    values = [float(v) for v in range(1, 101)]  # 1..100
    assert percentile(values, 50) == 50
    assert percentile(values, 95) == 95
    assert percentile(values, 99) == 99
    assert percentile(values, 100) == 100
    assert percentile([7.0], 95) == 7.0
    assert percentile([], 95) == 0.0
    assert percentile([3.0, 1.0, 2.0], 50) == 2.0  # unordered input


def test_the_load_generator_counts_every_request_by_status(local_server):
    paths = list(STATUS_OF)  # each client walks through the paths in turn

    result = run_load("127.0.0.1", local_server, lambda client, n: Request("GET", paths[n % len(paths)]), clients=3, seconds=0.5,
                      warmup=1)

    assert result.requests > 3 * len(paths)
    assert result.rps > 0
    assert sum(result.statuses.values()) == result.requests == len(result.latencies)
    assert result.count("2xx") > 0 and result.count("429") > 0 and result.count("503") > 0
    assert result.count("4xx") == result.count("429") + result.statuses[404]
    assert result.count("5xx") == result.count("503") + result.statuses[500]
    assert result.count("error") == 0
    assert 0 < result.p(50) <= result.p(95) <= result.p(99)
    summary = result.summary()
    assert summary["clients"] == 3 and summary["requests"] == result.requests and summary["429"] == result.count("429")


def test_a_server_that_does_not_answer_is_counted_as_errors_not_a_crash():
    port = free_port()  # nothing listens there

    result = run_load("127.0.0.1", port, lambda client, n: Request("GET", "/"), clients=2, seconds=0.2, warmup=0)

    assert result.requests > 0 and result.count("error") == result.requests and result.count("2xx") == 0


def test_the_table_shows_value_target_ratio_and_mark_and_the_json_keeps_every_row(tmp_path):
    rows = [
        Row("1. Open311 POST, 16 clients", 123.4, "req/s", ">= 50% of baseline", True, 0.62, details={"p95_ms": 80}),
        Row("2. case list: first page", 180.0, "ms", "p95 < 150 ms", False, note="3 of 90 not 2xx"),
        Row("7. report by department", None, "", note="PostgreSQL only"),
    ]

    text = table(rows, "sqlite, 1,000 cases")
    lines = text.splitlines()
    assert lines[0] == "sqlite, 1,000 cases"
    assert "measure" in lines[1] and "target" in lines[1] and "ratio" in lines[1]
    post = next(line for line in lines if line.startswith("1. Open311"))
    assert "123 req/s" in post and "62%" in post and "pass" in post
    listing = next(line for line in lines if line.startswith("2. case list"))
    assert "180 ms" in listing and "MISS" in listing and "3 of 90 not 2xx" in listing
    assert "PostgreSQL only" in next(line for line in lines if line.startswith("7."))

    path = write_json(rows, "sqlite", {"cases": 1000}, directory=tmp_path, stamp="20261129-020000")
    assert path == tmp_path / "sqlite-20261129-020000.json"
    saved = json.loads(path.read_text())
    assert saved["engine"] == "sqlite" and saved["cases"] == 1000
    assert [m["measure"] for m in saved["measures"]] == [r.measure for r in rows]
    assert saved["measures"][0]["ratio"] == 0.62 and saved["measures"][0]["details"] == {"p95_ms": 80}
    assert saved["measures"][1]["passed"] is False and saved["measures"][2]["value"] is None


def test_gunicorn_serves_the_baseline_with_two_workers_and_stops(app, database_url, tmp_path):
    """The bare Flask + SQLAlchemy baseline under gunicorn inserts a case row into the app's own database."""
    from core.extensions import db
    from core.models import Case

    server = Server("bench.baseline_app:app", {"BENCH_DATABASE_URL": database_url}, log=tmp_path / "gunicorn.log", cwd=str(ROOT))
    with server:
        assert len(server.worker_pids()) == 2
        status, _, body, _ = fetch("127.0.0.1", server.port, Request(
            "POST", "/cases", b"description=bench+row&lat=29.5&long=-81.2", {"Content-Type": "application/x-www-form-urlencoded"}))
        assert status == 201, body
        reference = json.loads(body)[0]["service_request_id"]
        workers = server.worker_pids()
    assert server.process.poll() is not None  # the master stopped...
    assert not any(Path(f"/proc/{pid}").exists() and "Z" not in _state(pid) for pid in workers)  # ...and its workers
    with app.app_context():
        row = db.session.execute(sa.select(Case.description, Case.status, Case.channel).where(Case.reference == reference)).one()
        assert tuple(row) == ("bench row", "new", "open311")


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "Z"


def test_the_readme_table_puts_before_and_after_side_by_side(tmp_path):
    from bench.compare import markdown

    before = [Row("1. Open311 POST, 16 clients", 7.2, "req/s", ">= 50% of baseline", False),
              Row("   statements: case page", 21, "", "<= 10", False),
              Row("6. FEMA export CSV, 50,000 rows", 7.7, "s", "< 2 s", False)]
    after = [Row("1. Open311 POST, 16 clients", 140.0, "req/s", ">= 50% of baseline", True),
             Row("   statements: case page", 9, "", "<= 10", True),
             Row("6. FEMA export materials CSV, 50,000 rows", 1.2, "s", "< 2 s", True),
             Row("   FEMA export labor CSV, 50,000 rows", 1.9, "s", "< 2 s", True)]
    files = [write_json(rows, "postgresql", {"cases": 1_000_000}, directory=tmp_path, stamp=stamp)
             for rows, stamp in ((before, "1"), (after, "2"))]

    text = markdown(*(json.loads(f.read_text()) for f in files))

    lines = text.splitlines()
    assert lines[0] == "| measure (postgresql, 1,000,000 cases) | target | before | after |"
    assert "| 1. Open311 POST, 16 clients | >= 50% of baseline | 7.2 req/s ✗ | 140 req/s ✓ |" in lines
    assert "| statements: case page | <= 10 | 21 ✗ | 9 ✓ |" in lines
    assert "| 6. FEMA export CSV, 50,000 rows | < 2 s | 7.7 s ✗ | 1.2 s ✓ |" in lines
    assert lines[-1] == "| FEMA export labor CSV, 50,000 rows | < 2 s | - | 1.9 s ✓ |"  # new in the "after" run
