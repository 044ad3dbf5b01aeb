"""FEMA costs in the report builder: the coordinator's costs by category, site and week equal what the FEMA
exports put in their totals; department staff see their departments' costs only; field crews are refused; the
disaster filter on cases counts exactly the cases tagged with the event.  Both engines (the ``app`` fixture)."""
from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal

import pytest
import sqlalchemy as sa

from tests.conftest import PASSWORD
from tests.plugins.fema.test_export import export, make_disaster
from tests.plugins.fema.test_pdf import disaster_with_costs


def user(session, username: str, role: str | None = None):
    from core.models import User
    from core.services.users import create_user

    found = session.scalar(sa.select(User).where(User.username == username))
    if found is None:
        create_user(username, PASSWORD, role, email=f"{username}@palmcoast.example.gov")
        found = session.scalar(sa.select(User).where(User.username == username))
    return found


def coordinator(session):
    return user(session, "fema_report_coordinator", "FEMA coordinator")


def report(app, session, who, **spec):
    from core.reports.engine import run
    from core.reports.spec import parse
    from core.reports.subjects import registry

    with app.test_request_context():
        result = run(session, parse({"period": "all", **spec}, registry()), who)
    return result


def money(value) -> Decimal:
    from plugins.fema.costs import money as cents

    return cents(Decimal(str(value))) if value is not None else Decimal("0.00")


def by_key(result, measure: int = 0) -> dict:
    return {row.key: money(row.values[measure]) for row in result.rows}


def department_name(session, code: str) -> str:
    from core.models import Department

    return session.scalar(sa.select(Department.name).where(Department.code == code))


def export_total(session, disaster, tmp_path, form: str, **params) -> Decimal:
    """The GRAND TOTAL of an export's cost column, as the exporter adds it up."""
    from plugins.fema import exporter

    _, plan, _ = export(session, disaster, tmp_path, form=form, **params)
    grand = dict(exporter.total_rows(plan))[plan.profile.total_labels["grand"]]
    return money(grand.get("cost.total", Decimal("0")))


@pytest.fixture
def demo(session):
    from plugins.fema.demo import SAMPLE_NUMBER, load_demo
    from plugins.fema.models import Disaster

    load_demo(session)
    return session.scalar(sa.select(Disaster).where(Disaster.number == SAMPLE_NUMBER))


def test_coordinator_sees_the_demo_disasters_costs_by_category_equal_to_the_exports(app, session, demo, tmp_path):
    result = report(app, session, coordinator(session), subject="fema_costs", group="category",
                    filters={"disaster": [demo.number]}, measures=["total", "labor", "equipment", "records"])
    labor = by_key(result, 1)
    equipment = by_key(result, 2)
    for letter in ("A", "B"):
        assert labor[letter] == export_total(session, demo, tmp_path, "labor", category=letter), letter
        assert equipment[letter] == export_total(session, demo, tmp_path, "equipment", category=letter), letter
        assert by_key(result, 0)[letter] == labor[letter] + equipment[letter]
    assert money(result.totals[1]) == export_total(session, demo, tmp_path, "labor")
    assert money(result.totals[2]) == export_total(session, demo, tmp_path, "equipment")
    assert result.totals[3] == 35 + 28
    assert {row.label for row in result.rows} == {"A - Debris removal", "B - Emergency protective measures"}

    by_site = report(app, session, coordinator(session), subject="fema_costs", group="site",
                     filters={"disaster": [demo.tag]}, measures=["total"])
    assert sum(by_key(by_site).values()) == money(result.totals[0])
    assert {row.label for row in by_site.rows} == {"Citywide right-of-way debris (sample)", "Emergency road clearing (sample)"}


def test_every_kind_of_cost_by_site_and_category_matches_the_pdf_packages_totals(app, session, tmp_path):
    from plugins.fema import pdf_package
    from plugins.fema.models import ContractEntry, Site

    d = disaster_with_costs(session)
    bridge = session.scalar(sa.select(Site).where(Site.disaster_id == d.id, Site.name == "Lehigh Trail bridge"))
    session.add(ContractEntry(disaster_id=d.id, site_id=bridge.id, work_date=date(2019, 9, 5), category="C",
                              contractor="Mutual aid: Volusia County", cost_billed=Decimal("4321.09"), mutual_aid=True))
    session.commit()
    _, plan, _ = export(session, d, tmp_path, form="damage_inventory", fmt="pdf")
    package = pdf_package.summary(session, plan)

    result = report(app, session, coordinator(session), subject="fema_costs", group="category",
                    filters={"disaster": [d.number]},
                    measures=["total", "labor", "materials", "rentals", "contracts", "hours"])
    labor = by_key(result, 1)
    for letter in ("A", "B", "C"):
        expected = package["labor_regular"].get(letter, 0) + package["labor_overtime"].get(letter, 0)
        assert labor.get(letter, Decimal("0.00")) == expected, letter
    assert by_key(result, 2) == {"A": Decimal("0.00"), "B": Decimal("0.00"), "C": Decimal("50.00")}
    assert by_key(result, 3)["A"] == package["rentals"]["A"] == Decimal("955.00")
    assert by_key(result, 4)["A"] == Decimal("125000.00") and by_key(result, 4)["C"] == Decimal("4321.09")
    assert money(result.totals[0]) == sum(package[line]["total"] for line in ("labor_regular", "labor_overtime", "materials",
                                                                             "rentals", "contracts", "equipment"))
    assert money(result.totals[5]) == Decimal("8") + 3 + 8 + 10  # labor (regular and overtime) and rental hours

    by_site = report(app, session, coordinator(session), subject="fema_costs", group="site",
                     filters={"disaster": [d.number], "site": [str(bridge.id)]}, measures=["total", "records"])
    assert [(row.label, money(row.values[0]), row.values[1]) for row in by_site.rows] == [
        ("Lehigh Trail bridge", Decimal("4371.09"), 2)]  # sandbags 12.5 x 4.00 and the mutual aid


