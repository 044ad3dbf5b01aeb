"""How fast reports answer at city scale: bulk-load N synthetic cases, then run the report engine's GROUP BYs.

Usage: python -m bench.reports [--cases N] [--database URL]
(In-process timings of the report engine alone.  `make bench` measures the reports over HTTP instead -- its
measure 7 -- on the databases `civic bench-data` fills; this script fills its own database: use a schema of its
own, such as civic_bench_reports, never the harness's civic_bench.)

Prints one line per report (median of three runs) with the target of issue 10 ("a report over a million
cases answers in about a second on PostgreSQL").  The cases are inserted with multi-row INSERTs, not
through the case service (that is the creation benchmark's job): a spread of services, statuses,
channels, zones, and timelines over the last two years.
"""
from __future__ import annotations

import argparse
import os
import random
import statistics
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

BATCH = 10_000
REPORTS = {
    "by department, last 365 days: count, median+p90 to close, % SLA": {
        "subject": "cases", "period": "last_365_days", "group": "department",
        "measures": ["count", "close_median", "close_p90", "within_sla"]},
    "by week, last 90 days: count, median to close": {
        "subject": "cases", "period": "last_90_days", "group": "week", "measures": ["count", "close_median"]},
    "debris by zone, last 14 days: count, median to close": {
        "subject": "cases", "period": "last_14_days", "group": "zone", "filters": {"service": ["ROAD_DEBRIS"]},
        "measures": ["count", "close_median"]},
    "by channel, all time: count, reopen rate": {
        "subject": "cases", "period": "all", "group": "channel", "measures": ["count", "reopen_rate"]},
}


def fill(session, count: int, seed: int = 7) -> float:
    """Insert ``count`` cases in batches; returns the seconds it took."""
    from sqlalchemy import insert, select

    from core.models import Case, ServiceType

    rng = random.Random(seed)
    services = session.execute(select(ServiceType.id, ServiceType.department_id, ServiceType.sla_hours)).all()
    zones = ["north", "south", "east", "west", "central"]
    channels = ["web", "phone", "email", "open311", "walk_in"]
    now = datetime.utcnow()
    started = time.perf_counter()
    table = Case.__table__
    for first in range(0, count, BATCH):
        rows = []
        for i in range(first, min(first + BATCH, count)):
            service_id, department_id, sla = rng.choice(services)
            created = now - timedelta(seconds=rng.randint(0, 730 * 86400))
            hours = rng.lognormvariate(3.5, 1.2)
            closed = created + timedelta(hours=hours)
            is_closed = closed < now and rng.random() < 0.9
            rows.append({
                "reference": f"BENCH-{i:08d}", "service_type_id": service_id, "department_id": department_id,
                "description": "bench", "status": "closed" if is_closed else rng.choice(["new", "acknowledged", "in_progress"]),
                "priority": "normal", "channel": rng.choice(channels), "zone": rng.choice(zones), "attributes": {},
                "created_at": created, "updated_at": closed if is_closed else created,
                "acknowledged_at": created + timedelta(hours=rng.random() * 8), "closed_at": closed if is_closed else None,
                "expected_at": created + timedelta(hours=sla or 72), "reopen_count": 1 if rng.random() < 0.03 else 0,
                "version": 1,
            })
        session.execute(insert(table), rows)
        session.commit()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.reports")
    parser.add_argument("--cases", type=int, default=200_000)
    parser.add_argument("--database", default=None, help="database URL (default: a temp SQLite file)")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="civic-bench-"))
    os.environ["CIVIC_DATA_DIR"] = str(tmp)
    url = args.database or f"sqlite:///{tmp / 'bench.db'}"

    from sqlalchemy import create_engine, func, select, text

    if url.startswith("postgresql") and "search_path%3D" in url:  # a schema of its own, kept between runs
        schema = url.split("search_path%3D", 1)[1].split("&", 1)[0]
        try:
            engine = create_engine(url.split("?", 1)[0], connect_args={"connect_timeout": 3})
            with engine.begin() as conn:
                conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
            engine.dispose()
        except Exception as exc:  # noqa: BLE001 -- no server: say so and stop
            print(f"PostgreSQL not reachable ({str(exc).splitlines()[0]}): report benchmark skipped")
            return

    from core import create_app, migrate
    from core.extensions import db
    from core.models import Case
    from core.reports import spec as specs
    from core.reports.engine import run
    from core.reports.subjects import registry
    from core.services.catalog import sync_catalog

    specs.PERIODS.setdefault("last_365_days", "Last 365 days")
    app = create_app(settings={"SQLALCHEMY_DATABASE_URI": url})
    with app.app_context():
        migrate.upgrade()
        sync_catalog(db.session, app.extensions["civic"].config)
        have = db.session.scalar(select(func.count()).select_from(Case))
        if have < args.cases:
            seconds = fill(db.session, args.cases - have)
            print(f"loaded {args.cases - have:,} cases in {seconds:.1f} s")
        if db.engine.dialect.name == "postgresql":
            db.session.execute(text('ANALYZE "case"'))
            db.session.commit()
        print(f"{db.engine.dialect.name}, {args.cases:,} cases")

    class Everyone:  # a dispatcher's view: every department (the scope is None)
        is_authenticated = True
        id = 0
        username = "bench"
        roles = [type("R", (), {"name": "Admin"})()]

    with app.test_request_context():
        for name, data in REPORTS.items():
            spec = specs.parse(data, registry())
            timings = []
            for _ in range(3):
                t = time.perf_counter()
                result = run(db.session, spec, Everyone())
                timings.append(time.perf_counter() - t)
            print(f"report {name:66s} {statistics.median(timings) * 1000:9.0f} ms  ({len(result.rows)} rows; target ~1000 ms on PostgreSQL at 1M)")


if __name__ == "__main__":
    main()
