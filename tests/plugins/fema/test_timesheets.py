"""A payroll clerk imports the week's timesheet CSV into a disaster's force-account labor."""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import delete, func, select

MADE: dict[str, list[int]] = {"disasters": [], "schedules": []}  # dropped after each test: the session's app is shared


@pytest.fixture(autouse=True)
def _drop_what_the_test_made(app):
    """Delete the test's disasters (their sites and cost records go with them) and rate schedules, so other
    files of the worker see the lists they expect."""
    yield
    from core.extensions import db
    from plugins.fema.models import Disaster, RateSchedule

    disasters, schedules = MADE["disasters"][:], MADE["schedules"][:]
    MADE["disasters"].clear()
    MADE["schedules"].clear()
    if disasters or schedules:
        with app.app_context():
            db.session.execute(delete(Disaster).where(Disaster.id.in_(disasters or [-1])))
            db.session.execute(delete(RateSchedule).where(RateSchedule.id.in_(schedules or [-1])))
            db.session.commit()
            db.session.remove()


@dataclass
class World:
    """A disaster of its own with two sites, two employees (one budgeted) and a truck."""

    tag: str
    disaster_id: int
    site_ids: dict[str, int]
    employee_ids: dict[str, int]
    department_id: int


def make_world(session, department_code: str = "PW") -> World:
    from core.models import Department
    from plugins.fema.models import Disaster, Employee, Site

    tag = uuid.uuid4().hex[:8]
    dept = session.scalar(select(Department).where(Department.code == department_code))
    disaster = Disaster(tag=f"storm-{tag}", title=f"Storm {tag}", number=f"DR-{tag}", declaration_type="DR",
                        declaration_date=date(2019, 10, 22), designated_areas=[], profile_editions={})
    session.add(disaster)
    session.flush()
    MADE["disasters"].append(disaster.id)
    sites = {}
    for name, category in ((f"Debris {tag}", "A"), (f"Seawall {tag}", "D")):
        site = Site(disaster_id=disaster.id, name=name, category=category)
        session.add(site)
        session.flush()
        sites[name] = site.id
    employees = {}
    for number, budgeted in ((f"E{tag}1", True), (f"E{tag}2", False)):
        employee = Employee(employee_number=number, name=f"Worker {number}", job_title="Operator", department_id=dept.id,
                            hourly_rate=Decimal("20.00"), overtime_multiplier=Decimal("1.5"),
                            fringe_regular_pct=Decimal("30"), fringe_overtime_pct=Decimal("7.65"), budgeted=budgeted)
        session.add(employee)
        session.flush()
        employees[number] = employee.id
    session.commit()
    return World(tag, disaster.id, sites, employees, dept.id)


def _csv(w: World, *lines: str) -> str:
    header = "Employee #,Work Date,Reg Hours,OT Hours,Category,Site Name,Description,Case Reference\n"
    return header + "".join(line.format(t=w.tag, site=f"Debris {w.tag}") + "\n" for line in lines)


def test_clerk_imports_a_timesheet_with_the_employees_current_rates(session):
    from plugins.fema.models import Disaster, LaborEntry
    from plugins.fema.timesheets import import_timesheets

    w = make_world(session)
    disaster = session.get(Disaster, w.disaster_id)
    text = _csv(w, "E{t}1,2019-09-02,8,3,a,{site},Cut and toss,", "E{t}2,09/03/2019,6,,B,{site},,")
    result = import_timesheets(session, disaster, text)
    session.commit()
    assert (result.inserted, result.errors, result.duplicates) == (2, [], [])
    first = session.scalar(select(LaborEntry).where(LaborEntry.disaster_id == w.disaster_id, LaborEntry.work_date == date(2019, 9, 2)))
    assert first.category == "A" and first.site_id == w.site_ids[f"Debris {w.tag}"]
    assert (first.hourly_rate, first.overtime_rate) == (Decimal("20.00"), Decimal("30.00"))
    assert (first.fringe_regular_pct, first.fringe_overtime_pct) == (Decimal("30"), Decimal("7.65"))
    assert first.description == "Cut and toss"


