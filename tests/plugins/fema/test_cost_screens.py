"""Staff record FEMA costs in the office screens (menu FEMA): sites, labor, equipment, load tickets..."""
from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from tests.conftest import PASSWORD, csrf_token
from tests.plugins.fema.test_timesheets import MADE, make_world
from tests.plugins.fema.test_timesheets import _drop_what_the_test_made  # noqa: F401 -- autouse fixture

LISTS = ("siteview", "employeeview", "equipmentregisterview", "laborview", "equipmentuseview", "materialview", "rentalview",
         "contractview", "truckview", "loadticketview")


@pytest.fixture
def world(app):
    """A fresh disaster with its sites and PW employees, and a FEMA coordinator."""
    from core.extensions import db
    from core.services.users import create_user

    with app.app_context():
        w = make_world(db.session)
        create_user(f"coord-{w.tag}", PASSWORD, "FEMA coordinator", email=f"coord-{w.tag}@palmcoast.example.gov")
        db.session.remove()
    return w


def post_form(client, url: str, data: dict):
    token = csrf_token(client.get(url).get_data(as_text=True))
    return client.post(url, data={**data, "csrf_token": token}, follow_redirects=True)


def labor_form(w, **changes) -> dict:
    employee_id = w.employee_ids[f"E{w.tag}1"]
    data = {"disaster": w.disaster_id, "site": w.site_ids[f"Debris {w.tag}"], "category": "A", "work_date": "2019-09-02",
            "employee": employee_id, "regular_hours": "8", "overtime_hours": "3", "hourly_rate": "", "overtime_rate": "",
            "fringe_regular_pct": "", "fringe_overtime_pct": "", "description": f"Cut and toss {w.tag}", "case_reference": "",
            "sweep_id": ""}
    return {**data, **changes}


def labor_rows(app, w):
    from core.extensions import db
    from plugins.fema.models import LaborEntry

    with app.app_context():
        rows = db.session.scalars(select(LaborEntry).where(LaborEntry.disaster_id == w.disaster_id)).all()
        out = [(r.regular_hours, r.overtime_hours, r.hourly_rate, r.overtime_rate, r.fringe_regular_pct, r.created_by_id) for r in rows]
        db.session.remove()
    return out


def test_coordinator_opens_every_cost_screen_and_its_form(world, client_for):
    coordinator = client_for(f"coord-{world.tag}")
    for name in LISTS:
        assert coordinator.get(f"/{name}/list/").status_code == 200, name
        assert coordinator.get(f"/{name}/add").status_code == 200, name
    assert coordinator.get("/laborview/list/?_oc_LaborView=nope").status_code == 400


def test_labor_left_without_rates_takes_the_employees_and_the_list_shows_its_cost(app, world, client_for):
    coordinator = client_for(f"coord-{world.tag}")
    page = post_form(coordinator, "/laborview/add", labor_form(world))
    assert page.status_code == 200
    [(regular, overtime, rate, ot_rate, fringe, created_by)] = labor_rows(app, world)
    assert (regular, overtime) == (Decimal("8.00"), Decimal("3.00"))
    assert (rate, ot_rate, fringe) == (Decimal("20.0000"), Decimal("30.0000"), Decimal("30.00"))
    assert created_by is not None
    # 8 x (20 + 30 %) + 3 x (30 + 7.65 %) = 208.00 + 96.89
    listing = coordinator.get(f"/laborview/list/?_flt_0_disaster={world.disaster_id}").get_data(as_text=True)
    assert "$304.89" in listing


@pytest.mark.parametrize("changes, field", [
    ({"category": "Q"}, "Category"),
    ({"regular_hours": "25"}, "Regular hours"),
    ({"regular_hours": "16", "overtime_hours": "10"}, "Overtime hours"),
    ({"work_date": (date.today() + timedelta(days=2)).isoformat()}, "Date"),
    ({"case_reference": "NO-SUCH-CASE"}, "Case reference"),
])
def test_impossible_labor_is_refused_with_a_message_naming_the_field(app, world, client_for, changes, field):
    coordinator = client_for(f"coord-{world.tag}")
    page = post_form(coordinator, "/laborview/add", labor_form(world, **changes))
    assert page.status_code in (200, 400)
    assert field in page.get_data(as_text=True)
    assert labor_rows(app, world) == []


