"""Baseline (a) of the Open311 POST measure: the least a Flask + SQLAlchemy endpoint can do for the same work.

One endpoint, ``POST /cases``, inserts one row into the same ``case`` table of the same database as the app
(the table is reflected, so nothing of Civic Connect is imported): no key check, no validation, no timeline,
no rate limit.  Served by the same gunicorn settings, its requests/s is the 100% the app is compared with.

Run: ``BENCH_DATABASE_URL=... gunicorn bench.baseline_app:app``.
"""
from __future__ import annotations

import os
import uuid
from datetime import datetime, timezone

from flask import Flask, jsonify, request
from sqlalchemy import MetaData, Table, create_engine, event, insert, select

URL = os.environ["BENCH_DATABASE_URL"]
# The app's own engine settings (core/app.py): pre-ping, and on SQLite WAL with a 30 s busy timeout.
engine = create_engine(URL, pool_pre_ping=True, **({"connect_args": {"timeout": 30}} if URL.startswith("sqlite") else {}))


@event.listens_for(engine, "connect")
def _sqlite_pragmas(dbapi_connection, connection_record):
    if URL.startswith("sqlite"):
        dbapi_connection.execute("PRAGMA journal_mode=WAL")
        dbapi_connection.execute("PRAGMA busy_timeout=30000")


metadata = MetaData()
case = Table("case", metadata, autoload_with=engine)
service_type = Table("service_type", metadata, autoload_with=engine)
with engine.connect() as conn:  # the Open311 measure's service (POTHOLE), or any
    SERVICE_ID, DEPARTMENT_ID = conn.execute(
        select(service_type.c.id, service_type.c.department_id)
        .order_by((service_type.c.code == os.environ.get("BENCH_SERVICE", "POTHOLE")).desc(), service_type.c.id).limit(1)
    ).one()
engine.dispose()  # each worker opens its own connections

app = Flask(__name__)


@app.get("/")
def ready():
    return "ok"


@app.post("/cases")
def create():
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    row = {
        "reference": f"BASE-{uuid.uuid4().hex[:20]}", "service_type_id": SERVICE_ID, "department_id": DEPARTMENT_ID,
        "description": request.form.get("description", ""), "status": "new", "priority": "normal", "channel": "open311",
        "lat": float(request.form.get("lat") or 0), "long": float(request.form.get("long") or 0),
        "attributes": {"SIZE": request.form.get("attribute[SIZE]", "small")}, "created_at": now, "updated_at": now,
        "reopen_count": 0, "version": 1,
    }
    with engine.begin() as conn:
        new_id = conn.execute(insert(case).returning(case.c.id), row).scalar_one()
    return jsonify([{"service_request_id": row["reference"], "id": new_id}]), 201
