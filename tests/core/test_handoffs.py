"""Hand-offs between departments: a re-route needs a reason, the case keeps the chain of departments
and the time it spent with each, and reports get those times (and the tasks' times) from one query."""
from __future__ import annotations

import html
import itertools
import re
import uuid
from contextlib import contextmanager
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from core.models.base import utcnow
from tests.conftest import PASSWORD, csrf_token

POTHOLE = {"service_code": "POTHOLE", "attributes": {"SIZE": "large"}}  # Public Works (PW)
METER = {"service_code": "METER", "attributes": {}}  # Utilities (UTIL)


@contextmanager
def in_app(app):
    """The database session of an app context of its own (pages are then requested outside it)."""
    from core.extensions import db

    with app.app_context():
        try:
            yield db.session
        finally:
            db.session.remove()


def department(session, code: str):
    from core.models import Department

    return session.scalar(sa.select(Department).where(Department.code == code))


def user(session, username: str):
    from core.models import User

    return session.scalar(sa.select(User).where(User.username == username))


def actor_of(session, username: str):
    from core.services.cases import Actor

    return Actor.of(user(session, username))


def stints(session, case_id: int) -> list[tuple[str, bool, str]]:
    """(department code, still open?, reason) of each stint of the case, oldest first."""
    from core.models import Department, DepartmentStint

    rows = session.execute(
        sa.select(Department.code, DepartmentStint.ended_at, DepartmentStint.reason)
        .join(Department, Department.id == DepartmentStint.department_id)
        .where(DepartmentStint.case_id == case_id)
        .order_by(DepartmentStint.started_at, DepartmentStint.id)
    ).all()
    return [(code, ended is None, reason) for code, ended, reason in rows]


def page_text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def act(client, case_id: int, action: str, **fields):
    page = client.get(f"/caseview/show/{case_id}").get_data(as_text=True)
    version = re.search(r'name="version" value="(\d+)"', page).group(1)
    data = {"csrf_token": csrf_token(page), "version": version, "action": action, **fields}
    return client.post(f"/caseview/act/{case_id}", data=data, follow_redirects=True)


# --- re-routing needs a reason ----------------------------------------------------------------


def test_rerouting_without_a_reason_is_refused_naming_the_field(session):
    from core.services.cases import CaseError, create_case, reroute

    case = create_case(session, **POTHOLE)
    for reason in ("", "   "):
        with pytest.raises(CaseError) as refused:
            reroute(session, case, department(session, "UTIL"), actor_of(session, "dispatcher"), reason)
        assert list(refused.value.errors) == ["reason"]
    session.rollback()
    assert session.get(type(case), case.id).department.code == "PW"
    assert stints(session, case.id) == [("PW", True, "")]


def test_rerouting_with_a_reason_longer_than_1000_characters_is_refused(session):
    from core.services.cases import CaseError, create_case, reroute

    case = create_case(session, **POTHOLE)
    with pytest.raises(CaseError) as refused:
        reroute(session, case, department(session, "UTIL"), actor_of(session, "dispatcher"), "x" * 1001)
    assert refused.value.errors["reason"] == ["is 1001 characters long; the limit is 1000"]
    session.rollback()
    reroute(session, case, department(session, "UTIL"), actor_of(session, "dispatcher"), "y" * 1000)
    assert stints(session, case.id)[-1] == ("UTIL", True, "y" * 1000)


def test_case_page_refuses_a_reroute_without_reason_and_asks_for_one(app, client_for):
    from core.services.cases import create_case

    with in_app(app) as session:
        case_id, util_id = create_case(session, **POTHOLE).id, department(session, "UTIL").id
    page = page_text(act(client_for("dispatcher"), case_id, "reroute", department=str(util_id), reason=""))
    assert "Reason: say why the case goes to another department" in page
    assert 'id="reason" name="reason" class="form-control" rows="2" required maxlength="1000"' in page
    with in_app(app) as session:
        assert stints(session, case_id) == [("PW", True, "")]


# --- the stints: one open while the case is open ------------------------------------------------


def test_a_new_case_starts_its_time_with_the_routed_department(session):
    from core.models import DepartmentStint
    from core.services.cases import create_case

    created = datetime(2026, 3, 2, 14, 0)
    case = create_case(session, **METER, created_at=created)
    [stint] = session.scalars(sa.select(DepartmentStint).where(DepartmentStint.case_id == case.id)).all()
    assert (stint.department.code, stint.started_at, stint.ended_at) == ("UTIL", created, None)


def test_rerouting_ends_the_stint_and_opens_the_next_with_the_reason(session):
    from core.services.cases import create_case, reroute

    case = create_case(session, **POTHOLE)
    dispatcher = actor_of(session, "dispatcher")
    reroute(session, case, department(session, "UTIL"), dispatcher, "Water bubbling up: a main break")
    reroute(session, case, department(session, "CE"), dispatcher, "The fence is on city land")
    assert stints(session, case.id) == [
        ("PW", False, ""), ("UTIL", False, "Water bubbling up: a main break"), ("CE", True, "The fence is on city land"),
    ]


