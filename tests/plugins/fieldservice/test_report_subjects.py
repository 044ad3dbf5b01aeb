"""Reports on work orders and on the streets of storm sweeps.

Work orders and sweeps are made through the plugin's own services (create, complete, check off); a
manager then asks the report engine for counts, completion times, overdue work, sweep progress and street
miles, and each user only counts what they may see.  Both database backends; the database is shared by
the run, so each test makes its own streets, crews, tag and sweep and reports only on those.
"""
from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from tests.conftest import PASSWORD
from tests.plugins.fieldservice.conftest import make_network
from tests.reports import by_label, every_combination, report, tag, user

METRES_PER_MILE = 1609.344


def staff(app, role: str) -> str:
    """A user of ``role`` (no department) made for this test."""
    from core.extensions import db
    from core.services.users import create_user

    username = f"{role.lower().replace(' ', '_')}_{tag()}"
    with app.app_context():
        create_user(username, PASSWORD, role, email=f"{username}@city.example")
        db.session.remove()
    return username


# ---------------------------------------------------------------- work orders

@pytest.fixture
def work_orders(app):
    """Four pothole cases tagged with a tag of our own, in the two zones of a fresh street network:
    a PW crew completed two work orders (that took 2 and 4 hours) and has one for tomorrow; a UTIL crew's
    work order was scheduled for yesterday and is still open (overdue)."""
    from core.extensions import db
    from core.formats import city_today
    from core.models import Crew, Department, Task
    from core.models.base import utcnow
    from core.services.cases import Actor, create_case
    from plugins.fieldservice.workorders import complete_work_order, create_work_order

    t = f"wo-{tag()}"
    with app.test_request_context():
        s = db.session
        net = make_network(s)
        west, east = net.zones
        dept = {code: s.scalar(sa.select(Department).where(Department.code == code)) for code in ("PW", "UTIL")}
        pw_crew = Crew(name=f"PW crew {t}", department=dept["PW"], members=[user(s, "crew")])
        util_crew = Crew(name=f"UTIL crew {t}", department=dept["UTIL"])
        s.add_all([pw_crew, util_crew])
        s.commit()
        today = city_today()

        def order(zone, crew, day):
            case = create_case(s, service_code="POTHOLE", attributes={"SIZE": "small"}, description="Hole", zone=zone, tags=[t])
            return create_work_order(s, case, crew=crew, scheduled_for=day)

        done_2h, done_4h = order(west, pw_crew, today), order(west, pw_crew, today)
        order(east, pw_crew, today + timedelta(days=1))
        order(east, util_crew, today - timedelta(days=1))
        # They were given to the crew hours before the crew finished them.
        for task, hours in ((done_2h, 2), (done_4h, 4)):
            s.execute(sa.update(Task).where(Task.id == task.id).values(created_at=utcnow() - timedelta(hours=hours)))
        s.commit()
        crew_member = Actor.of(user(s, "crew"))
        for task in (done_2h, done_4h):
            s.refresh(task)
            complete_work_order(s, task, crew_member, notes="Filled and rolled")
        found = {"tag": t, "net": net, "pw_crew": pw_crew.name, "util_crew": util_crew.name, "today": today,
                 "zone_names": {code: f"Zone {code[-1].upper()} {net.tag}" for code in net.zones}}
        s.remove()
    return found


def test_a_manager_counts_work_orders_completed_how_long_they_took_and_what_is_overdue(app, work_orders):
    spec = {"subject": "work_orders", "period": "last_7_days", "filters": {"tag": [work_orders["tag"]]}, "group": "crew",
            "measures": ["count", "completed", "complete_median", "complete_p90", "overdue"]}
    result = report(app, "dispatcher", spec)

    count, completed, median, p90, overdue = result.totals
    assert (count, completed, overdue) == (4, 2, 1)
    assert median == pytest.approx(3 * 3600, abs=60)  # 2 and 4 hours
    assert p90 == pytest.approx(3.8 * 3600, abs=60)
    rows = by_label(result)
    assert rows[work_orders["pw_crew"]][:2] == [3, 2]
    assert rows[work_orders["util_crew"]] == [1, 0, None, None, 1]


def test_work_orders_group_by_zone_name_status_department_and_scheduled_day(app, work_orders):
    from core.formats import format_date

    base = {"subject": "work_orders", "period": "all", "filters": {"tag": [work_orders["tag"]]}, "measures": ["count"]}
    west, east = work_orders["net"].zones
    names = work_orders["zone_names"]
    assert by_label(report(app, "dispatcher", {**base, "group": "zone"})) == {names[west]: [2], names[east]: [2]}
    assert by_label(report(app, "dispatcher", {**base, "group": "status"})) == {"Done": [2], "Open": [2]}
    assert by_label(report(app, "dispatcher", {**base, "group": "department"})) == {
        "Public Works - Streets": [3], "Utilities - Water and Sewer": [1]}
    today = work_orders["today"]
    with app.test_request_context():
        days = {format_date(today + timedelta(days=n)): [c] for n, c in ((0, 2), (1, 1), (-1, 1))}
    assert by_label(report(app, "dispatcher", {**base, "group": "scheduled_for"})) == days
    assert by_label(report(app, "dispatcher", {**base, "group": "service"})) == {"Pothole": [4]}
    assert by_label(report(app, "dispatcher", {**base, "group": "service"}, locale="fr")) == {"Nid-de-poule": [4]}
    only_east = {**base, "filters": {**base["filters"], "zone": [east], "status": ["open"]}, "group": "crew"}
    assert by_label(report(app, "dispatcher", only_east)) == {work_orders["pw_crew"]: [1], work_orders["util_crew"]: [1]}


