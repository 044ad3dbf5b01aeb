"""An admin maintains the catalog on generated screens; other staff only read it."""
from __future__ import annotations

import json

from sqlalchemy import select

from core.extensions import db
from core.models import Account, Department, ServiceType
from tests.conftest import csrf_token


def _service_form(client, pk):
    page = client.get(f"/servicetypeview/edit/{pk}")
    assert page.status_code == 200
    return page.get_data(as_text=True)


def test_admin_edits_a_services_open311_attributes_on_its_screen(app, client_for):
    with app.app_context():
        svc = db.session.scalar(select(ServiceType).where(ServiceType.code == "SIDEWALK"))
        pk, dept_id = svc.id, svc.department_id
    admin = client_for("admin")
    html = _service_form(admin, pk)
    definitions = [{"code": "HAZARD", "description": "Is someone likely to trip?", "datatype": "singlevaluelist",
                    "required": True, "values": [{"key": "yes", "name": "Yes"}, {"key": "no", "name": "No"}]}]
    form = {
        "csrf_token": csrf_token(html), "code": "SIDEWALK", "name": "Damaged sidewalk", "description": "Cracked",
        "group": "Roads and sidewalks", "keywords": "sidewalk", "department": str(dept_id), "sla_hours": "240",
        "public": "y", "type": "realtime", "active": "y", "attributes_json": json.dumps(definitions),
    }
    r = admin.post(f"/servicetypeview/edit/{pk}", data=form)
    assert r.status_code == 302
    with app.app_context():
        stored = db.session.get(ServiceType, pk)
        assert stored.attributes[0]["code"] == "HAZARD" and stored.attributes[0]["order"] == 1
    # A broken definition comes back with the typed text and the problem named; nothing is saved.
    form["attributes_json"] = json.dumps([{"code": "HAZARD", "description": "x", "datatype": "colour"}])
    r = admin.post(f"/servicetypeview/edit/{pk}", data=form)
    body = r.get_data(as_text=True)
    assert r.status_code == 200
    assert "datatype" in body and "colour" in body
    with app.app_context():
        assert db.session.get(ServiceType, pk).attributes[0]["datatype"] == "singlevaluelist"


def test_department_staff_read_the_catalog_but_cannot_change_it(app, client_for):
    with app.app_context():
        pk = db.session.scalar(select(ServiceType.id).where(ServiceType.code == "POTHOLE"))
    staff = client_for("pw_staff")
    assert staff.get("/servicetypeview/list/").status_code == 200
    assert staff.get(f"/servicetypeview/edit/{pk}").status_code in (302, 403)
    assert staff.get("/departmentview/add").status_code in (302, 403)


def test_resident_cannot_reach_staff_screens(client_for):
    resident = client_for("resident")
    for url in ("/servicetypeview/list/", "/departmentview/list/", "/accountview/list/", "/caseview/list/"):
        r = resident.get(url)
        assert r.status_code in (302, 403), url
        assert "Pothole" not in r.get_data(as_text=True)


def test_admin_attaches_staff_to_a_department(app, client_for):
    with app.app_context():
        dept = db.session.scalar(select(Department).where(Department.code == "PARKS"))
        pk = dept.id
        user_id = app.appbuilder.sm.find_user(username="crew").id
    admin = client_for("admin")
    html = admin.get(f"/departmentview/edit/{pk}").get_data(as_text=True)
    r = admin.post(f"/departmentview/edit/{pk}", data={
        "csrf_token": csrf_token(html), "code": "PARKS", "name": "Parks and Recreation",
        "email": "parks@palmcoast.example.gov", "phone": "", "active": "y", "staff": [str(user_id)],
    })
    assert r.status_code == 302
    with app.app_context():
        assert [u.username for u in db.session.get(Department, pk).staff] == ["crew"]


def test_accounts_without_utility_number_do_not_collide(session):
    session.add_all([Account(name="A. Resident", utility_account_number=""), Account(name="B. Resident", utility_account_number="  ")])
    session.commit()
    assert session.scalars(select(Account.utility_account_number).where(Account.name.in_(["A. Resident", "B. Resident"]))).all() == [None, None]


def test_bad_paging_on_any_list_screen_is_a_400_not_a_500(client_for):
    admin = client_for("admin")
    for view in ("DepartmentView", "ServiceTypeView", "TagView", "AccountView"):
        r = admin.get(f"/{view.lower()}/list/?page_{view}=abc&_od_{view}=sideways")
        assert r.status_code == 400, view
        assert "Page" in r.get_data(as_text=True)
