"""Synthetic cases at city or metropolis scale, fast: ``civic bench-data --cases 1000000``.

For benchmarks and capacity planning, never for a real city's database (every case is tagged ``bench`` and
its reference starts with ``BENCH-``).  The cases look like a real intake: the city's services in proportion,
every channel, statuses that follow the workflow with acknowledged/closed times drawn from skewed
distributions, locations spread over the city's area (the demo neighbourhoods), a storm burst tagged
``hurricane``, and a timeline (created, status changes) for each case.

Rows are written in batches of plain tuples: ``COPY`` on PostgreSQL (about a million cases a minute), multi-row
INSERTs on SQLite; nothing goes through the ORM or the case service (that is what the creation benchmark
measures).  Running it again adds more cases after the ones already there.
"""
from __future__ import annotations

import json
import math
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, insert, select, text

from core.models import Case, CaseEvent, ServiceType, Tag, case_tag
from core.models.base import utcnow

BATCH = 20_000
PREFIX = "BENCH-"
CHANNEL_WEIGHTS = {"web": 0.34, "phone": 0.2, "open311": 0.26, "email": 0.12, "walk_in": 0.08}
OPEN_SHARE = 0.03  # of all cases, still open (besides those not yet due to close)
SPAN_DAYS = 730
# The demo city's area (Palm Coast): cases fall inside this box, denser near its sections' centres.
LAT_RANGE = (29.48, 29.64)
LONG_RANGE = (-81.30, -81.13)
ZONES = ("north", "south", "east", "west", "central")


@dataclass
class BenchReport:
    cases: int = 0
    events: int = 0
    seconds: float = 0.0


def _weighted(rng: random.Random, weights: dict) -> str:
    r, total = rng.random(), 0.0
    for key, weight in weights.items():
        total += weight
        if r <= total:
            return key
    return key


def _rows(rng: random.Random, count: int, start_number: int, services: list, now: datetime, storm: datetime,
          open_share: float) -> Iterator[tuple]:
    """(case row, [event rows], hurricane?) for each synthetic case, oldest first."""
    for n in range(count):
        number = start_number + n
        service_id, department_id, sla_hours = services[rng.randrange(len(services))]
        if rng.random() < 0.04:  # the storm burst: a few days after landfall
            created = storm + timedelta(hours=rng.expovariate(1 / 60))
        else:
            created = now - timedelta(seconds=rng.random() * SPAN_DAYS * 86400)
        created = min(created, now - timedelta(minutes=1))
        lat = round(rng.uniform(*LAT_RANGE), 6)
        long = round(rng.uniform(*LONG_RANGE), 6)
        zone = ZONES[int((lat - LAT_RANGE[0]) / (LAT_RANGE[1] - LAT_RANGE[0]) * 2.5 + (long - LONG_RANGE[0]) / (LONG_RANGE[1] - LONG_RANGE[0]) * 2.5) % len(ZONES)]
        ack = created + timedelta(hours=min(rng.lognormvariate(0.5, 1.0), 24 * 7))
        close_hours = rng.lognormvariate(math.log(max(sla_hours or 72, 4) * 0.6), 0.9)
        closed = created + timedelta(hours=close_hours)
        still_open = closed > now or rng.random() < open_share
        reopened = not still_open and rng.random() < 0.03
        if still_open:
            status = "new" if ack > now else rng.choice(("acknowledged", "in_progress", "in_progress", "on_hold"))
            closed_at, acknowledged_at = None, (ack if ack <= now else None)
        else:
            status, closed_at, acknowledged_at = rng.choice(("closed", "closed", "resolved")), closed, min(ack, closed)
        expected = created + timedelta(hours=sla_hours) if sla_hours else None
        updated = closed_at or acknowledged_at or created
        case = (number, f"{PREFIX}{number:09d}", service_id, "Synthetic case for the benchmark.", status,
                "high" if rng.random() < 0.05 else "normal", _weighted(rng, CHANNEL_WEIGHTS), lat, long, zone,
                department_id, expected, created, updated, closed_at, acknowledged_at, 1 if reopened else 0)
        events = [(number, "created", created, True, "{}")]
        if acknowledged_at is not None:
            events.append((number, "status_changed", acknowledged_at, True, json.dumps({"old": "new", "new": "acknowledged"})))
        if closed_at is not None:
            events.append((number, "status_changed", closed_at, True, json.dumps({"old": "acknowledged", "new": status})))
        yield case, events, created >= storm and created < storm + timedelta(days=10)