def test_closing_ends_the_stint_reopening_opens_one_and_a_closed_case_keeps_none(session):
    from core.services.cases import change_status, create_case, reroute

    case = create_case(session, **POTHOLE)
    staff = actor_of(session, "pw_staff")
    change_status(session, case, "resolved", staff, note="Filled")
    assert stints(session, case.id) == [("PW", False, "")]
    change_status(session, case, "closed", staff)  # resolved -> closed: still none open
    assert stints(session, case.id) == [("PW", False, "")]
    reroute(session, case, department(session, "UTIL"), actor_of(session, "dispatcher"), "Belongs to Utilities")
    assert stints(session, case.id) == [("PW", False, "")]  # a closed case's time counts for nobody
    change_status(session, case, "reopened", actor_of(session, "dispatcher"), note="The hole is back")
    assert stints(session, case.id) == [("PW", False, ""), ("UTIL", True, "The hole is back")]


def test_merging_a_duplicate_ends_its_stint(session):
    from core.services.cases import create_case, merge_into

    parent = create_case(session, **POTHOLE, description="parent")
    duplicate = create_case(session, **POTHOLE, description="same hole")
    merge_into(session, duplicate, parent, actor_of(session, "dispatcher"))
    assert stints(session, duplicate.id) == [("PW", False, "")]
    assert stints(session, parent.id) == [("PW", True, "")]


# --- the chain on the case page ---------------------------------------------------------------------


def test_case_page_shows_the_chain_with_time_spent_reason_and_who(app, client_for):
    from core.services.cases import create_case

    with in_app(app) as session:
        case = create_case(session, **POTHOLE, created_at=utcnow() - timedelta(days=2, hours=3, minutes=10))
        case_id, util_id = case.id, department(session, "UTIL").id
    reason = f"Water is bubbling up under the asphalt {uuid.uuid4().hex[:6]}"
    moved = page_text(act(client_for("dispatcher"), case_id, "reroute", department=str(util_id), reason=reason))
    assert "Sent to Utilities - Water and Sewer." in moved
    panel = moved[moved.index("Hand-offs"):]
    legs = re.findall(r'<li class="civic-handoff" data-department="(\w+)" data-open="(\w+)">', panel)
    assert legs == [("PW", "no"), ("UTIL", "yes")]
    pw, util = panel.split('class="civic-handoff" data-department=')[1:3]
    assert "Public Works - Streets" in pw and "2 days, 3 hours" in pw and "Routed by system" in pw
    assert "Utilities - Water and Sewer" in util and "Re-routed from PW by dispatcher" in util and reason in util
    assert "0 minutes" in util


def test_case_page_chain_is_in_french_for_a_french_reader(app, client_for):
    from core.services.cases import create_case, reroute
    from core.services.users import create_user

    with in_app(app) as session:
        case = create_case(session, **POTHOLE, created_at=utcnow() - timedelta(days=1, hours=2, minutes=5))
        reroute(session, case, department(session, "UTIL"), actor_of(session, "dispatcher"), "Conduite d’eau")
        create_user("dispatcher_fr", PASSWORD, "Dispatcher", email="dispatcher_fr@palmcoast.example.gov")
        case_id = case.id
    client = client_for("dispatcher_fr")
    client.get("/lang/fr")  # saved as this user's language
    page = page_text(client.get(f"/caseview/show/{case_id}"))
    assert '<html lang="fr">' in page
    assert "1\u00a0jour et 2\u00a0heures" in page  # CLDR's units: a no-break space before each unit


def test_staff_of_the_new_department_see_the_chain_of_their_case(app, client_for):
    from core.services.cases import create_case, reroute

    with in_app(app) as session:
        case = create_case(session, **POTHOLE)
        reroute(session, case, department(session, "UTIL"), actor_of(session, "dispatcher"), "Main break")
        case_id = case.id
    page = page_text(client_for("util_staff").get(f"/caseview/show/{case_id}"))
    assert 'data-department="PW" data-open="no"' in page and 'data-department="UTIL" data-open="yes"' in page
    assert client_for("pw_staff").get(f"/caseview/show/{case_id}").status_code == 404


# --- the numbers for reports ---------------------------------------------------------------------

_periods = itertools.count()


@pytest.fixture
def window():
    """A day of its own in 2001 for each test (the database is shared by the whole run): (start, end)."""
    start = datetime(2001, 3, 1) + timedelta(days=10 * next(_periods))
    return start, start + timedelta(days=1)