def test_a_load_call_above_100_percent_is_refused_and_the_list_shows_the_yards(app, world, client_for):
    from core.extensions import db
    from plugins.fema.models import LoadTicket, TruckCertification

    with app.app_context():
        truck = TruckCertification(disaster_id=world.disaster_id, truck_number=f"T-{world.tag}", plate="XYZ", capacity_cy=40)
        db.session.add(truck)
        db.session.commit()
        truck_id = truck.id
        db.session.remove()
    coordinator = client_for(f"coord-{world.tag}")
    form = {"disaster": world.disaster_id, "site": world.site_ids[f"Debris {world.tag}"], "category": "A",
            "work_date": "2019-09-03", "ticket_number": f"L-{world.tag}", "contract_number": "", "truck": truck_id,
            "driver": "", "loading_location": "Palm Coast Pkwy", "lat": "", "long": "", "loaded_at": "", "debris_type": "vegetative",
            "load_call_pct": "130", "disposal_site": "DMS 1", "arrived_at": "", "loading_monitor": "Ann", "disposal_monitor": "Bob",
            "description": "", "case_reference": "", "sweep_id": ""}
    refused = post_form(coordinator, "/loadticketview/add", form)
    assert "Load call (%)" in refused.get_data(as_text=True)
    post_form(coordinator, "/loadticketview/add", {**form, "load_call_pct": "75"})
    with app.app_context():
        calls = db.session.scalars(select(LoadTicket.load_call_pct).where(LoadTicket.disaster_id == world.disaster_id)).all()
        db.session.remove()
    assert calls == [75]
    listing = coordinator.get(f"/loadticketview/list/?_flt_0_disaster={world.disaster_id}").get_data(as_text=True)
    assert f"L-{world.tag}" in listing and "30.0" in listing  # 40 yd x 75 %


def test_department_staff_enter_hours_only_for_their_departments_people(app, world, client_for):
    pw, util = client_for("pw_staff"), client_for("util_staff")
    refused = post_form(util, "/laborview/add", labor_form(world))
    assert "Employee" in refused.get_data(as_text=True)
    assert labor_rows(app, world) == []
    post_form(pw, "/laborview/add", labor_form(world))
    assert len(labor_rows(app, world)) == 1
    assert f"Cut and toss {world.tag}" not in util.get("/laborview/list/?psize_LaborView=100").get_data(as_text=True)
    assert f"Worker E{world.tag}1" not in util.get("/employeeview/list/?psize_EmployeeView=100").get_data(as_text=True)
    assert f"Worker E{world.tag}1" in pw.get(f"/employeeview/list/?_flt_0_employee_number=E{world.tag}1").get_data(as_text=True)
    assert util.get("/materialview/list/").status_code in (302, 403)


def test_dispatcher_reads_costs_but_cannot_enter_them(world, client_for):
    dispatcher = client_for("dispatcher")
    assert dispatcher.get("/laborview/list/").status_code == 200
    assert dispatcher.get("/laborview/add").status_code in (302, 403)
    assert client_for("resident").get("/siteview/list/").status_code in (302, 403)


def test_a_site_outside_0_to_100_percent_complete_is_refused(app, world, client_for):
    from core.extensions import db
    from plugins.fema.models import Site

    coordinator = client_for(f"coord-{world.tag}")
    form = {"disaster": world.disaster_id, "name": f"Park {world.tag}", "category": "G", "address": "1 Park Rd", "lat": "", "long": "",
            "damage_description": "Fence down", "cause": "wind", "cost_estimate": "12000", "percent_complete": "140",
            "labor_type": "FA", "priority": "high"}
    assert "Percent complete" in post_form(coordinator, "/siteview/add", form).get_data(as_text=True)
    post_form(coordinator, "/siteview/add", {**form, "percent_complete": "40"})
    with app.app_context():
        site = db.session.scalar(select(Site).where(Site.name == f"Park {world.tag}"))
        assert (site.category, site.percent_complete, site.priority) == ("G", 40, "high")
        db.session.remove()


