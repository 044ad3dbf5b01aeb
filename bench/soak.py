"""`make soak`: a bounded soak test.  A modest mixed load on a real gunicorn server (2 workers, loopback only) for
SOAK_SECONDS (600 by default): residents reporting through the portal form, staff listing cases, adding notes and
editing cases' tags (with the version they read), Open311 apps posting and reading requests, the EOC board
refreshing its hot-spot map and its summary, with the background worker
(`civic notify run`) running beside the server.  The server workers' resident memory is sampled every
SOAK_SAMPLE_SECONDS (15).

Prints a table per kind of request and the memory samples, and exits 1 on any 5xx (or a request that got no
answer), when fewer cases were added than reports answered as created, or when the workers' memory grew by
more than 5% once warm (the median of the minute after the first 30% of the run -- the warm-up that fills the
workers' caches -- against the last minute's median; the samples before are shown, not judged); 0 otherwise.
Unlike `make bench`, this one passes or fails; it is not part of `make test`.

Usage: python -m bench.soak
Environment: SOAK_SECONDS (600), SOAK_SAMPLE_SECONDS (15), SOAK_ENGINE (sqlite | postgresql), SOAK_PG_URL (schema
civic_soak on the test server), SOAK_DATA_DIR (var/soak; a folder per engine: the SQLite file, the config copy,
the server's log).

The database is the demo city (`civic init` + `civic demo`: a year of cases), kept between runs and growing
by what each run adds.  Every simulated resident comes from 127.0.0.1, so the soak serves a copy of the demo
config whose portal report limit per address is raised (the limit itself is tested elsewhere).
"""
from __future__ import annotations

import json
import os
import random
import re
import secrets
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlencode

from bench.loadgen import LoadResult, Request, fetch, run_load
from bench.server import Server
from bench.signin import _fetch_all_cookies, staff_cookie

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
PG_URL = "postgresql://postgres@127.0.0.1:5432/test?options=-csearch_path%3Dcivic_soak"
CITY_BBOX = "-81.30,29.48,-81.13,29.64"
MAX_GROWTH = 0.05  # after the warm-up: a steady server's workers stay within a few per cent
WARMUP = 0.3  # the first 30% of the run fills the workers' caches (SQLAlchemy's statement cache, schemas, templates)
FORM = {"Content-Type": "application/x-www-form-urlencoded"}

# Who loads the server, and how many of each at once (16 writers in all, as the benchmark's Open311 measure).
MIX = {
    "residents: portal report form": 6,
    "staff: case list": 2,
    "staff: internal note on a case": 2,
    "staff: case's tags edited (with its version)": 2,
    "Open311 apps: POST requests": 6,
    "Open311 apps: GET requests": 2,
    "EOC board: hot-spot map refresh": 1,
    "EOC board: summary refresh": 1,
}


def city_config(data_dir: Path) -> Path:
    """The demo city's config with the portal's per-address report limit raised (every resident here is 127.0.0.1)."""
    text = (ROOT / "config" / "palm-coast.toml").read_text(encoding="utf-8")
    text, count = re.subn(r"(?m)^\[intake\]\n", "[intake]\nreport_limit = 1000000\nreport_window = 60\n", text, count=1)
    if count != 1:
        raise SystemExit("soak: config/palm-coast.toml has no [intake] section to raise the report limit in")
    path = data_dir / "soak.toml"
    path.write_text(text, encoding="utf-8")
    if (ROOT / "config" / "gis").is_dir() and not (data_dir / "gis").exists():
        (data_dir / "gis").symlink_to(ROOT / "config" / "gis")
    return path


def environment(engine: str, data_dir: Path) -> dict[str, str]:
    url = f"sqlite:///{data_dir / 'civic.db'}"
    if engine == "postgresql":
        from bench.__main__ import postgres_answers

        url = os.environ.get("SOAK_PG_URL", PG_URL)
        why = postgres_answers(url)
        if why:
            raise SystemExit(f"soak: PostgreSQL does not answer at {url.split('?')[0]} ({why})")
    return {"CIVIC_DATA_DIR": str(data_dir), "CIVIC_DATABASE_URL": url, "CIVIC_CONFIG": str(city_config(data_dir)),
            "PYTHONPATH": str(ROOT)}


