"""`make bench`: the seven measures of issue 11 against real gunicorn servers (2 workers) over HTTP, on SQLite and
on PostgreSQL, with their baselines measured in the same run.  Prints one table per engine and writes a JSON copy
to bench/results/<engine>-<timestamp>.json.  Benchmarks measure; nothing here passes or fails the test suite.

Usage: python -m bench [--engine sqlite|postgresql|both] [--cases N] [--seconds S] [--clients N] [--code DIR]
Environment: BENCH_CASES (1,000,000), BENCH_SECONDS (10), BENCH_ENGINE (both), BENCH_PG_URL (schema civic_bench),
BENCH_DATA_DIR (var/bench: the SQLite file, the servers' log).

The databases are kept between runs: a SQLite file in var/bench/ and the PostgreSQL schema civic_bench, filled
by `civic bench-data` to --cases on the first run (10% of the cases still open: the EOC measure's 100,000 at 1M)
and counted, not refilled, afterwards.  Another --cases than 1,000,000 has its own (var/bench/cases-N/,
schema civic_bench_N).  `--code DIR` serves another checkout of the code (the "before" numbers)
against the same databases.
"""
from __future__ import annotations

import argparse
import gzip
import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote, urlencode

from bench import output
from bench.loadgen import Request, fetch, run_load
from bench.output import Row
from bench.server import Server
from bench.signin import jwt_header, staff_cookie

ROOT = Path(__file__).resolve().parent.parent
PG_URL = "postgresql://postgres@127.0.0.1:5432/test?options=-csearch_path%3Dcivic_bench"
HOST = "127.0.0.1"
OPEN_SHARE = 0.1
DEFAULT_CASES = 1_000_000
FEMA_ROWS = 50_000
# The city's area (the bench data's box): the EOC board's whole-city view.
CITY_BBOX = "-81.30,29.48,-81.13,29.64"
LIST_FIRST = "/caseview/list/?_flt_0_status=new&_oc_CaseView=created_at&_od_CaseView=desc"
LIST_DEEP = "/caseview/list/?page_CaseView=4000&psize_CaseView=25"
SEARCHES = {"common words": "synthetic benchmark", "a reference": "BENCH-000500000"}
REPORT = "/reports/run?subject=cases&period=all&group=department&measures=count&measures=close_median"
FAB_LIST = "/api/v1/case/?q=" + quote("(filters:!((col:status,opr:eq,value:new)),order_column:created_at,"
                                      "order_direction:desc,page:0,page_size:25)")


class Engine:
    """One database under test: its environment for the app's processes and where its files go."""

    def __init__(self, name: str, code: Path, url: str | None, size: int = 0):
        self.name = name
        self.code = code
        self.data_dir = Path(os.environ.get("BENCH_DATA_DIR") or ROOT / "var" / "bench").resolve()
        if size != DEFAULT_CASES:  # another size, another kept database (never a bigger one reused)
            self.data_dir = self.data_dir / f"cases-{size}"
        self.url = url or f"sqlite:///{self.data_dir / 'civic.db'}"
        self.env = {"CIVIC_DATA_DIR": str(self.data_dir), "CIVIC_DATABASE_URL": self.url, "PYTHONPATH": str(code),
                    "BENCH_DATABASE_URL": self.url}
        self.log = self.data_dir / f"server-{name}.log"

    def run(self, *args: str, nice: bool = False, check: bool = True) -> subprocess.CompletedProcess:
        command = (["nice"] if nice else []) + list(args)
        done = subprocess.run(command, cwd=self.code, env={**os.environ, **self.env}, capture_output=True, text=True)
        if check and done.returncode:
            raise RuntimeError(f"{' '.join(args[:4])}... failed:\n{done.stdout[-1500:]}{done.stderr[-3000:]}")
        return done

    def civic(self, *args: str, **kw) -> subprocess.CompletedProcess:
        return self.run(sys.executable, "-c", "from core.cli import main; main()", *args, **kw)

    def prepare(self, *args: str) -> dict:
        return json.loads(self.run(sys.executable, "-m", "bench.prepare", *args).stdout.strip().splitlines()[-1])

    @contextmanager
    def background_worker(self):
        """``civic notify run`` (the outbox and the plugins' queues) at a lower priority, for the length of the block."""
        command = ["nice", "-n", "10", sys.executable, "-c", "from core.cli import main; main()", "notify", "run", "--interval", "0.5"]
        out = open(self.log, "ab")
        try:
            process = subprocess.Popen(command, cwd=self.code, env={**os.environ, **self.env}, stdout=out, stderr=subprocess.STDOUT,
                                       start_new_session=True)
        finally:
            out.close()
        try:
            _wait_until_idle(process)  # started before the load, as the service it is in production
            yield process
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def server(self, target: str, ready: str = "/") -> Server:
        # The app is served as production serves it: with its gunicorn settings (load shedding) when the checkout has them.
        config = "python:core.gunicorn_conf" if target.startswith("core.") and (self.code / "core" / "gunicorn_conf.py").exists() else None
        return Server(target, self.env, log=self.log, cwd=str(self.code), ready_path=ready, config=config)