def my_hours_form(w, **changes) -> dict:
    data = {"disaster": w.disaster_id, "site": w.site_ids[f"Debris {w.tag}"], "employee": w.employee_ids[f"E{w.tag}2"],
            "category": "B", "regular_hours": "6", "overtime_hours": "2.5", "description": f"Sandbags {w.tag}"}
    return {**data, **changes}


def test_crew_member_records_todays_hours_from_the_phone(app, world, client_for):
    crew = client_for("crew")
    url = f"/fema/my-hours/?disaster={world.disaster_id}"
    page = crew.get(url)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert f"Worker E{world.tag}2" in html and f"Debris {world.tag}" in html
    token = csrf_token(html)
    done = crew.post("/fema/my-hours/", data={**my_hours_form(world), "csrf_token": token})
    assert done.status_code == 302
    [(regular, overtime, rate, ot_rate, fringe, created_by)] = labor_rows(app, world)
    assert (regular, overtime, rate, ot_rate) == (Decimal("6.00"), Decimal("2.50"), Decimal("20.0000"), Decimal("30.0000"))
    assert f"Worker E{world.tag}2" in crew.get(url).get_data(as_text=True)


@pytest.mark.parametrize("changes, field", [
    ({"regular_hours": "30"}, "Regular hours"),
    ({"regular_hours": "abc"}, "Regular hours"),
    ({"category": "Z"}, "Category"),
    ({"site": "999999999"}, "Site"),
    ({"disaster": "x"}, "Disaster"),
])
def test_impossible_hours_from_the_phone_get_a_400_naming_the_field(app, world, client_for, changes, field):
    crew = client_for("crew")
    token = csrf_token(crew.get(f"/fema/my-hours/?disaster={world.disaster_id}").get_data(as_text=True))
    refused = crew.post("/fema/my-hours/", data={**my_hours_form(world, **changes), "csrf_token": token})
    assert refused.status_code == 400 and field in refused.get_data(as_text=True)
    assert labor_rows(app, world) == []


def test_nobody_records_hours_for_another_departments_people(app, world, client_for):
    util = client_for("util_staff")
    page = util.get(f"/fema/my-hours/?disaster={world.disaster_id}").get_data(as_text=True)
    assert f"Worker E{world.tag}2" not in page
    token = csrf_token(util.get("/laborview/add").get_data(as_text=True))
    refused = util.post("/fema/my-hours/", data={**my_hours_form(world), "csrf_token": token})
    assert refused.status_code == 400 and "Employee" in refused.get_data(as_text=True)
    assert client_for("resident").get("/fema/my-hours/").status_code in (302, 403)
    assert client_for("crew").post("/fema/my-hours/", data=my_hours_form(world)).status_code == 400  # no CSRF token
    assert labor_rows(app, world) == []


def test_equipment_use_is_priced_from_the_disasters_rate_schedule_in_the_list(app, world, client_for):
    from core.extensions import db
    from plugins.fema.models import Disaster, Equipment, EquipmentEntry, EquipmentRate, RateSchedule

    with app.app_context():
        schedule = RateSchedule(edition=world.tag[:8], effective_from=date(2019, 1, 1), sha256="0" * 64)
        db.session.add(schedule)
        db.session.flush()
        MADE["schedules"].append(schedule.id)
        db.session.add(EquipmentRate(schedule_id=schedule.id, code=f"7{world.tag[:3]}", rate=Decimal("1.62"), unit="hour"))
        db.session.get(Disaster, world.disaster_id).rate_edition = schedule.edition
        for key, code in (("rated", f"7{world.tag[:3]}"), ("unrated", None)):
            unit = Equipment(unit_number=f"{key}-{world.tag}", description=f"Compressor {key}", fema_code=code)
            db.session.add(unit)
            db.session.flush()
            db.session.add(EquipmentEntry(disaster_id=world.disaster_id, equipment_id=unit.id, work_date=date(2019, 9, 2),
                                          category="B", hours_used=Decimal("6.5"), standby_hours=0))
        db.session.commit()
        db.session.remove()
    listing = client_for(f"coord-{world.tag}").get(f"/equipmentuseview/list/?_flt_0_disaster={world.disaster_id}")
    html = listing.get_data(as_text=True)
    assert "$10.53" in html  # 6.5 h x $1.62
    assert "no rate" in html