def run(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(list(args), cwd=ROOT, env={**os.environ, **env}, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"soak: {' '.join(args[2:5])} failed:\n{done.stdout[-1500:]}{done.stderr[-3000:]}")
    return done.stdout


def prepare(env: dict[str, str]) -> dict:
    """The demo city (once), then the bench users and an Open311 key with this run's password."""
    civic = (sys.executable, "-c", "from core.cli import main; main()")
    run(env, *civic, "init")
    run(env, *civic, "demo")  # a second run adds nothing
    accounts = json.loads(run(env, sys.executable, "-m", "bench.prepare", "accounts", secrets.token_urlsafe(12)).strip().splitlines()[-1])
    accounts["cases"] = json.loads(run(env, sys.executable, "-m", "bench.prepare", "count").strip().splitlines()[-1])["cases"]
    return accounts


def csrf_of(page: str) -> str:
    m = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page) or re.search(r'value="([^"]+)"[^>]*name="csrf_token"', page)
    if not m:
        raise RuntimeError("no CSRF token in the page")
    return m.group(1)


class Browser:
    """A session of its own (cookie and CSRF token), fetched once per load thread and kept."""

    def __init__(self, port: int, page: str, cookie: str = ""):
        status, jar, body = _fetch_all_cookies(HOST, port, Request("GET", page, None, {"Cookie": cookie} if cookie else {}))
        if status != 200:
            raise RuntimeError(f"GET {page} answered {status}")
        cookies = dict(part.split("=", 1) for part in cookie.split("; ") if "=" in part)
        cookies.update(jar)
        self.cookie = "; ".join(f"{k}={v}" for k, v in cookies.items())
        self.token = csrf_of(body)


def per_client(make_browser):
    """A Browser per load thread (``client`` number), made on its first request."""
    browsers: dict[int, Browser] = {}
    lock = threading.Lock()

    def get(client: int) -> Browser:
        with lock:
            if client not in browsers:
                browsers[client] = make_browser()
            return browsers[client]

    return get


def somewhere(rng: random.Random) -> tuple[str, str]:
    """A point of north-east Florida (wide: the "Is this it?" step only looks 200 m around)."""
    return f"{28.5 + rng.random() * 2:.6f}", f"{-82.5 + rng.random() * 2:.6f}"


def loads(port: int, accounts: dict) -> dict:
    """``{name: make_request}`` for each kind of the mix."""
    rng = random.Random()  # new points each run: the last run's potholes are still open there ("Is this it?")
    dispatcher = staff_cookie(HOST, port, "bench_dispatcher", accounts["password"])
    eoc = staff_cookie(HOST, port, "bench_eoc", accounts["password"])
    residents = per_client(lambda: Browser(port, "/portal/report/POTHOLE"))
    staff = per_client(lambda: Browser(port, "/caseview/show/1", dispatcher))
    cases = max(1, min(accounts["cases"], 3000))

    def report(client: int, n: int) -> Request:
        browser = residents(client)
        lat, long = somewhere(rng)
        body = urlencode({"csrf_token": browser.token, "action": "send", "attr_SIZE": "small", "attr_LANE": "no",
                          "description": f"Soak pothole {client}-{n}", "lat": lat, "long": long}).encode()
        return Request("POST", "/portal/report/POTHOLE", body, {**FORM, "Cookie": browser.cookie})

    def note(client: int, n: int) -> Request:
        browser = staff(client)
        body = urlencode({"csrf_token": browser.token, "action": "internal_note", "body": f"Soak note {client}-{n}"}).encode()
        return Request("POST", f"/caseview/act/{rng.randint(1, cases)}", body, {**FORM, "Cookie": browser.cookie})

    def edit(client: int, n: int) -> Request:
        """Read the case page (not counted) for the version it shows, then save new tags with it, as a person
        does: a colleague's save in between is a conflict (a 302 back with the message), never a 5xx."""
        browser = staff(client)
        case_id = rng.randint(1, cases)
        status, _, page, _ = fetch(HOST, port, Request("GET", f"/caseview/show/{case_id}", None, {"Cookie": browser.cookie}))
        found = re.search(rb'name="version" value="(\d+)"', page) if status == 200 else None
        body = urlencode({"csrf_token": browser.token, "action": "tags", "version": found.group(1).decode() if found else "",
                          "tags": f"soak, soak-{n % 7}"}).encode()
        return Request("POST", f"/caseview/act/{case_id}", body, {**FORM, "Cookie": browser.cookie})

    def post311(client: int, n: int) -> Request:
        lat, long = somewhere(rng)
        body = urlencode({"api_key": accounts["api_key"], "service_code": "POTHOLE", "attribute[SIZE]": "small",
                          "lat": lat, "long": long, "description": f"Soak Open311 {client}-{n}"}).encode()
        return Request("POST", "/open311/v2/requests.json", body, FORM)

    def get311(client: int, n: int) -> Request:
        return Request("GET", "/open311/v2/requests.json" + ("?status=open" if n % 2 else ""))

    list_page = "/caseview/list/?_flt_0_status=new&_oc_CaseView=created_at&_od_CaseView=desc"
    hotspots = "/fieldservice/eoc/api/hotspots.geojson?" + urlencode({"bbox": CITY_BBOX, "zoom": 13, "window": "storm"})
    return dict(zip(MIX, [
        report,
        lambda client, n: Request("GET", list_page, None, {"Cookie": dispatcher}),
        note,
        edit,
        post311,
        get311,
        lambda client, n: Request("GET", hotspots, None, {"Cookie": eoc}),
        lambda client, n: Request("GET", "/fieldservice/eoc/api/summary", None, {"Cookie": eoc}),
    ]))


