"""The report engine's SQL on both databases: percentiles as PostgreSQL's percentile_cont computes them,
days and weeks on Palm Coast's calendar (not UTC's), quiet days shown as zero."""
from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
import sqlalchemy as sa

TAG = "engine-test"


@pytest.fixture(scope="module")
def timed_cases(app):
    """Five closed cases with known times to close, created around local midnights."""
    from core.extensions import db
    from core.services.cases import SYSTEM, change_status, create_case

    hours = [1, 2, 3, 10, 50]
    # 2026-03-01 is a Sunday; 23:30 EST on Sunday is 04:30 UTC on Monday.
    created = [datetime(2026, 3, 2, 4, 30), datetime(2026, 3, 2, 5, 30), datetime(2026, 3, 3, 15, 0),
               datetime(2026, 3, 5, 15, 0), datetime(2026, 3, 9, 15, 0)]
    with app.app_context():
        for h, at in zip(hours, created):
            case = create_case(db.session, service_code="SIDEWALK", description="engine", tags=[TAG], created_at=at)
            change_status(db.session, case, "closed", SYSTEM)
            case.closed_at = at + timedelta(hours=h)
            db.session.commit()
    return hours


def report(app, **data):
    from core.extensions import db
    from core.reports.engine import run
    from core.reports.spec import parse
    from core.reports.subjects import registry
    from flask_appbuilder.security.sqla.models import User

    with app.test_request_context():
        admin = db.session.scalar(sa.select(User).where(User.username == "admin"))
        spec = parse({"subject": "cases", "period": "custom", "date_from": "2026-02-23", "date_to": "2026-03-15",
                      "filters": {"tag": [TAG]}, **data}, registry())
        return run(db.session, spec, admin)


def test_percentiles_match_percentile_cont(app, timed_cases):
    from core.reports.sql import continuous_percentile

    result = report(app, measures=["close_median", "close_p90", "count"])
    median, p90, count = result.totals
    assert count == 5
    assert median == pytest.approx(3 * 3600, abs=1)
    assert p90 == pytest.approx(continuous_percentile([h * 3600 for h in timed_cases], 0.9), abs=1)  # 34 hours
    assert p90 == pytest.approx(34 * 3600, abs=1)


def test_days_and_weeks_are_the_citys(app, timed_cases):
    days = report(app, group="day", measures=["count"])
    by_day = {row.key: row.values[0] for row in days.rows}
    assert by_day[date(2026, 3, 1)] == 1  # 04:30 UTC Monday is still Sunday evening in Palm Coast
    assert by_day[date(2026, 3, 2)] == 1
    assert by_day[date(2026, 3, 4)] == 0  # a quiet day is a zero, not a gap
    assert len(days.rows) == 21 and days.rows[0].key == date(2026, 2, 23)

    weeks = report(app, group="week", measures=["count", "close_median"])
    by_week = {row.key: row.values for row in weeks.rows}
    assert by_week[date(2026, 2, 23)][0] == 1  # the Sunday-evening case
    assert by_week[date(2026, 3, 2)][0] == 3
    assert by_week[date(2026, 3, 9)][0] == 1
    assert by_week[date(2026, 3, 2)][1] == pytest.approx(3 * 3600, abs=1)
    assert [r.label for r in weeks.rows][0] == "Week of Feb 23, 2026"

    months = report(app, group="month", measures=["count"])
    assert [(r.label, r.values[0]) for r in months.rows] == [("February 2026", 0), ("March 2026", 5)]


def test_totals_only_and_a_period_with_nothing(app, timed_cases):
    empty = report(app, date_from="2020-01-01", date_to="2020-01-31", group="zone", measures=["count", "close_median"])
    assert empty.rows == [] and empty.totals[0] == 0 and empty.totals[1] is None
    assert report(app, measures=["count", "open", "closed"]).totals == [5, 0, 5]


def test_every_grouping_measure_and_filter_of_cases_runs(app, timed_cases):
    from tests.reports import every_combination

    assert every_combination(app, "admin", "cases") > 10
