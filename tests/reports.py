"""Running reports in tests: as a given user, in a given language, and every grouping and measure of a
subject at once (SQL that only one database accepts fails here, on both)."""
from __future__ import annotations

import uuid

import sqlalchemy as sa


def tag() -> str:
    return uuid.uuid4().hex[:8]


def user(session, username):
    from core.models import User

    return session.scalar(sa.select(User).where(User.username == username))


def report(app, username: str, spec: dict, locale: str = "en"):
    """Parse and run a report as ``username`` (labels in ``locale``)."""
    from core.extensions import db
    from core.reports.engine import run
    from core.reports.spec import parse
    from core.reports.subjects import registry

    with app.test_request_context(headers={"Accept-Language": locale}):
        try:
            return run(db.session, parse(spec, registry()), user(db.session, username))
        finally:
            db.session.remove()


def by_label(result) -> dict:
    return {row.label: row.values for row in result.rows}


def every_combination(app, username: str, subject_code: str) -> int:
    """Run the subject grouped by each time unit and each dimension, with all its measures (six at a time),
    and once with each filter set to its first choice: nothing may fail on either database."""
    from core.extensions import db
    from core.reports.engine import run
    from core.reports.spec import MAX_MEASURES, parse
    from core.reports.subjects import registry

    runs = 0
    with app.test_request_context():
        subject = registry()[subject_code]
        who = user(db.session, username)
        measures = [m.code for m in subject.measures]
        chunks = [measures[i:i + MAX_MEASURES] for i in range(0, len(measures), MAX_MEASURES)]
        for group in ["", "day", "week", "month", *(d.code for d in subject.dimensions)]:
            for chunk in chunks:
                run(db.session, parse({"subject": subject_code, "period": "all", "group": group, "measures": chunk}, registry()), who)
                runs += 1
        for flt in subject.filters:
            choices = flt.choices(db.session) if flt.choices else []
            value = choices[0].value if choices else "anything"
            spec = {"subject": subject_code, "period": "last_30_days", "filters": {flt.code: [value]}, "group": subject.dimensions[0].code,
                    "measures": chunks[0]}
            run(db.session, parse(spec, registry()), who)
            runs += 1
        db.session.remove()
    return runs