def test_department_staff_see_only_their_departments_costs(app, session, demo):
    from plugins.fema.costs import labor_cost
    from plugins.fema.models import Employee, LaborEntry

    util = session.scalars(sa.select(LaborEntry).join(Employee, Employee.id == LaborEntry.employee_id)
                           .where(LaborEntry.disaster_id == demo.id, Employee.employee_number == "E-1003")).all()
    assert util, "the demo has a utility technician's hours"
    staff = user(session, "util_staff")
    result = report(app, session, staff, subject="fema_costs", group="department",
                    filters={"disaster": [demo.number]}, measures=["total", "labor", "equipment", "records"])
    assert [row.label for row in result.rows] == [department_name(session, "UTIL")]
    assert result.totals[3] == len(util)
    assert money(result.totals[0]) == sum(labor_cost(e).total for e in util)
    assert result.totals[2] is None, "the equipment is Public Works'"

    everything = report(app, session, coordinator(session), subject="fema_costs", group="department",
                        filters={"disaster": [demo.number]}, measures=["records"])
    assert {row.label for row in everything.rows} == {department_name(session, "PW"), department_name(session, "UTIL")}
    public_works = report(app, session, user(session, "pw_staff"), subject="fema_costs",
                          filters={"disaster": [demo.number]}, measures=["records"])
    assert public_works.totals[0] == 63 - len(util)


@pytest.mark.parametrize("username", ["crew", "resident"])
def test_field_crews_and_residents_cannot_report_on_fema_costs(app, session, username):
    from core.reports.engine import ReportDenied
    from core.reports.subjects import subjects_for

    who = user(session, username)
    with pytest.raises(ReportDenied):
        report(app, session, who, subject="fema_costs")
    with app.test_request_context():
        assert "fema_costs" not in {s.code for s in subjects_for(who)}


def test_disaster_filter_on_cases_counts_exactly_the_cases_tagged_with_the_event(app, session):
    from core.services.cases import SYSTEM, create_case, set_tags

    d = make_disaster(session)
    session.commit()
    made = []
    for i in range(4):
        made.append(create_case(session, service_code="POTHOLE", attributes={"SIZE": "small"},
                                description=f"disaster filter {uuid.uuid4().hex[:6]}", address="1 Palm Coast Pkwy"))
    for case in made[:3]:
        set_tags(session, case, [d.tag], SYSTEM)
    set_tags(session, made[2], ["other-storm"], SYSTEM)  # re-tagged: no longer the event's
    admin = user(session, "admin")
    for key in (d.number, d.tag):
        result = report(app, session, admin, subject="cases", filters={"disaster": [key]}, measures=["count"])
        assert result.totals == [2], key
    nothing = report(app, session, admin, subject="cases", filters={"disaster": ["DR-0000-none"]}, measures=["count"])
    assert nothing.totals == [0]


def test_costs_are_grouped_by_week_of_the_work_date(app, session, tmp_path):
    from tests.plugins.fema.test_export import labor_story

    d = labor_story(session)  # Maria: 2-4 and 9 Sep 2019 (two weeks); Sam: 3 Sep
    result = report(app, session, coordinator(session), subject="fema_costs", group="week",
                    filters={"disaster": [d.number]}, measures=["total", "hours", "records"])
    assert [(row.key, money(row.values[0]), row.values[1], row.values[2]) for row in result.rows] == [
        (date(2019, 9, 2), Decimal("624.00") + Decimal("231.00") + Decimal("375.00"), 24 + 7 + 10, 5),
        (date(2019, 9, 9), Decimal("208.00") + Decimal("66.00"), 10, 1),
    ]
    assert money(result.totals[0]) == export_total(session, d, tmp_path, "labor") == Decimal("1504.00")