def test_each_bad_row_is_reported_by_line_and_reason_and_good_rows_still_go_in(session):
    from plugins.fema.models import Disaster
    from plugins.fema.timesheets import import_timesheets

    w = make_world(session)
    disaster = session.get(Disaster, w.disaster_id)
    tomorrow = (date.today() + timedelta(days=1)).isoformat()
    text = _csv(
        w,
        "E{t}1,2019-09-02,8,0,A,{site},,",  # line 2: good
        "NOBODY,2019-09-02,8,0,A,{site},,",  # line 3
        "E{t}1,2019-13-45,8,0,A,{site},,",  # line 4
        "E{t}1,2019-09-03,25,0,A,{site},,",  # line 5
        "E{t}1,2019-09-04,8,0,Q,{site},,",  # line 6
        "E{t}1,2019-09-05,8,0,A,Nowhere,,",  # line 7
        "E{t}1," + tomorrow + ",8,0,A,{site},,",  # line 8
        "E{t}1,2019-09-06,8,0,A,{site},,NO-SUCH-CASE",  # line 9
    )
    result = import_timesheets(session, disaster, text)
    session.rollback()
    assert result.inserted == 1
    reasons = dict(result.errors)
    assert sorted(reasons) == [3, 4, 5, 6, 7, 8, 9]
    assert "unknown employee" in reasons[3]
    assert "bad date" in reasons[4]
    assert "between 0 and 24" in reasons[5]
    assert "unknown category" in reasons[6]
    assert "unknown site" in reasons[7]
    assert "in the future" in reasons[8]
    assert "unknown case" in reasons[9]


def test_importing_the_same_file_twice_does_not_double_the_hours(session):
    from plugins.fema.models import Disaster, LaborEntry
    from plugins.fema.timesheets import import_timesheets

    w = make_world(session)
    disaster = session.get(Disaster, w.disaster_id)
    site_id = w.site_ids[f"Seawall {w.tag}"]
    text = _csv(w, "E{t}1,2019-09-02,8,2.5,D," + str(site_id) + ",,", "E{t}2,2019-09-02,4,0,A,{site},,")
    assert import_timesheets(session, disaster, text).inserted == 2
    session.commit()
    again = import_timesheets(session, disaster, text)
    session.commit()
    assert (again.inserted, again.duplicates, again.errors) == (0, [2, 3], [])
    count = session.scalar(select(func.count()).select_from(LaborEntry).where(LaborEntry.disaster_id == w.disaster_id))
    assert count == 2


def test_headers_are_matched_loosely_and_a_missing_column_is_named(session):
    from plugins.fema.models import Disaster
    from plugins.fema.timesheets import TimesheetError, import_timesheets

    w = make_world(session)
    disaster = session.get(Disaster, w.disaster_id)
    text = f" EMPLOYEE NUMBER ;date; Regular Hours ;Overtime-Hours;CATEGORY;site\nE{w.tag}1;2019-09-02;8;1;a;Debris {w.tag}\n"
    assert import_timesheets(session, disaster, text).inserted == 1
    session.rollback()
    with pytest.raises(TimesheetError, match="category"):
        import_timesheets(session, disaster, "employee number,date,regular hours,site\n")


def run_cli(app, *args):
    from core.cli import cli

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FLASK_RUN_FROM_CLI", "false")
        return app.test_cli_runner().invoke(cli, ["fema", *args])


def test_the_command_imports_a_file_and_says_what_it_skipped(app, tmp_path):
    from core.extensions import db
    from plugins.fema.models import Disaster

    with app.app_context():
        w = make_world(db.session)
        number = db.session.get(Disaster, w.disaster_id).number
        db.session.remove()
    path = tmp_path / "week.csv"
    path.write_text(_csv(w, "E{t}1,2019-09-02,8,0,A,{site},,", "E{t}9,2019-09-02,8,0,A,{site},,"), encoding="utf-8")
    result = run_cli(app, "import-timesheets", str(path), "--disaster", number)
    assert result.exit_code == 0, result.output
    assert "1 row" in result.output and "line 3" in result.output and "unknown employee" in result.output
    again = run_cli(app, "import-timesheets", str(path), "--disaster", number)
    assert "already recorded" in again.output and "line 2" in again.output
    missing = run_cli(app, "import-timesheets", str(path), "--disaster", "DR-0000-NONE")
    assert missing.exit_code != 0 and "--disaster" in missing.output
