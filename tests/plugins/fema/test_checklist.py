"""Before exporting, the FEMA coordinator reads the checklist of what FEMA would refuse or question."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import select

from tests.conftest import recorded_sql
from tests.plugins.fema.test_timesheets import MADE, make_world
from tests.plugins.fema.test_timesheets import _drop_what_the_test_made  # noqa: F401 -- autouse fixture


def _records(session, w):
    """A week of debris work with one of each problem (and clean records beside them)."""
    from plugins.fema.models import (Disaster, Employee, Equipment, EquipmentEntry, EquipmentRate, LaborEntry, LoadTicket,
                                     RateSchedule, SitePhoto, TruckCertification)

    disaster = session.get(Disaster, w.disaster_id)
    schedule = RateSchedule(edition=w.tag[:8], effective_from=date(2019, 1, 1), sha256="0" * 64)
    session.add(schedule)
    session.flush()
    MADE["schedules"].append(schedule.id)
    session.add_all([EquipmentRate(schedule_id=schedule.id, code=f"8{w.tag[:3]}", rate=Decimal("1.62"), unit="hour"),
                     EquipmentRate(schedule_id=schedule.id, code=f"9{w.tag[:3]}", rate=None, notes="see note")])
    disaster.rate_edition = schedule.edition
    budgeted, hourly = (session.get(Employee, i) for i in w.employee_ids.values())
    debris, seawall = w.site_ids.values()
    day = date(2019, 9, 2)

    def labor(employee, category, regular, overtime, on=day):
        session.add(LaborEntry(disaster_id=disaster.id, site_id=debris, employee_id=employee.id, work_date=on, category=category,
                               regular_hours=regular, overtime_hours=overtime, hourly_rate=20, overtime_rate=30))

    labor(budgeted, "A", 8, 4)  # straight time of budgeted staff on A work
    labor(budgeted, "D", 8, 0, date(2019, 9, 3))  # permanent work: fine
    labor(hourly, "B", 14, 0)  # two entries the same day: 26 hours
    labor(hourly, "B", 10, 2)
    units = {}
    for key, code in (("rated", f"8{w.tag[:3]}"), ("see-note", f"9{w.tag[:3]}"), ("no-code", None)):
        unit = Equipment(unit_number=f"{key}-{w.tag}", description=f"Loader {key}", fema_code=code)
        session.add(unit)
        session.flush()
        units[key] = unit
        session.add(EquipmentEntry(disaster_id=disaster.id, site_id=debris, equipment_id=unit.id, work_date=day, category="A",
                                   hours_used=6, standby_hours=2 if key == "rated" else 0))
    truck = TruckCertification(disaster_id=disaster.id, truck_number=f"T-{w.tag}", plate="ABC123", capacity_cy=40)
    session.add(truck)
    session.flush()
    for number, loading, disposal in (("1001", "Ann", "Bob"), ("1002", "", "Bob"), ("1003", "Ann", " ")):
        session.add(LoadTicket(disaster_id=disaster.id, site_id=debris, work_date=day, category="A", ticket_number=number,
                               truck_id=truck.id, load_call_pct=80, loading_monitor=loading, disposal_monitor=disposal,
                               loaded_at=datetime(2019, 9, 2, 9)))
    session.add(SitePhoto(site_id=seawall, stored_name=f"{w.tag}.jpg", content_type="image/jpeg", size=10, sha256="1" * 64))
    session.commit()
    return disaster, units


def test_coordinator_sees_every_kind_of_problem_before_exporting(app, session):
    from plugins.fema import checklist

    w = make_world(session)
    disaster, units = _records(session, w)
    found = checklist.problems(session, disaster)
    by_kind = {}
    for problem in found:
        by_kind.setdefault(problem.kind, []).append(problem)
    assert sorted(by_kind) == sorted(checklist.KINDS)

    assert {p.record_id for p in by_kind["equipment_without_rate"]} == {units["see-note"].id, units["no-code"].id}
    assert "no FEMA cost code" in next(p.message for p in by_kind["equipment_without_rate"] if p.record_id == units["no-code"].id)
    [over] = by_kind["over_24_hours"]
    assert over.label == f"E{w.tag}2" and "26 hours on 2019-09-02" in over.message
    [straight] = by_kind["budgeted_straight_time"]
    assert straight.label == f"E{w.tag}1" and "8 regular hours" in straight.message
    [standby] = by_kind["standby_hours"]
    assert standby.record_id == units["rated"].id and "2 standby hours" in standby.message
    tickets = {p.label: p.message for p in by_kind["ticket_without_monitor"]}
    assert set(tickets) == {"1002", "1003"}
    assert "loading monitor" in tickets["1002"] and "disposal monitor" in tickets["1003"]
    assert [p.label for p in by_kind["site_without_photos"]] == [f"Debris {w.tag}"]
    assert checklist.counts(found)["ticket_without_monitor"] == 2


def test_a_clean_disaster_has_no_problem_and_the_checks_are_a_few_queries(app, session):
    from plugins.fema import checklist
    from plugins.fema.models import Disaster, SitePhoto

    w = make_world(session)
    for i, site_id in enumerate(w.site_ids.values()):
        session.add(SitePhoto(site_id=site_id, stored_name=f"{w.tag}-{i}.jpg", content_type="image/jpeg", size=1, sha256="2" * 64))
    session.commit()
    disaster = session.get(Disaster, w.disaster_id)
    with recorded_sql(app) as statements:
        assert checklist.problems(session, disaster) == []
    assert len([s for s in statements if s.upper().startswith("SELECT")]) <= 8


def test_the_checklist_page_lists_the_problems_for_the_coordinator_only(app, client_for):
    from core.extensions import db
    from core.services.users import create_user
    from tests.conftest import PASSWORD

    with app.app_context():
        w = make_world(db.session)
        _records(db.session, w)
        create_user(f"coord-{w.tag}", PASSWORD, "FEMA coordinator", email=f"coord-{w.tag}@palmcoast.example.gov")
        db.session.remove()
    coordinator = client_for(f"coord-{w.tag}")
    page = coordinator.get(f"/fema/checklist/{w.disaster_id}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Straight time of budgeted staff on A/B work" in html and f"E{w.tag}2" in html and "1002" in html
    assert coordinator.get("/fema/checklist/999999999").status_code == 404
    assert coordinator.get("/fema/checklist/x1").status_code == 404
    assert f"/fema/checklist/{w.disaster_id}" in coordinator.get("/fema/checklist/").get_data(as_text=True)
    assert client_for("dispatcher").get(f"/fema/checklist/{w.disaster_id}").status_code == 200
    assert client_for("resident").get(f"/fema/checklist/{w.disaster_id}").status_code in (302, 403)
