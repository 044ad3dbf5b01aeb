"""What the benchmarks need inside the database under test, done by the app's own code in a subprocess
(``python -m bench.prepare ACTION``, the environment naming the database) so the harness never imports the app
it measures (it can measure another checkout of the code: ``--code DIR``).  Prints one JSON object.

- ``count``: how many cases there are (``{"cases": N, "open": M}``).
- ``accounts``: the bench users (a dispatcher, an EOC viewer, an admin for the reports and stock FAB) with a
  password of this run, and a new Open311 API key with the highest rate limit (keys are shown only once).
- ``fema ROWS``: the disaster ``bench-storm`` with at least ROWS material cost records: plugins/fema/benchdata.py
  when the checkout has it (it adds as many labor and equipment records too), else the small loader below
  (materials only); ``{"disaster": tag, "rows": N, "added": N, "seconds": s, "loader": ...}``.
- ``statements``: SQL statements per request of the pages of measure 3, counted on the engine as the Flask
  test client asks for them (a statement count does not depend on the server).
"""
from __future__ import annotations

import json
import re
import sys
import time
from datetime import date, timedelta
from decimal import Decimal

USERS = {"bench_dispatcher": "Dispatcher", "bench_eoc": "EOC viewer", "bench_admin": "Admin"}
DISASTER_TAG = "bench-storm"


def _count(db) -> dict:
    from sqlalchemy import func, select

    from core.models import Case

    total = db.session.scalar(select(func.count()).select_from(Case))
    still_open = db.session.scalar(select(func.count()).select_from(Case).where(Case.closed_at.is_(None)))
    return {"cases": total, "open": still_open}


def _accounts(db, password: str) -> dict:
    from flask import current_app

    from core.services.users import create_user
    from plugins.intake.open311.keys import MAX_RATE_LIMIT, create_key

    sm = current_app.appbuilder.sm
    for username, role in USERS.items():
        user = create_user(username, password, role)
        sm.reset_password(user.id, password)  # the password of this run
    db.session.commit()
    _key, plain = create_key(db.session, f"bench {time.strftime('%Y%m%d-%H%M%S')} {time.monotonic_ns() % 10**6}",
                             rate_limit=MAX_RATE_LIMIT)
    return {"users": USERS, "password": password, "api_key": plain}


def _fema(db, rows: int) -> dict:
    from sqlalchemy import func, select

    from plugins.fema.models import Disaster, MaterialEntry

    try:  # the fema plugin's own generator (labor, equipment and materials) when this checkout has it
        from plugins.fema.benchdata import generate
    except ImportError:
        generate = None
    disaster = db.session.scalar(select(Disaster).where(Disaster.tag == DISASTER_TAG))
    if generate is not None:
        have = 0 if disaster is None else db.session.scalar(
            select(func.count()).select_from(MaterialEntry).where(MaterialEntry.disaster_id == disaster.id))
        started = time.perf_counter()
        if have < rows:
            generate(db.session, rows - have, disaster)
            db.session.commit()
        return {"disaster": DISASTER_TAG, "rows": max(have, rows), "added": max(rows - have, 0),
                "seconds": round(time.perf_counter() - started, 1), "loader": "plugins.fema.benchdata"}
    if disaster is None:
        disaster = Disaster(tag=DISASTER_TAG, title="Bench storm", number="DR-9999", declaration_type="DR", state="FL",
                            declaration_date=date.today() - timedelta(days=30), incident_begin=date.today() - timedelta(days=35),
                            designated_areas=["Flagler (County)"], applicant_pa_id="035-99999-00")
        db.session.add(disaster)
        db.session.commit()
    have = db.session.scalar(select(func.count()).select_from(MaterialEntry).where(MaterialEntry.disaster_id == disaster.id))
    started = time.perf_counter()
    if have < rows:
        _load_materials(db, disaster, rows - have)
    return {"disaster": disaster.tag, "rows": max(have, rows), "added": max(rows - have, 0),
            "seconds": round(time.perf_counter() - started, 1), "loader": "bench.prepare"}


def _load_materials(db, disaster, count: int) -> None:
    """The harness's own loader of material cost records (bulk INSERTs): one site, 50 items, 60 days."""
    from sqlalchemy import insert

    from plugins.fema.models import MaterialEntry, Site

    site = Site(disaster_id=disaster.id, name="Bench site", category="A", address="1 Bench Road")
    db.session.add(site)
    db.session.commit()
    table = MaterialEntry.__table__
    begin = disaster.incident_begin or date.today()
    for first in range(0, count, 5000):
        batch = [{"disaster_id": disaster.id, "site_id": site.id, "category": "AB"[n % 2], "work_date": begin + timedelta(days=n % 60),
                  "description": f"bench material {n}", "vendor": f"Vendor {n % 20}", "item": f"Item {n % 50}",
                  "quantity": Decimal(1 + n % 9), "unit_price": Decimal("12.50") + n % 7, "date_purchased": begin + timedelta(days=n % 60),
                  "from_stock": n % 3 == 0, "invoice_number": f"INV-{n:06d}"}
                 for n in range(first, min(first + 5000, count))]
        db.session.execute(insert(table), batch)
        db.session.commit()


def _statements(app, db, password: str) -> dict:
    """Statements per page, each page asked twice (the second count is the one reported: warm caches)."""
    import sqlalchemy as sa
    from sqlalchemy import select

    from core.models import Case

    case_id, reference = db.session.execute(select(Case.id, Case.reference).order_by(Case.id.desc()).limit(1)).one()
    pages = {
        "case list": "/caseview/list/?_flt_0_status=new&_oc_CaseView=created_at&_od_CaseView=desc",
        "case page": f"/caseview/show/{case_id}",
        "portal home": "/portal/",
        "portal case page": f"/portal/cases/{reference}",
        "Open311 GET": "/open311/v2/requests.json",
    }
    staff = app.test_client()
    page = staff.get("/login/").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page) or re.search(r'value="([^"]+)"[^>]*name="csrf_token"', page)
    staff.post("/login/", data={"username": "bench_dispatcher", "password": password, "csrf_token": token.group(1) if token else ""})
    anonymous = app.test_client()
    seen: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        seen.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", record)
    counts = {}
    try:
        for name, url in pages.items():
            client = staff if name.startswith("case") else anonymous
            for _ in range(2):
                seen.clear()
                status = client.get(url).status_code
            counts[name] = {"url": url, "status": status, "statements": len(seen)}
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", record)
    return counts


def main() -> None:
    action = sys.argv[1]
    from core import create_app
    from core.extensions import db

    app = create_app()
    with app.app_context():
        if action == "count":
            result = _count(db)
        elif action == "accounts":
            result = _accounts(db, sys.argv[2])
        elif action == "fema":
            result = _fema(db, int(sys.argv[2]))
        elif action == "statements":
            result = _statements(app, db, sys.argv[2])
        else:
            raise SystemExit(f"unknown action {action}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
