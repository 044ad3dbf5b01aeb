"""The dispatcher's sweep screens: create a sweep in the form, start it, follow its progress, make a case from a
flagged street; supervisors read; residents and field crews are refused."""
from __future__ import annotations

import re
import uuid

import pytest
import sqlalchemy as sa

from tests.conftest import csrf_token


def test_dispatcher_creates_a_sweep_in_the_form_starts_it_and_sees_progress(session, client_for, tiny_network):
    from core.models import User
    from core.services.cases import Actor
    from plugins.fieldservice import sweeps
    from plugins.fieldservice.models import SweepCampaign, SweepSegment

    client = client_for("dispatcher")
    form = client.get("/fieldservice/sweeps/new")
    assert form.status_code == 200
    html = form.get_data(as_text=True)
    assert 'value="debris"' in html and tiny_network.zones[0] in html
    name = f"Post-storm debris pass {tiny_network.tag}"
    token = csrf_token(html)
    refused = client.post("/fieldservice/sweeps/new", data={"csrf_token": token, "name": "", "sweep_type": "debris"})
    assert refused.status_code == 400
    assert "Name" in refused.get_data(as_text=True) and "Zones" in refused.get_data(as_text=True)
    r = client.post("/fieldservice/sweeps/new", data={"csrf_token": token, "name": name, "sweep_type": "debris",
                                                      "zones": tiny_network.zones, f"crew_{tiny_network.zones[0]}": ""})
    assert r.status_code == 302, r.get_data(as_text=True)
    sweep = session.scalar(sa.select(SweepCampaign).where(SweepCampaign.name == name))
    assert sweep.state == "planned" and r.headers["Location"].endswith(f"/fieldservice/sweeps/{sweep.id}")

    page = client.get(f"/fieldservice/sweeps/{sweep.id}").get_data(as_text=True)
    assert 'id="start-sweep"' in page
    assert client.post(f"/fieldservice/sweeps/{sweep.id}/start", data={"csrf_token": token, "version": sweep.version}).status_code == 302
    session.expire_all()
    assert session.get(SweepCampaign, sweep.id).state == "active"

    crew = Actor.of(session.scalar(sa.select(User).where(User.username == "crew")))
    ids = list(session.scalars(sa.select(SweepSegment.id).where(SweepSegment.sweep_id == sweep.id).order_by(SweepSegment.id)))
    for sid, status in zip(ids[:3], ("clear", "clear", "debris")):
        sweeps.check_off(session, sid, status=status, actor=crew, client_id=str(uuid.uuid4()))
    page = client.get(f"/fieldservice/sweeps/{sweep.id}").get_data(as_text=True)
    assert "50" in re.search(r'id="sweep-total">(.*?)</p>', page, re.S).group(1)
    assert 'id="flagged"' in page and "Create case" in page and 'id="close-sweep"' in page
    listing = client.get("/fieldservice/sweeps/").get_data(as_text=True)
    row = re.search(rf'<tr data-sweep="{sweep.id}">(.*?)</tr>', listing, re.S).group(1)
    assert "50&nbsp;%" in row and "33&nbsp;%" in row  # 3 of 6 checked, 2 of 6 cleared
    streets = client.get(f"/fieldservice/sweeps/{sweep.id}/streets.geojson").json
    assert len(streets["features"]) == 6 and {f["properties"]["color"] for f in streets["features"]} >= {"#2e7d32", "#ef6c00"}
    assert all(set(f["properties"]) == {"id", "street", "status", "status_label", "color", "checked_at"} for f in streets["features"])


def test_dispatcher_makes_a_case_from_a_flagged_street_once(session, client_for, tiny_network):
    from core.models import Case, User
    from core.services.cases import Actor
    from plugins.fieldservice import sweeps
    from plugins.fieldservice.models import SweepSegment

    dispatcher = Actor.of(session.scalar(sa.select(User).where(User.username == "dispatcher")))
    sweep = sweeps.create_sweep(session, name=f"Case pass {tiny_network.tag}", sweep_type="debris", zone_codes=tiny_network.zones,
                                actor=dispatcher)
    sweeps.start_sweep(session, sweep, dispatcher)
    sid = session.scalar(sa.select(SweepSegment.id).where(SweepSegment.sweep_id == sweep.id).order_by(SweepSegment.id))
    sweeps.check_off(session, sid, status="blocked", actor=dispatcher, note="Tree across both lanes")
    client = client_for("dispatcher")
    token = csrf_token(client.get(f"/fieldservice/sweeps/{sweep.id}").get_data(as_text=True))
    assert client.post(f"/fieldservice/sweeps/{sweep.id}/segment/{sid}/case").status_code == 400  # no CSRF token
    for _ in range(2):
        r = client.post(f"/fieldservice/sweeps/{sweep.id}/segment/{sid}/case", data={"csrf_token": token})
        assert r.status_code == 302
    session.expire_all()
    case_id = session.get(SweepSegment, sid).case_id
    case = session.get(Case, case_id)
    assert case.service_type.code == "ROAD_DEBRIS" and case.channel == "field" and case.description == "Tree across both lanes"
    assert session.scalar(sa.select(sa.func.count()).select_from(Case).where(Case.description == "Tree across both lanes",
                                                                            Case.zone == case.zone)) == 1


