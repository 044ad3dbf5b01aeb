"""The staff dashboard: open cases by department and status, overdue cases, today's intake by channel."""
from __future__ import annotations

import re
from datetime import datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from tests.conftest import recorded_sql

from core import hookimpl

POTHOLE = {"service_code": "POTHOLE", "attributes": {"SIZE": "small"}}  # Public Works (PW), 72 hours
METER = {"service_code": "METER", "attributes": {}}  # Utilities (UTIL), 48 hours


def make_case(app, kind=POTHOLE, status: str | None = None, **kwargs) -> tuple[int, str]:
    from core.extensions import db
    from core.services.cases import SYSTEM, change_status, create_case

    with app.app_context():
        case = create_case(db.session, **{**kind, **kwargs})
        if status:
            change_status(db.session, case, status, SYSTEM)
        return case.id, case.reference


def department_id(app, code: str) -> int:
    from core.extensions import db
    from core.models import Department

    with app.app_context():
        return db.session.scalar(sa.select(Department.id).where(Department.code == code))


def _number(cell: str) -> int:
    return int(re.sub(r"<[^>]+>", "", cell).strip())


class Dashboard:
    """The numbers of one rendering of the dashboard page."""

    def __init__(self, client):
        response = client.get("/dashboard/")
        assert response.status_code == 200
        self.html = response.get_data(as_text=True)

    def departments(self) -> set[int]:
        return {int(d) for d in re.findall(r'<tr data-department="(\d+)">', self.html)}

    def open(self, department: int, status: str | None = None) -> int:
        row = re.search(rf'<tr data-department="{department}">(.*?)</tr>', self.html, re.S)
        if row is None:
            return 0
        if status is None:
            return _number(re.search(r"<td[^>]*data-total>(.*?)</td>", row.group(1), re.S).group(1))
        return _number(re.search(rf'<td[^>]*data-status="{status}">(.*?)</td>', row.group(1), re.S).group(1))

    def overdue(self, department: int) -> int:
        row = re.search(rf'<tr data-department="{department}">(.*?)</tr>', self.html, re.S)
        return _number(re.search(r"<td[^>]*data-overdue>(.*?)</td>", row.group(1), re.S).group(1)) if row else 0

    def intake(self, channel: str) -> int:
        return _number(re.search(rf'<tr data-channel="{channel}"><td>.*?</td><td[^>]*>(\d+)</td>', self.html, re.S).group(1))

    def kpi(self, name: str) -> int:
        return _number(re.search(rf'id="kpi-{name}">(\d+)<', self.html).group(1))


def test_dashboard_counts_open_cases_by_department_and_status(app, client_for):
    client = client_for("dispatcher")
    util = department_id(app, "UTIL")
    before = Dashboard(client)
    make_case(app, METER)
    make_case(app, METER)
    make_case(app, METER, status="in_progress")
    make_case(app, METER, status="resolved")  # closed: not counted
    after = Dashboard(client)
    assert after.open(util, "new") == before.open(util, "new") + 2
    assert after.open(util, "in_progress") == before.open(util, "in_progress") + 1
    assert after.open(util) == before.open(util) + 3
    assert after.kpi("open") == before.kpi("open") + 3


def test_department_staff_see_only_their_departments_numbers(app, client_for):
    pw, util = department_id(app, "PW"), department_id(app, "UTIL")
    make_case(app, METER)
    client = client_for("pw_staff")
    before = Dashboard(client)
    assert util not in before.departments()
    make_case(app, POTHOLE)
    make_case(app, METER, channel="walk_in")
    after = Dashboard(client)
    assert after.departments() <= {pw}
    assert after.open(pw, "new") == before.open(pw, "new") + 1
    assert after.kpi("open") == before.kpi("open") + 1
    assert after.intake("walk_in") == before.intake("walk_in")
    assert "Utilities - Water and Sewer" not in after.html