def _wait_until_idle(process: subprocess.Popen, timeout: float = 60.0) -> None:
    """Until ``process`` (the background worker) has started and waits for work: its CPU time stops growing."""
    def cpu() -> float:
        try:
            fields = Path(f"/proc/{process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return 0.0
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    deadline, last = time.monotonic() + timeout, -1.0
    while time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.5)
        now = cpu()
        if last >= 1.0 and now - last < 0.02:  # past the imports (a second of CPU at least), now idle
            return
        last = now


def postgres_answers(url: str) -> str | None:
    """None when PostgreSQL answers (and the schema exists), else why not."""
    import psycopg

    base, _, query = url.partition("?")
    schema = query.split("search_path%3D", 1)[1].split("&", 1)[0] if "search_path%3D" in query else None
    try:
        with psycopg.connect(base.replace("postgresql+psycopg", "postgresql"), connect_timeout=3, autocommit=True) as conn:
            if schema:
                conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
    except Exception as exc:  # noqa: BLE001 -- any failure means: skip this engine, visibly
        return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return None


ANALYZE_SCHEMA = """
import os, psycopg
with psycopg.connect(os.environ["CIVIC_DATABASE_URL"], autocommit=True) as conn:
    for (table,) in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()").fetchall():
        conn.execute(f'ANALYZE "{table}"')
"""


def fill(engine: Engine, cases: int) -> dict:
    """Bring the kept database to ``cases`` synthetic cases (10% open); returns what it found and did."""
    engine.civic("init")
    found = engine.prepare("count")
    facts = {"cases_found": found["cases"], "fill_seconds": 0.0}
    if found["cases"] < cases:
        missing = cases - found["cases"]
        print(f"  filling: {missing:,} cases (civic bench-data --open-share {OPEN_SHARE})...", flush=True)
        started = time.perf_counter()
        engine.civic("bench-data", "--cases", str(missing), "--open-share", str(OPEN_SHARE), nice=True)
        facts["fill_seconds"] = round(time.perf_counter() - started, 1)
        print(f"  filled {missing:,} cases in {facts['fill_seconds']:.0f} s", flush=True)
        found = engine.prepare("count")
    if engine.name == "postgresql":  # fresh planner statistics for this schema's tables (sampled: seconds)
        engine.run(sys.executable, "-c", ANALYZE_SCHEMA)
    facts.update(found)
    return facts


def _ok_note(result) -> str:
    bad = result.requests - result.count("2xx")
    return f"{bad} of {result.requests} not 2xx ({dict(result.statuses)})" if bad else ""


def latency_row(name: str, result, target_ms: float | None, **extra) -> Row:
    """A row for a latency measure: the p95 (ms) against its target; the run's summary in the details."""
    value = result.p(95)
    passed = None if target_ms is None else (value < target_ms and result.count("2xx") == result.requests and result.requests > 0)
    return Row(name, value, "ms", f"p95 < {target_ms:.0f} ms" if target_ms else "", passed, note=_ok_note(result),
               details={**result.summary(), **extra})