@pytest.mark.parametrize("username", ["resident", "crew", "pw_staff"])
def test_residents_crews_and_office_staff_cannot_open_the_sweep_screens(client_for, username):
    client = client_for(username)
    r = client.get("/fieldservice/sweeps/")
    assert r.status_code in (302, 403)
    assert "/fieldservice/sweeps" not in r.headers.get("Location", "")
    assert client.get("/fieldservice/sweeps/new").status_code in (302, 403)


def test_a_supervisor_reads_sweeps_but_cannot_create_one(app, client_for, session):
    from core.models import Department
    from core.services.users import create_user
    from tests.conftest import PASSWORD

    pw = session.scalar(sa.select(Department).where(Department.code == "PW"))
    create_user("pw_supervisor_sweeps", PASSWORD, "Supervisor", email="pw_supervisor_sweeps@palmcoast.example.gov", departments=[pw])
    client = client_for("pw_supervisor_sweeps")
    listing = client.get("/fieldservice/sweeps/")
    assert listing.status_code == 200 and 'id="new-sweep"' not in listing.get_data(as_text=True)
    assert client.get("/fieldservice/sweeps/new").status_code in (302, 403)


def test_a_bad_page_number_is_a_400_naming_it(client_for):
    r = client_for("dispatcher").get("/fieldservice/sweeps/?page=abc")
    assert r.status_code == 400 and "Page" in r.get_data(as_text=True)


def test_the_sweep_list_counts_progress_in_one_query_for_the_page(app, session, client_for, tiny_network):
    from core.models import User
    from core.services.cases import Actor
    from plugins.fieldservice import sweeps
    from tests.conftest import recorded_sql

    dispatcher = Actor.of(session.scalar(sa.select(User).where(User.username == "dispatcher")))
    for i in range(3):
        sweeps.create_sweep(session, name=f"Listed pass {i} {tiny_network.tag}", sweep_type="debris", zone_codes=tiny_network.zones,
                            actor=dispatcher)
    client = client_for("dispatcher")
    with recorded_sql(app) as sql:
        listing = client.get("/fieldservice/sweeps/")
    assert listing.status_code == 200 and f"Listed pass 2 {tiny_network.tag}" in listing.get_data(as_text=True)
    assert len([s for s in sql if "fieldservice_sweep_segment" in s]) == 1


def test_dispatcher_adds_a_zone_and_gives_it_to_a_crew_during_the_sweep(session, client_for, tiny_network):
    from core.models import Crew, Department, User
    from core.services.cases import Actor
    from plugins.fieldservice import sweeps
    from plugins.fieldservice.models import SweepCampaign, SweepSegment, SweepZone

    dispatcher = Actor.of(session.scalar(sa.select(User).where(User.username == "dispatcher")))
    west, east = tiny_network.zones
    sweep = sweeps.create_sweep(session, name=f"Growing pass {tiny_network.tag}", sweep_type="debris", zone_codes=[west], actor=dispatcher)
    sweeps.start_sweep(session, sweep, dispatcher)
    pw = session.scalar(sa.select(Department).where(Department.code == "PW"))
    crew = Crew(name=f"Assigned crew {tiny_network.tag}", department=pw)
    session.add(crew)
    session.commit()
    sweep_id, crew_id = sweep.id, crew.id
    client = client_for("dispatcher")
    token = csrf_token(client.get(f"/fieldservice/sweeps/{sweep_id}").get_data(as_text=True))
    assert client.post(f"/fieldservice/sweeps/{sweep_id}/zones", data={"csrf_token": token, "zones": [east]}).status_code == 302
    assert client.post(f"/fieldservice/sweeps/{sweep_id}/zone/{east}/crew", data={"csrf_token": token, "crew": crew_id}).status_code == 302
    bad = client.post(f"/fieldservice/sweeps/{sweep_id}/zone/{east}/crew", data={"csrf_token": token, "crew": "x"})
    assert bad.status_code == 400 and "Crew" in bad.get_data(as_text=True)
    session.expire_all()
    assert session.scalar(sa.select(sa.func.count()).select_from(SweepSegment).where(SweepSegment.sweep_id == sweep_id)) == 6
    zone_crews = {sz.zone.code: sz.crew_id for sz in session.scalars(sa.select(SweepZone).where(SweepZone.sweep_id == sweep_id))}
    assert zone_crews == {west: None, east: crew_id}
    assert session.get(SweepCampaign, sweep_id).state == "active"