def constructed_case(session, kind, legs: list[tuple[str, datetime, datetime | None]], closed_at: datetime | None):
    """A real case whose stints are replaced by the given (department, start, end) stretches."""
    from core.models import DepartmentStint
    from core.services.cases import create_case

    case = create_case(session, **kind, created_at=legs[0][1])
    session.execute(sa.delete(DepartmentStint).where(DepartmentStint.case_id == case.id))
    for code, start, end in legs:
        session.add(DepartmentStint(case_id=case.id, department_id=department(session, code).id, started_at=start, ended_at=end))
    case.closed_at = closed_at
    case.status = "closed" if closed_at else "in_progress"
    session.commit()
    return case


@pytest.fixture
def storm_cases(session, window):
    """Two cases closed in the window (PW 10 h, UTIL 5 h, PW 1 h; PW 2 h), one closed just after it, one open."""
    day, end = window
    t = day - timedelta(days=2)
    constructed_case(session, POTHOLE, [("PW", t, t + timedelta(hours=10)), ("UTIL", t + timedelta(hours=10), t + timedelta(hours=15)),
                                        ("PW", t + timedelta(hours=15), t + timedelta(hours=16))], day + timedelta(hours=9))
    constructed_case(session, METER, [("PW", t, t + timedelta(hours=2))], end - timedelta(minutes=1))
    constructed_case(session, POTHOLE, [("CE", t, t + timedelta(hours=7))], end)
    constructed_case(session, POTHOLE, [("PW", t, None)], None)
    return t


def test_time_per_department_sums_calendar_time_of_cases_closed_in_the_period(storm_cases, window, session):
    from core.metrics import TimeSpent, time_per_department

    rows = time_per_department(session, closed_from=window[0], closed_to=window[1])
    assert rows == [
        TimeSpent("PW", None, cases=2, count=3, total_seconds=13 * 3600, average_seconds=13 * 3600 // 3),
        TimeSpent("UTIL", None, cases=1, count=1, total_seconds=5 * 3600, average_seconds=5 * 3600),
    ]


def test_time_per_department_filters_by_department_and_service(storm_cases, window, session):
    from core.metrics import time_per_department

    only_util = time_per_department(session, closed_from=window[0], closed_to=window[1], department_codes=["UTIL"])
    assert [(r.department, r.total_seconds) for r in only_util] == [("UTIL", 5 * 3600)]
    meters = time_per_department(session, closed_from=window[0], closed_to=window[1], service_codes=["METER"])
    assert [(r.department, r.cases, r.total_seconds) for r in meters] == [("PW", 1, 2 * 3600)]
    next_day = time_per_department(session, closed_from=window[1], closed_to=window[1] + timedelta(days=1))
    assert [(r.department, r.total_seconds) for r in next_day] == [("CE", 7 * 3600)]


def test_time_per_department_is_one_grouped_query(app, storm_cases, window, session):
    from core.metrics import time_per_department
    from tests.conftest import recorded_sql

    with recorded_sql(app) as statements:
        time_per_department(session, closed_from=window[0], closed_to=window[1])
    selects = [s for s in statements if s.startswith("SELECT")]
    assert len(selects) == 1 and "GROUP BY" in selects[0]


def test_task_time_counts_done_tasks_of_closed_cases_per_department_and_template(storm_cases, window, session):
    from core.metrics import TimeSpent, task_time
    from core.models import Case, Task

    closed = session.scalars(sa.select(Case).where(Case.closed_at >= window[0], Case.closed_at < window[1]).order_by(Case.id)).all()
    t = storm_cases + timedelta(hours=1)

    def task(case, code, status, minutes, template=None):
        done = t + timedelta(minutes=minutes) if status in ("done", "cancelled") else None
        session.add(Task(case_id=case.id, department_id=department(session, code).id, title=f"{code} work", status=status,
                         created_at=t, updated_at=t, completed_at=done, template=template))

    task(closed[0], "PW", "done", 180, "tree-cut")
    task(closed[1], "PW", "done", 60, "tree-cut")
    task(closed[0], "UTIL", "done", 30)
    task(closed[0], "UTIL", "cancelled", 600)  # cancelled: not counted by default
    task(closed[1], "UTIL", "open", 0)
    session.commit()
    rows = task_time(session, closed_from=window[0], closed_to=window[1])
    assert rows == [
        TimeSpent("PW", None, cases=2, count=2, total_seconds=4 * 3600, average_seconds=2 * 3600),
        TimeSpent("UTIL", None, cases=1, count=1, total_seconds=1800, average_seconds=1800),
    ]
    by_template = task_time(session, closed_from=window[0], closed_to=window[1], by_template=True, statuses=("done", "cancelled"))
    assert [(r.department, r.template, r.count, r.total_seconds) for r in by_template] == [
        ("UTIL", None, 2, 630 * 60), ("PW", "tree-cut", 2, 4 * 3600),
    ]