def measure_open311_post(engine: Engine, app: Server, key: str, args) -> list[Row]:
    """Measure 1: Open311 POST throughput, its baseline (bare Flask + SQLAlchemy), and above capacity."""
    def post(body_extra: dict):
        def make(client: int, n: int) -> Request:
            fields = {"service_code": "POTHOLE", "attribute[SIZE]": "small", "lat": f"{29.5 + (n % 97) / 1000:.4f}",
                      "long": f"{-81.2 - (client % 13) / 1000:.4f}", "description": f"Pothole {client}-{n} in the bench lane",
                      **body_extra}
            return Request("POST", "/open311/v2/requests.json" if "api_key" in body_extra else "/cases",
                           urlencode(fields).encode(), {"Content-Type": "application/x-www-form-urlencoded"})
        return make

    with engine.server("bench.baseline_app:app") as baseline:
        base = run_load(HOST, baseline.port, post({}), args.clients, args.seconds)
    # The background worker runs as production runs it (`civic notify run`, at a lower priority): during a surge
    # the app queues POSTs ([intake] open311_queue = "busy") and the worker turns them into cases meanwhile.
    start = queue_state(engine.url)
    with engine.background_worker():
        ours = run_load(HOST, app.port, post({"api_key": key}), args.clients, args.seconds)
        after_load = queue_state(engine.url, start["last_id"])
        drained = wait_for_queue(engine.url, start["last_id"], timeout=max(120.0, args.seconds * 30))
    ratio = ours.rps / base.rps if base.rps else None
    passed = ratio is not None and ratio >= 0.5 and ours.p(95) < 100 and ours.count("5xx") == 0 and ours.count("2xx") > 0
    rows = [
        Row(f"1. Open311 POST, {args.clients} clients", ours.rps, "req/s", ">= 50% of baseline, p95 < 100 ms, 0 5xx", passed, ratio,
            note=f"p95 {ours.p(95):.0f} ms; " + (_ok_note(ours) or "all 2xx"), details={**ours.summary(), "baseline": base.summary()}),
        Row("   baseline: bare Flask + SQLAlchemy insert", base.rps, "req/s", note=f"p95 {base.p(95):.0f} ms; " + (_ok_note(base) or "all 2xx"),
            details=base.summary()),
        Row("   queued during the load, then made cases", after_load["queued"], "requests", "every queued request becomes a case",
            drained["pending"] == 0 and drained["refused"] == 0,
            note=(f"{after_load['pending']:,} still queued when the load ended; {drained['made']:,} cases made, "
                  f"{drained['refused']} refused, {drained['pending']} left after {drained['seconds']:.0f} s"),
            details={"at_end_of_load": after_load, "drained": drained}),
    ]
    over = run_load(HOST, app.port, post({"api_key": key}), args.over_clients, args.seconds)
    rows.append(Row(f"   above capacity, {args.over_clients} clients", over.rps, "req/s", "0 5xx (429/503 allowed)",
                    over.count("5xx") == over.count("503") and over.count("error") == 0, ratio=over.rps / base.rps if base.rps else None,
                    note=f"p95 {over.p(95):.0f} ms; 2xx {over.count('2xx')}, 429 {over.count('429')}, 503 {over.count('503')}, "
                         f"other 5xx {over.count('5xx') - over.count('503')}, errors {over.count('error')}",
                    details=over.summary()))
    return rows


def queue_state(url: str, since_id: int = 0) -> dict:
    """Open311 requests accepted into the queue since ``since_id``: how many, how many still wait, how many
    became cases or were refused (read with SQLAlchemy alone: the harness never imports the app)."""
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            row = conn.execute(sa.text(
                "SELECT coalesce(max(id), 0), count(*), count(*) FILTER (WHERE processed_at IS NULL), count(case_id), "
                "count(*) FILTER (WHERE processed_at IS NOT NULL AND case_id IS NULL) "
                "FROM intake_batch_submission WHERE id > :since"), {"since": since_id}).one()
            last = conn.execute(sa.text("SELECT coalesce(max(id), 0) FROM intake_batch_submission")).scalar_one()
    finally:
        engine.dispose()
    return {"last_id": max(last, since_id), "queued": row[1], "pending": row[2], "made": row[3], "refused": row[4]}