def rss_mb(pids: list[int]) -> float:
    """The workers' resident memory (VmRSS), summed, in MB."""
    total_kb = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total_kb += int(line.split()[1])
        except OSError:
            continue  # a worker that just restarted
    return total_kb / 1024


SLACK = 5  # seconds: a sample "at 60 s" is taken a moment after


def growth(samples: list[tuple[float, float]], seconds: float) -> tuple[float, float, float]:
    """(warmed-up median, last-minute median, growth as a fraction) of (time, MB) samples.  The workers fill their
    caches during the first WARMUP of the run (and the sample at 0 s is the idle server): the baseline is the
    median of the minute after that, so what is judged is growth while the load is steady -- a leak."""
    start = seconds * WARMUP
    loaded = [(t, mb) for t, mb in samples if t > 0] or samples
    warm = [mb for t, mb in loaded if start - SLACK <= t <= start + 60 + SLACK] or [loaded[0][1]]
    last = [mb for t, mb in loaded if t >= seconds - 60 - SLACK] or [loaded[-1][1]]
    a, b = statistics.median(warm), statistics.median(last)
    return a, b, (b - a) / a if a else 0.0


def table(results: dict[str, LoadResult]) -> str:
    head = ("load", "clients", "requests", "req/s", "p50 ms", "p95 ms", "2xx", "3xx", "4xx", "5xx", "no answer")
    rows = [head] + [
        (name, r.clients, r.requests, f"{r.rps:.1f}", f"{r.p(50):.0f}", f"{r.p(95):.0f}", r.count("2xx"), r.count("3xx"),
         r.count("4xx"), r.count("5xx"), r.count("error"))
        for name, r in results.items()
    ]
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(head))]
    lines = ["  ".join(str(c).ljust(w) if i == 0 else str(c).rjust(w) for i, (c, w) in enumerate(zip(row, widths))) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def main() -> int:
    seconds = float(os.environ.get("SOAK_SECONDS") or 600)
    every = float(os.environ.get("SOAK_SAMPLE_SECONDS") or 15)
    engine = os.environ.get("SOAK_ENGINE") or "sqlite"
    if engine not in ("sqlite", "postgresql"):
        raise SystemExit(f"soak: SOAK_ENGINE is {engine!r}; use sqlite or postgresql")
    data_dir = Path(os.environ.get("SOAK_DATA_DIR") or ROOT / "var" / "soak").resolve() / engine
    data_dir.mkdir(parents=True, exist_ok=True)
    env = environment(engine, data_dir)
    print(f"soak: preparing the demo city on {engine} ({data_dir})", flush=True)
    accounts = prepare(env)
    print(f"soak: {accounts['cases']:,} cases; {sum(MIX.values())} clients for {seconds:g} s, memory every {every:g} s", flush=True)
    results: dict[str, LoadResult] = {}
    samples: list[tuple[float, float]] = []
    # Served as production serves it: with the app's gunicorn settings (load shedding) when the checkout has them.
    production = {"config": "python:core.gunicorn_conf"} if (ROOT / "core" / "gunicorn_conf.py").exists() else {}
    # The background worker runs as in production (the outbox; the Open311 reports queued when the server is busy).
    civic = [sys.executable, "-c", "from core.cli import main; main()"]
    with open(data_dir / "worker.log", "ab") as worker_log:
        worker = subprocess.Popen(civic + ["notify", "run", "--interval", "2"], cwd=ROOT, env={**os.environ, **env},
                                  stdout=worker_log, stderr=subprocess.STDOUT)
    with Server("core.wsgi:app", env, log=data_dir / "server.log", cwd=str(ROOT), ready_path="/login/", **production) as server:
        makers = loads(server.port, accounts)

        def drive(name: str) -> None:
            results[name] = run_load(HOST, server.port, makers[name], MIX[name], seconds, warmup=1)

        threads = [threading.Thread(target=drive, args=(name,), daemon=True) for name in MIX]
        started = time.monotonic()
        for t in threads:
            t.start()
        while any(t.is_alive() for t in threads):
            samples.append((time.monotonic() - started, rss_mb(server.worker_pids())))
            deadline = time.monotonic() + every
            while time.monotonic() < deadline and any(t.is_alive() for t in threads):
                time.sleep(0.5)
        samples.append((time.monotonic() - started, rss_mb(server.worker_pids())))
        status, _, _, _ = fetch(HOST, server.port, Request("GET", "/login/"))  # still answers after the load
    worker.terminate()
    worker.wait(timeout=60)
    run(env, *civic, "notify", "run", "--once")  # what is still queued becomes cases (and e-mails) now
    results = {name: results[name] for name in MIX if name in results}
    cases_after = json.loads(run(env, sys.executable, "-m", "bench.prepare", "count").strip().splitlines()[-1])["cases"]
    # A new case answers 302 on the portal (to its "submitted" page) and 201 on Open311 (with an id, or a token when
    # the report was queued: the worker has made every queued one a case by now).
    expected = sum(r.count("3xx") for n, r in results.items() if n.startswith("residents")) + \
        sum(r.count("201") for n, r in results.items() if n.startswith("Open311 apps: POST"))
    print()
    print(f"soak on {engine}, {seconds:g} s, gunicorn 2 workers")
    print(table(results))
    print()
    print("workers' memory (MB): " + ", ".join(f"{t:.0f}s {mb:.0f}" for t, mb in samples))
    first, last, grew = growth(samples, seconds)
    print(f"memory: median {first:.0f} MB after the warm-up ({seconds * WARMUP:.0f} s), last minute median {last:.0f} MB, "
          f"growth {grew:+.1%} (limit +{MAX_GROWTH:.0%})")
    print(f"cases: {cases_after - accounts['cases']:,} added, {expected:,} reports answered as created")
    failures = sum(r.count("5xx") + r.count("error") for r in results.values())
    problems = []
    if failures:
        problems.append(f"{failures} requests answered 5xx or not at all (see {data_dir / 'server.log'})")
    if grew > MAX_GROWTH:
        problems.append(f"the workers' memory grew by {grew:.0%}, more than {MAX_GROWTH:.0%}")
    if cases_after - accounts["cases"] < expected:
        problems.append(f"only {cases_after - accounts['cases']:,} cases were added for {expected:,} reports answered as created")
    if status != 200:
        problems.append(f"the server answered {status} after the load")
    if len(results) != len(MIX):
        problems.append("a load did not finish: " + ", ".join(sorted(set(MIX) - set(results))))
    print("soak: FAILED: " + "; ".join(problems) if problems else "soak: passed (no 5xx, memory steady)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