CASE_COLUMNS = ("id", "reference", "service_type_id", "description", "status", "priority", "channel", "lat", "long", "zone",
                "department_id", "expected_at", "created_at", "updated_at", "closed_at", "acknowledged_at", "reopen_count")
EVENT_COLUMNS = ("case_id", "kind", "created_at", "public", "data")


def _tag_id(session, name: str) -> int:
    found = session.scalar(select(Tag.id).where(Tag.name == name))
    if found is None:
        found = session.execute(insert(Tag).values(name=name).returning(Tag.id)).scalar_one()
    return found


def generate(session, count: int, seed: int = 2026, now: datetime | None = None, open_share: float = OPEN_SHARE) -> BenchReport:
    """Add ``count`` synthetic cases (with timelines and tags) to the database of ``session``; ``open_share`` of
    them are still open (an EOC board after a storm: 0.1 of a million is 100,000 open cases)."""
    started = time.perf_counter()
    now = now or utcnow()
    rng = random.Random(seed + (session.scalar(select(func.count()).select_from(Case)) or 0))
    services = session.execute(select(ServiceType.id, ServiceType.department_id, ServiceType.sla_hours)
                               .where(ServiceType.active.is_(True))).all()
    if not services:
        raise RuntimeError("no active service: run `civic init` first")
    bench_tag, storm_tag = _tag_id(session, "bench"), _tag_id(session, "hurricane")
    session.commit()
    first = (session.scalar(select(func.max(Case.id))) or 0) + 1
    storm = now - timedelta(days=75)
    postgres = session.get_bind().dialect.name == "postgresql"
    report = BenchReport()
    rows = _rows(rng, count, first, services, now, storm, open_share)
    while report.cases < count:
        cases, events, tags = [], [], []
        for case, case_events, hurricane in rows:
            cases.append(case)
            events.extend(case_events)
            tags.append((case[0], bench_tag))
            if hurricane:
                tags.append((case[0], storm_tag))
            if len(cases) >= BATCH:
                break
        if not cases:
            break
        if postgres:
            _copy(session, cases, events, tags)
        else:
            _insert(session, cases, events, tags)
        session.commit()
        report.cases += len(cases)
        report.events += len(events)
    if postgres:
        session.execute(text("SELECT setval(pg_get_serial_sequence('\"case\"', 'id'), (SELECT max(id) FROM \"case\"))"))
        session.commit()
        # Statistics for the planner, and the visibility map that lets index-only scans skip the table
        # (a list's deep page reads only the index then). VACUUM runs outside a transaction.
        with session.get_bind().connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            for table in ('"case"', "case_event", "case_tag"):
                conn.execute(text(f"VACUUM ANALYZE {table}"))
    report.seconds = time.perf_counter() - started
    return report


def _copy(session, cases, events, tags) -> None:
    raw = session.connection().connection.driver_connection  # psycopg 3
    with raw.cursor() as cur:
        with cur.copy(f'COPY "case" ({", ".join(CASE_COLUMNS)}, attributes, version) FROM STDIN') as copy:
            for row in cases:
                copy.write_row((*row, "{}", 1))
        with cur.copy(f"COPY case_event ({', '.join(EVENT_COLUMNS)}, actor_label, body) FROM STDIN") as copy:
            for row in events:
                copy.write_row((*row, "system", ""))
        with cur.copy("COPY case_tag (case_id, tag_id) FROM STDIN") as copy:
            for row in tags:
                copy.write_row(row)


def _insert(session, cases, events, tags) -> None:
    session.execute(insert(Case.__table__), [dict(zip(CASE_COLUMNS, row), attributes={}, version=1) for row in cases])
    session.execute(insert(CaseEvent.__table__),
                    [dict(zip(EVENT_COLUMNS, row), data=json.loads(row[4]), actor_label="system", body="") for row in events])
    session.execute(insert(case_tag), [{"case_id": c, "tag_id": t} for c, t in tags])