def wait_for_queue(url: str, since_id: int, timeout: float) -> dict:
    """Poll until the requests queued since ``since_id`` are all processed (or ``timeout``): the drain time."""
    began = time.monotonic()
    while True:
        state = queue_state(url, since_id)
        if state["pending"] == 0 or time.monotonic() - began > timeout:
            return {**state, "seconds": round(time.monotonic() - began, 1)}
        time.sleep(0.5)


def measure_case_list(engine: Engine, app: Server, cookie: str, accounts: dict, args) -> list[Row]:
    """Measure 2: the staff list (first page filtered and sorted, a deep page, text search) and stock FAB."""
    def get(path: str, headers: dict):
        return lambda client, n: Request("GET", path, None, headers)

    staff = {"Cookie": cookie}
    rows = []
    first = run_load(HOST, app.port, get(LIST_FIRST, staff), args.read_clients, args.seconds)
    rows.append(latency_row("2. case list: first page, filter + sort", first, 150, url=LIST_FIRST))
    deep = run_load(HOST, app.port, get(LIST_DEEP, staff), args.read_clients, args.seconds)
    rows.append(latency_row("   case list: page 4000", deep, 150, url=LIST_DEEP))
    for label, words in SEARCHES.items():
        url = "/caseview/list/?" + urlencode({"q": words})
        found = run_load(HOST, app.port, get(url, staff), args.read_clients, args.seconds)
        rows.append(latency_row(f"   case list: search, {label}", found, 200, url=url))
    engine.run(sys.executable, "-m", "bench.fab_app", "--init")
    with engine.server("bench.fab_app:app", ready="/api/v1/_openapi") as fab:
        token = jwt_header(HOST, fab.port, "bench_admin", accounts["password"])
        stock = run_load(HOST, fab.port, get(FAB_LIST, {"Authorization": token}), args.read_clients, args.seconds)
    row = latency_row("   baseline: stock FAB ModelRestApi, same page", stock, None, url=FAB_LIST)
    rows.append(row)
    rows[0].ratio = (stock.p(95) / first.p(95)) if first.p(95) else None  # >100%: faster than stock FAB
    return rows


def measure_statements(engine: Engine, accounts: dict) -> list[Row]:
    """Measure 3: SQL statements per request (counted in the app's process; the guard is the "sql" test)."""
    counts = engine.prepare("statements", accounts["password"])
    return [Row(("3. statements: " if i == 0 else "   statements: ") + name, c["statements"], "", "<= 10",
                c["statements"] <= 10 and c["status"] < 400, note="" if c["status"] < 400 else f"HTTP {c['status']}", details=c)
            for i, (name, c) in enumerate(counts.items())]


def measure_eoc(engine: Engine, app: Server, cookie: str, facts: dict, args) -> list[Row]:
    """Measure 4: the EOC hot-spot map over the whole city, the storm window (the most open cases it shows)."""
    url = "/fieldservice/eoc/api/hotspots.geojson?" + urlencode({"bbox": CITY_BBOX, "zoom": 13, "window": "storm"})
    headers = {"Cookie": cookie}
    status, _, body, _ = fetch(HOST, app.port, Request("GET", url, None, headers))
    size_kb = len(gzip.compress(body)) / 1024
    result = run_load(HOST, app.port, lambda c, n: Request("GET", url, None, headers), args.read_clients, args.seconds)
    rows = [latency_row("4. EOC hot spots (GeoJSON)", result, 300, url=url, open_cases=facts.get("open")),
            Row("   EOC hot spots: size gzipped", size_kb, "KB", "< 1024 KB", status == 200 and size_kb < 1024,
                note=f"HTTP {status}, {len(body) / 1024:,.0f} KB plain; {facts.get('open', 0):,} open cases in the database")]
    return rows


