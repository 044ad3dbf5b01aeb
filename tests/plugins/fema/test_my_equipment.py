"""On the phone page FEMA › My hours a crew member also logs the equipment they ran that day: the unit, the
hours it worked and the hours it stood by (kept apart: FEMA does not pay standby), on a site of the open
disaster, with the category the labor entry uses.  Only their departments' units; bad input is a 400 naming
the field."""
from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select

from tests.conftest import csrf_token
from tests.plugins.fema.test_timesheets import make_world
from tests.plugins.fema.test_timesheets import _drop_what_the_test_made  # noqa: F401 -- autouse fixture


@pytest.fixture
def world(app):
    """A disaster with its sites and PW employees, a PW loader and a Utilities pump."""
    from core.extensions import db
    from core.models import Department
    from plugins.fema.models import Equipment

    with app.app_context():
        w = make_world(db.session)
        util = db.session.scalar(select(Department.id).where(Department.code == "UTIL"))
        units = {}
        for name, description, department in ((f"L-{w.tag}", "Front end loader", w.department_id), (f"P-{w.tag}", "Trash pump", util)):
            unit = Equipment(unit_number=name, description=description, fema_code="8160", department_id=department)
            db.session.add(unit)
            db.session.flush()
            units[name] = unit.id
        db.session.commit()
        w.unit_ids = units
        db.session.remove()
    return w


def equipment_form(w, **changes) -> dict:
    data = {"disaster": w.disaster_id, "site": w.site_ids[f"Debris {w.tag}"], "equipment": w.unit_ids[f"L-{w.tag}"],
            "operator": w.employee_ids[f"E{w.tag}1"], "category": "A", "hours_used": "7.5", "standby_hours": "2",
            "description": f"Loading debris {w.tag}"}
    return {**data, **changes}


def uses(app, w):
    from core.extensions import db
    from plugins.fema.models import EquipmentEntry

    with app.app_context():
        rows = db.session.scalars(select(EquipmentEntry).where(EquipmentEntry.disaster_id == w.disaster_id)).all()
        out = [(r.equipment_id, r.hours_used, r.standby_hours, r.operator_id, r.category, r.site_id, r.work_date, r.created_by_id)
               for r in rows]
        db.session.remove()
    return out


def post(client, w, **changes):
    token = csrf_token(client.get(f"/fema/my-hours/?disaster={w.disaster_id}").get_data(as_text=True))
    return client.post("/fema/my-hours/equipment", data={**equipment_form(w, **changes), "csrf_token": token})


def test_crew_member_logs_the_loader_they_ran_today_with_standby_hours_apart(app, world, client_for):
    from core.extensions import db
    from core.formats import city_today
    from core.models import User

    crew = client_for("crew")
    page = crew.get(f"/fema/my-hours/?disaster={world.disaster_id}").get_data(as_text=True)
    assert "My equipment" in page and f"L-{world.tag}" in page
    assert f"P-{world.tag}" not in page, "the Utilities pump is not the crew's"
    done = post(crew, world)
    assert done.status_code == 302
    with app.app_context():
        crew_id = db.session.scalar(select(User.id).where(User.username == "crew"))
        today = city_today()
    assert uses(app, world) == [(world.unit_ids[f"L-{world.tag}"], Decimal("7.50"), Decimal("2.00"), world.employee_ids[f"E{world.tag}1"],
                                 "A", world.site_ids[f"Debris {world.tag}"], today, crew_id)]
    again = crew.get(f"/fema/my-hours/?disaster={world.disaster_id}").get_data(as_text=True)
    assert "Equipment recorded by you today" in again and f"L-{world.tag}" in again


def test_the_cost_report_counts_the_hours_used_not_the_standby(app, world, client_for):
    from core.extensions import db
    from core.reports.engine import run
    from core.reports.spec import parse
    from core.reports.subjects import registry
    from core.models import User

    assert post(client_for("crew"), world).status_code == 302
    with app.app_context(), app.test_request_context():
        admin = db.session.scalar(select(User).where(User.username == "admin"))
        result = run(db.session, parse({"subject": "fema_costs", "period": "all", "filters": {"disaster": [f"DR-{world.tag}"]},
                                        "measures": ["hours", "records"]}, registry()), admin)
        db.session.remove()
    assert [float(result.totals[0]), result.totals[1]] == [7.5, 1]


@pytest.mark.parametrize("changes, field", [
    ({"hours_used": "30"}, "Hours used"),
    ({"standby_hours": "abc"}, "Standby hours"),
    ({"hours_used": "20", "standby_hours": "6"}, "Standby hours"),
    ({"hours_used": "0", "standby_hours": "0"}, "Hours used"),
    ({"category": "Q"}, "Category"),
    ({"site": "999999999"}, "Site"),
    ({"equipment": "abc"}, "Equipment"),
    ({"operator": "999999999"}, "Operator"),
])
def test_impossible_equipment_hours_get_a_400_naming_the_field(app, world, client_for, changes, field):
    refused = post(client_for("crew"), world, **changes)
    assert refused.status_code == 400 and field in refused.get_data(as_text=True)
    assert uses(app, world) == []


def test_nobody_logs_another_departments_equipment_or_without_a_csrf_token(app, world, client_for):
    crew = client_for("crew")
    refused = post(crew, world, equipment=world.unit_ids[f"P-{world.tag}"])
    assert refused.status_code == 400 and "Equipment" in refused.get_data(as_text=True)
    util = client_for("util_staff")  # no Utilities employee on the list: no form on their page, a token from another
    token = csrf_token(util.get("/laborview/add").get_data(as_text=True))
    refused = util.post("/fema/my-hours/equipment", data={**equipment_form(world, operator=""), "csrf_token": token})
    assert refused.status_code == 400 and "Equipment" in refused.get_data(as_text=True)
    assert crew.post("/fema/my-hours/equipment", data=equipment_form(world)).status_code == 400  # no CSRF token
    assert client_for("resident").get("/fema/my-hours/").status_code in (302, 403)
    assert uses(app, world) == []