def test_each_user_counts_only_the_work_orders_they_may_see(app, work_orders):
    from core.reports.engine import ReportDenied

    spec = {"subject": "work_orders", "period": "all", "filters": {"tag": [work_orders["tag"]]}, "measures": ["count", "overdue"]}
    assert report(app, "admin", spec).totals == [4, 1]
    assert report(app, "pw_staff", spec).totals == [3, 0]  # UTIL's overdue work order is not theirs
    assert report(app, "util_staff", spec).totals == [1, 1]
    assert report(app, "crew", spec).totals == [3, 0]  # their crew's (and their department's)
    with pytest.raises(ReportDenied):
        report(app, "resident", spec)


def test_every_grouping_and_measure_of_work_orders_runs(app, work_orders):
    assert every_combination(app, "dispatcher", "work_orders") >= 10
    assert every_combination(app, "crew", "work_orders") >= 10


# ---------------------------------------------------------------- sweep streets

@pytest.fixture
def sweep(app):
    """A debris sweep over a fresh two-zone network (three streets of 960 m in each zone), checked off by a
    crew: west clear / debris / damaged, east blocked / clear / not checked yet."""
    from core.extensions import db
    from core.models import Crew, Department
    from core.services.cases import Actor
    from plugins.fieldservice import sweeps
    from plugins.fieldservice.models import SweepSegment

    with app.test_request_context():
        s = db.session
        net = make_network(s)
        crew = Crew(name=f"Sweep crew {net.tag}", department=s.scalar(sa.select(Department).where(Department.code == "PW")),
                    members=[user(s, "crew")])
        s.add(crew)
        s.commit()
        dispatcher, checker = Actor.of(user(s, "dispatcher")), Actor.of(user(s, "crew"))
        campaign = sweeps.create_sweep(s, name=f"Debris pass {net.tag}", sweep_type="debris", zone_codes=net.zones, actor=dispatcher)
        sweeps.start_sweep(s, campaign, dispatcher)
        checks = {"w0": "clear", "w1": "debris", "w2": "damaged", "e0": "blocked", "e1": "clear"}
        for key, status in checks.items():
            segment = s.scalar(sa.select(SweepSegment).where(SweepSegment.sweep_id == campaign.id,
                                                             SweepSegment.segment_id == net.segments[f"{net.tag}-{key}"]))
            sweeps.check_off(s, segment, status=status, actor=checker, crew=crew)
        found = {"id": campaign.id, "name": campaign.name, "net": net, "crew": crew.name,
                 "zone_names": {code: f"Zone {code[-1].upper()} {net.tag}" for code in net.zones}}
        s.remove()
    return found


def test_sweep_progress_streets_checked_cleared_flagged_and_miles(app, sweep):
    spec = {"subject": "sweep_segments", "period": "last_7_days", "filters": {"sweep": [str(sweep["id"])]}, "group": "zone",
            "measures": ["count", "checked", "cleared", "cleared_rate", "miles", "flagged"]}
    result = report(app, "dispatcher", spec)

    count, checked, cleared, rate, miles, flagged = result.totals
    assert (count, checked, cleared, flagged) == (6, 5, 2, 2)  # debris and blocked are flagged; damaged (severity 1) is not
    assert rate == pytest.approx(100 / 3)
    assert float(miles) == pytest.approx(6 * 960 / METRES_PER_MILE)
    west, east = sweep["net"].zones
    rows = by_label(result)
    assert rows[sweep["zone_names"][west]][:4] == [3, 3, 1, pytest.approx(100 / 3)]
    assert rows[sweep["zone_names"][east]][:4] == [3, 2, 1, pytest.approx(100 / 3)]


def test_sweep_streets_by_status_and_crew_and_the_cleared_filter(app, sweep):
    base = {"subject": "sweep_segments", "period": "all", "filters": {"sweep": [str(sweep["id"])]}, "measures": ["count"]}
    assert by_label(report(app, "dispatcher", {**base, "group": "status"})) == {
        "Clear": [2], "Debris": [1], "Damaged": [1], "Blocked": [1], "Not checked": [1]}
    assert by_label(report(app, "dispatcher", {**base, "group": "status"}, locale="fr"))["Dégagée"] == [2]
    assert by_label(report(app, "dispatcher", {**base, "group": "crew"})) == {sweep["crew"]: [5], "(none)": [1]}
    assert by_label(report(app, "dispatcher", {**base, "group": "sweep"})) == {sweep["name"]: [6]}
    cleared = {"yes": 2, "no": 4}
    for answer, count in cleared.items():
        spec = {**base, "filters": {**base["filters"], "cleared": [answer]}}
        assert report(app, "dispatcher", spec).totals == [count], answer
    west = sweep["net"].zones[0]
    spec = {**base, "filters": {**base["filters"], "zone": [west], "status": ["clear", "debris"]}}
    assert report(app, "dispatcher", spec).totals == [2]


def test_only_the_sweep_screens_readers_report_on_sweep_streets(app, sweep):
    from core.reports.engine import ReportDenied

    spec = {"subject": "sweep_segments", "period": "all", "filters": {"sweep": [str(sweep["id"])]}, "measures": ["count"]}
    for username in ("admin", "dispatcher", staff(app, "Supervisor"), staff(app, "EOC viewer")):
        assert report(app, username, spec).totals == [6], username
    for username in ("pw_staff", "crew"):
        with pytest.raises(ReportDenied):
            report(app, username, spec)


def test_every_grouping_and_measure_of_sweep_streets_runs(app, sweep):
    assert every_combination(app, "dispatcher", "sweep_segments") >= 8