def measure_open311_get(app: Server, args) -> list[Row]:
    """Measure 5: Open311 GET requests.json, its default window."""
    url = "/open311/v2/requests.json"
    result = run_load(HOST, app.port, lambda c, n: Request("GET", url), args.read_clients, args.seconds)
    return [latency_row("5. Open311 GET requests.json (default)", result, 300, url=url)]


def measure_fema(engine: Engine, fema: dict) -> list[Row]:
    """Measure 6: the FEMA export CLI, CSV and XLSX of the materials form (one line per record) and, with the fema
    plugin's own bench data, of the labor form (person x week), time and peak RSS of the process.
    The CLI's start-up (create_app), the quickest of three runs of a trivial command, is subtracted from the time:
    what remains is an upper bound of the export's own time (start-up moves by a second on a busy machine)."""
    def timed(*args: str) -> dict:
        done = engine.run(sys.executable, "-m", "bench.rss", sys.executable, "-c", "from core.cli import main; main()", *args)
        return json.loads(done.stdout.strip().splitlines()[-1])

    startup = min((timed("fema", "exports", "--limit", "1") for _ in range(3)), key=lambda r: r["seconds"])  # its quickest
    rows = []
    forms = ["materials"] + (["labor"] if fema.get("loader") == "plugins.fema.benchdata" else [])  # labor: grouped by person x week
    for form, fmt, limit in [(form, fmt, limit) for form in forms for fmt, limit in (("csv", 2.0), ("xlsx", 10.0))]:
        with tempfile.TemporaryDirectory() as tmp:
            run = timed("fema", "export", "--disaster", fema["disaster"], "--form", form, "--format", fmt,
                        "-o", str(Path(tmp) / f"export.{fmt}"))
        net = max(run["seconds"] - startup["seconds"], 0.0)
        ok = run["returncode"] == 0
        rows.append(Row(f"{'6.' if not rows else '  '} FEMA export {form} {fmt.upper()}, {fema['rows']:,} rows", net, "s",
                        f"< {limit:.0f} s, < 200 MB", ok and net < limit and run["peak_mb"] < 200,
                        note=(f"{run['seconds']:.1f} s with start-up ({startup['seconds']:.1f} s); peak RSS {run['peak_mb']:.0f} MB "
                              f"(start-up alone {startup['peak_mb']:.0f} MB)") if ok else f"failed: {run['stderr'][-300:]}",
                        details={"run": {k: v for k, v in run.items() if k not in ("stdout",)}, "startup": startup}))
        rows.append(Row(f"   FEMA export {form} {fmt.upper()}: peak memory", run["peak_mb"], "MB", "< 200 MB", ok and run["peak_mb"] < 200))
    return rows


def measure_report(engine: Engine, app: Server, cookie: str, args) -> list[Row]:
    """Measure 7: a grouped report over every case (the target is PostgreSQL's; SQLite is reported)."""
    result = run_load(HOST, app.port, lambda c, n: Request("GET", REPORT, None, {"Cookie": cookie}), 1, args.seconds, warmup=1)
    target = 1500 if engine.name == "postgresql" else None
    row = latency_row("7. report by department, all cases", result, target, url=REPORT)
    row.note = (row.note + "; " if row.note else "") + f"median {result.p(50):.0f} ms of {result.requests}"
    return [row]


MEASURES = ("1", "2", "3", "4", "5", "6", "7")


