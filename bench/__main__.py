"""`make bench`: how fast the core creates and lists cases on a real SQLite file.

Usage: python -m bench [--cases N] [--database URL]
Prints one line per measurement.  Later issues add city- and metropolis-scale runs.
"""
from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--cases", type=int, default=2000)
    parser.add_argument("--database", default=None, help="database URL (default: a temp SQLite file)")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="civic-bench-"))
    os.environ["CIVIC_DATA_DIR"] = str(tmp)
    url = args.database or f"sqlite:///{tmp / 'bench.db'}"

    from sqlalchemy import func, select

    from core import create_app, migrate
    from core.extensions import db
    from core.models import Case
    from core.services.cases import create_case
    from core.services.catalog import sync_catalog

    app = create_app(settings={"SQLALCHEMY_DATABASE_URI": url})
    with app.app_context():
        migrate.upgrade()
        sync_catalog(db.session, app.extensions["civic"].config)
        start = time.perf_counter()
        for i in range(args.cases):
            create_case(db.session, service_code="POTHOLE", description=f"bench {i}", attributes={"SIZE": "small"},
                        lat=29.58, long=-81.21, commit=(i % 100 == 99))
        db.session.commit()
        elapsed = time.perf_counter() - start
        print(f"create_case            {args.cases / elapsed:10.0f} cases/s   ({args.cases} cases, commit every 100)")

        timings = []
        for _ in range(20):
            t = time.perf_counter()
            db.session.execute(
                select(Case.id, Case.reference).where(Case.department_id == 1, Case.status == "new")
                .order_by(Case.created_at.desc()).limit(25)
            ).all()
            timings.append(time.perf_counter() - t)
        print(f"scoped list page (25)  {statistics.median(timings) * 1000:10.2f} ms median")
        t = time.perf_counter()
        db.session.execute(select(Case.department_id, Case.status, func.count()).group_by(Case.department_id, Case.status)).all()
        print(f"dashboard group-by     {(time.perf_counter() - t) * 1000:10.2f} ms")


if __name__ == "__main__":
    main()