def test_overdue_counts_open_cases_past_their_expected_date(app, client_for):
    from core.extensions import db
    from core.models import Case
    from core.services.cases import SYSTEM, change_status

    client = client_for("dispatcher")
    util = department_id(app, "UTIL")
    before = Dashboard(client)
    late_id, late_ref = make_case(app, METER, created_at=datetime(1999, 1, 4, 12, 0))
    make_case(app, METER, created_at=datetime.now(timezone.utc).replace(tzinfo=None) - timedelta(hours=1))  # within its 48 h
    make_case(app, METER, created_at=datetime(1999, 1, 5, 12, 0), status="closed")  # late, but closed
    after = Dashboard(client)
    assert after.overdue(util) == before.overdue(util) + 1
    assert after.kpi("overdue") == before.kpi("overdue") + 1
    assert late_ref in after.html.split('id="overdue"')[1]

    with app.app_context():
        change_status(db.session, db.session.get(Case, late_id), "resolved", SYSTEM)
    assert Dashboard(client).overdue(util) == before.overdue(util)


def test_todays_intake_counts_by_channel_in_the_citys_time_zone(app, client_for):
    client = client_for("dispatcher")
    tz = ZoneInfo(app.config["CIVIC_TIMEZONE"])
    today = datetime.now(tz).date()
    midnight_utc = datetime.combine(today, time.min, tzinfo=tz).astimezone(timezone.utc).replace(tzinfo=None)
    before = Dashboard(client)
    make_case(app, POTHOLE, channel="field", created_at=midnight_utc + timedelta(minutes=1))  # just after the city's midnight
    make_case(app, POTHOLE, channel="field", created_at=midnight_utc - timedelta(minutes=1))  # the city's yesterday
    make_case(app, POTHOLE, channel="email")
    after = Dashboard(client)
    assert after.intake("field") == before.intake("field") + 1
    assert after.intake("email") == before.intake("email") + 1
    assert after.kpi("intake") == before.kpi("intake") + 2


def test_dashboard_numbers_link_to_the_filtered_case_list(app, client_for):
    util = department_id(app, "UTIL")
    _, reference = make_case(app, METER, status="on_hold")
    client = client_for("dispatcher")
    page = Dashboard(client).html
    row = re.search(rf'<tr data-department="{util}">(.*?)</tr>', page, re.S).group(1)
    link = re.search(r'data-status="on_hold"><a href="([^"]+)"', row).group(1).replace("&amp;", "&")
    listed = client.get(link).get_data(as_text=True)
    assert reference in listed
    assert "On hold" in listed and ">New<" not in listed.split("Record Count")[-1]


def test_dashboard_uses_aggregate_queries_only(app, client_for):
    """Fine at millions of cases: the page never loads case rows except the short overdue list."""
    client = client_for("dispatcher")
    make_case(app, METER)
    with recorded_sql(app) as statements:
        Dashboard(client)
    case_queries = [s for s in statements if 'FROM "case"' in s or "FROM case " in s]
    # The page's own four, the time-to-close trend, the top services of the week, and the intake plugin's
    # "Calls today" block (today's cases by channel).
    assert len(case_queries) == 7, case_queries
    for statement in case_queries:
        assert "GROUP BY" in statement or "LIMIT" in statement, statement


def test_resident_and_anonymous_visitors_cannot_open_the_dashboard(client_for):
    assert client_for("resident").get("/dashboard/").status_code == 403
    anonymous = client_for(None).get("/dashboard/")
    assert anonymous.status_code == 302 and "/login/" in anonymous.headers["Location"]


def test_the_dashboard_is_in_the_staff_menu(client_for):
    for user in ("pw_staff", "crew", "dispatcher"):
        assert 'href="/dashboard/"' in client_for(user).get("/caseview/list/").get_data(as_text=True), user


class StormWidget:
    """A plugin that puts a widget on the dashboard (registered for one test)."""

    @hookimpl
    def dashboard_widgets(self):
        from core.records import Panel

        return [Panel(title="Storm watch", html='<p class="storm-widget">No active storm</p>')]


@pytest.fixture
def storm_widget(app):
    pm = app.extensions["civic"].pm
    pm.register(StormWidget(), name="test-storm-widget")
    yield
    pm.unregister(name="test-storm-widget")


def test_plugin_widgets_appear_on_the_dashboard(client_for, storm_widget):
    page = Dashboard(client_for("pw_staff")).html
    assert "Storm watch" in page and '<p class="storm-widget">No active storm</p>' in page