def run_engine(name: str, args) -> list[Row] | None:
    url = None
    if name == "postgresql":
        url = os.environ.get("BENCH_PG_URL", PG_URL)
        if args.cases != DEFAULT_CASES:
            url = url.replace("search_path%3Dcivic_bench", f"search_path%3Dcivic_bench_{args.cases}")
        why = postgres_answers(url)
        if why:
            print(f"PostgreSQL: skipped, no server answers at {url.split('?')[0]} ({why})")
            return None
    engine = Engine(name, Path(args.code).resolve(), url, args.cases)
    engine.data_dir.mkdir(parents=True, exist_ok=True)
    print(f"{name}: preparing the database ({args.cases:,} cases wanted)", flush=True)
    facts = fill(engine, args.cases)
    accounts = engine.prepare("accounts", secrets.token_urlsafe(12))
    rows: list[Row] = []
    fema = None
    if "6" in args.only:
        fema = engine.prepare("fema", str(args.fema_rows))
        if fema.get("added"):
            print(f"  loaded {fema['added']:,} FEMA cost rows in {fema['seconds']:.0f} s ({fema.get('loader', 'bench.prepare')})")
    print(f"{name}: {facts['cases']:,} cases ({facts['open']:,} open); measuring, {args.seconds:g} s each", flush=True)
    with engine.server("core.wsgi:app", ready="/login/") as app:
        dispatcher = staff_cookie(HOST, app.port, "bench_dispatcher", accounts["password"])
        steps = {
            "1": lambda: measure_open311_post(engine, app, accounts["api_key"], args),
            "2": lambda: measure_case_list(engine, app, dispatcher, accounts, args),
            "3": lambda: measure_statements(engine, accounts),
            "4": lambda: measure_eoc(engine, app, staff_cookie(HOST, app.port, "bench_eoc", accounts["password"]), facts, args),
            "5": lambda: measure_open311_get(app, args),
            "6": lambda: measure_fema(engine, fema),
            "7": lambda: measure_report(engine, app, staff_cookie(HOST, app.port, "bench_admin", accounts["password"]), args),
        }
        for key in MEASURES:
            if key not in args.only:
                continue
            try:
                rows.extend(steps[key]())
            except Exception as exc:  # noqa: BLE001 -- one broken measure must not lose the others' numbers
                rows.append(Row(f"{key}. (failed)", None, "", note=f"{type(exc).__name__}: {str(exc)[:300]}"))
            print(f"  measure {key} done", flush=True)
    title = (f"{name}, {facts['cases']:,} cases ({facts['open']:,} open), gunicorn 2 workers, {args.seconds:g} s per load, "
             f"{args.clients} writers / {args.read_clients} readers" + (f", code: {args.code}" if args.code != str(ROOT) else ""))
    print()
    print(output.table(rows, title))
    path = output.write_json(rows, name, {"label": args.label, "code": str(args.code), "commit": _commit(Path(args.code)),
                                          "seconds": args.seconds, "clients": args.clients, "read_clients": args.read_clients,
                                          "over_clients": args.over_clients, **facts, "fema": fema})
    print(f"JSON: {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}\n")
    return rows


def _commit(code: Path) -> str:
    done = subprocess.run(["git", "-C", str(code), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    dirty = subprocess.run(["git", "-C", str(code), "status", "--porcelain"], capture_output=True, text=True).stdout.strip()
    return (done.stdout.strip() or "unknown") + (" + uncommitted changes" if dirty else "")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--engine", choices=("sqlite", "postgresql", "both"), default=os.environ.get("BENCH_ENGINE", "both"))
    parser.add_argument("--cases", type=int, default=int(os.environ.get("BENCH_CASES") or DEFAULT_CASES),
                        help="cases in the database (each size has its own kept database)")
    parser.add_argument("--seconds", type=float, default=float(os.environ.get("BENCH_SECONDS") or 10))
    parser.add_argument("--clients", type=int, default=16, help="concurrent Open311 writers (measure 1)")
    parser.add_argument("--over-clients", type=int, default=64, help="writers above capacity (measure 1)")
    parser.add_argument("--read-clients", type=int, default=2, help="concurrent readers of the latency measures")
    parser.add_argument("--fema-rows", type=int, default=FEMA_ROWS, help="cost rows of the FEMA export (measure 6)")
    parser.add_argument("--only", default=",".join(MEASURES), help="measures to run, such as 1,2")
    parser.add_argument("--code", default=str(ROOT), help="serve this checkout of the code (default: this one)")
    parser.add_argument("--label", default="", help="a word kept in the JSON (before, after...)")
    args = parser.parse_args(argv)
    args.only = set(args.only.split(","))
    for name in (("sqlite", "postgresql") if args.engine == "both" else (args.engine,)):
        run_engine(name, args)


if __name__ == "__main__":
    main()