def test_disaster_filter_on_work_orders_counts_the_work_orders_of_the_events_cases(app, session):
    from core.reports.subjects import registry
    from core.services.cases import SYSTEM, create_case, set_tags

    with app.test_request_context():
        if "work_orders" not in registry():
            pytest.skip("the fieldservice plugin's work_orders subject is not registered")
    from plugins.fieldservice.workorders import create_work_order

    d = make_disaster(session)
    session.commit()
    storm, calm = (create_case(session, service_code="POTHOLE", attributes={"SIZE": "small"},
                               description=f"work order filter {uuid.uuid4().hex[:6]}", address="1 Palm Coast Pkwy")
                   for _ in range(2))
    set_tags(session, storm, [d.tag], SYSTEM)
    for case in (storm, storm, calm):
        create_work_order(session, case)
    result = report(app, session, user(session, "admin"), subject="work_orders", filters={"disaster": [d.number]},
                    measures=["count"])
    assert result.totals == [2]


def test_coordinator_runs_the_fema_costs_report_from_the_reports_screen_and_downloads_it(app, client_for, tmp_path):
    from core.extensions import db

    with app.app_context():
        coordinator(db.session)
        from plugins.fema.demo import load_demo

        load_demo(db.session)
        db.session.remove()
    client = client_for("fema_report_coordinator")
    query = {"subject": "fema_costs", "period": "all", "group": "category", "measures": ["total", "hours"], "f.disaster": "DR-9901"}
    page = client.get("/reports/run", query_string=query)
    html = page.get_data(as_text=True)
    assert page.status_code == 200, html[-1500:]
    assert "FEMA costs" in html and "A - Debris removal" in html and "Hurricane (sample data" in html
    csv_file = client.get("/reports/export.csv", query_string=query)
    assert csv_file.status_code == 200 and "B - Emergency protective measures" in csv_file.get_data(as_text=True)
    crew = client_for("crew").get("/reports/run", query_string=query)
    assert crew.status_code in (302, 400, 403, 404)


def test_equipment_is_priced_at_the_schedule_that_applies_to_each_disaster(app, session):
    """Declared: the schedule in effect on the declaration date; not declared: on the event's first day; a
    disaster naming an edition: that edition.  The same answer as ``rates.rate_for`` (the exports' and lists')."""
    from datetime import datetime

    from plugins.fema import costs, rates
    from plugins.fema.models import Disaster, Equipment, EquipmentEntry, EquipmentRate, RateSchedule

    key = uuid.uuid4().hex[:6]
    code = f"X{key}"
    old = RateSchedule(edition=f"o{key}", effective_from=date(2003, 1, 1), sha256="a" * 64)
    new = RateSchedule(edition=f"n{key}", effective_from=date(2003, 4, 1), sha256="b" * 64)
    session.add_all([old, new])
    session.flush()
    session.add_all([EquipmentRate(schedule_id=old.id, code=code, rate=Decimal("10.00"), unit="hour"),
                     EquipmentRate(schedule_id=new.id, code=code, rate=Decimal("20.00"), unit="hour")])
    unit = Equipment(unit_number=f"U-{key}", description="Loader", fema_code=f" {code} ")
    session.add(unit)
    declared = Disaster(tag=f"declared-{key}", title="Declared", number=f"DR-a{key}", declaration_date=date(2003, 3, 1))
    undeclared = Disaster(tag=f"undeclared-{key}", title="Not declared yet", started_at=datetime(2003, 5, 1, 12))
    named = Disaster(tag=f"named-{key}", title="Edition named", number=f"DR-b{key}", declaration_date=date(2003, 6, 1),
                     rate_edition=old.edition)
    session.add_all([declared, undeclared, named])
    session.flush()
    for d in (declared, undeclared, named):
        session.add(EquipmentEntry(disaster_id=d.id, equipment_id=unit.id, work_date=date(2003, 2, 1), category="A",
                                   hours_used=Decimal("7.25"), standby_hours=Decimal("3")))
    session.commit()

    try:
        result = report(app, session, coordinator(session), subject="fema_costs", group="disaster",
                        filters={"disaster": [declared.number, undeclared.tag, named.number]}, measures=["equipment", "hours"])
        got = {row.key: (money(row.values[0]), float(row.values[1])) for row in result.rows}
        assert got == {declared.id: (Decimal("72.50"), 7.25), undeclared.id: (Decimal("145.00"), 7.25),
                       named.id: (Decimal("72.50"), 7.25)}
        for d in (declared, undeclared, named):
            rate, unit_of_rate = rates.rate_for(session, d, unit.fema_code)
            entry = session.scalar(sa.select(EquipmentEntry).where(EquipmentEntry.disaster_id == d.id))
            assert costs.equipment_cost(entry, rate, unit_of_rate) == got[d.id][0]
    finally:  # other tests' disasters must not find these schedules in effect
        session.rollback()
        session.execute(sa.delete(Disaster).where(Disaster.id.in_([declared.id, undeclared.id, named.id])))
        session.execute(sa.delete(RateSchedule).where(RateSchedule.id.in_([old.id, new.id])))
        session.commit()
