"""Hostile bytes in text: a NUL character in any field of any form or query is refused with a 400 that names the
field, before anything is written (PostgreSQL cannot store one: it used to be a 500 there), and the Open311 XML
answers drop the control characters XML 1.0 cannot carry (stored text may hold them: JSON carries them)."""
from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa

from tests.conftest import csrf_token
from tests.plugins.intake.open311_helpers import POTHOLE, error_codes, error_texts, new_key, parse, post
from tests.plugins.intake.test_reporting import form_page, guest, send, spot


def cases_starting(app, text: str) -> int:
    """Cases whose description starts with ``text`` (however it goes on: a NUL cannot even be asked for on PostgreSQL)."""
    from core.extensions import db
    from core.models import Case

    with app.app_context():
        n = db.session.scalar(sa.select(sa.func.count()).select_from(Case).where(Case.description.like(text + "%")))
        db.session.remove()
    return n


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_open311_post_with_a_nul_character_is_a_400_in_the_clients_format_naming_the_field(app, fmt):
    _name, key = new_key(app)
    text = f"nul {uuid.uuid4().hex}"
    body = post(app.test_client(), "requests", {**POTHOLE, "api_key": key, "description": text + "\x00 here"}, 400, fmt=fmt)
    assert error_codes(body, fmt) == {400}
    assert error_texts(body, fmt) == ["description: must not contain NUL characters"]
    assert cases_starting(app, text) == 0


def test_open311_search_with_a_nul_character_in_a_parameter_names_it(app):
    answer = app.test_client().get("/open311/v2/requests.json?status=open%00")
    assert answer.status_code == 400
    assert error_texts(parse(answer, "json")) == ["status: must not contain NUL characters"]


def test_portal_report_with_a_nul_character_is_refused_naming_the_field_and_nothing_is_kept(app):
    client = guest(app)
    text = f"nul {uuid.uuid4().hex}"
    answer = send(client, form_page(client), description=text + "\x00", attr_SIZE="small", attr_LANE="no",
                  lat="29.58", long="-81.21")
    assert answer.status_code == 400
    assert "description: must not contain NUL characters" in answer.get_data(as_text=True)
    assert cases_starting(app, text) == 0


def test_staff_note_and_list_filter_with_a_nul_character_are_refused_naming_the_field(app, client_for):
    from core.extensions import db
    from core.models import Case, CaseEvent
    from core.services.cases import create_case

    with app.app_context():
        lat, long = spot()  # a place of its own: a pothole here would be a possible duplicate of other tests' reports
        case = create_case(db.session, service_code="POTHOLE", description="nul guard", attributes={"SIZE": "small"}, lat=lat, long=long)
        db.session.commit()
        case_id, events = case.id, db.session.scalar(sa.select(sa.func.count()).select_from(CaseEvent).where(CaseEvent.case_id == case.id))
        db.session.remove()
    staff = client_for("dispatcher")
    token = csrf_token(staff.get(f"/caseview/show/{case_id}").get_data(as_text=True))
    answer = staff.post(f"/caseview/act/{case_id}", data={"csrf_token": token, "action": "internal_note", "body": "a\x00b"})
    assert answer.status_code == 400 and "body: must not contain NUL characters" in answer.get_data(as_text=True)
    listed = staff.get("/caseview/list/?_flt_0_description=pot%00hole")
    assert listed.status_code == 400 and "_flt_0_description: must not contain NUL characters" in listed.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(CaseEvent).where(CaseEvent.case_id == case_id)) == events
        assert db.session.get(Case, case_id).description == "nul guard"
        db.session.remove()


def test_a_json_endpoint_answers_the_nul_refusal_as_json(app, client_for):
    answer = client_for("dispatcher").get("/fieldservice/eoc/api/hotspots.geojson?bbox=%00")
    assert answer.status_code == 400
    assert answer.json == {"message": {"bbox": ["bbox: must not contain NUL characters"]}}


def test_open311_xml_drops_the_control_characters_xml_cannot_carry(app):
    from xml.etree import ElementTree as ET

    _name, key = new_key(app)
    lat, long = spot()
    reference = post(app.test_client(), "requests", {**POTHOLE, "lat": str(lat), "long": str(long), "api_key": key,
                                                     "description": "bell\x07 and\ttab"}, 201)[0]["service_request_id"]
    from core.extensions import db
    from core.models import Case
    from core.services.cases import SYSTEM, add_note

    with app.app_context():
        case = db.session.scalar(sa.select(Case).where(Case.reference == reference))
        add_note(db.session, case, "crew on site\x01\x1b[31m today", SYSTEM, public=True)
        db.session.commit()
        db.session.remove()
    answer = app.test_client().get(f"/open311/v2/requests/{reference}.xml")
    assert answer.status_code == 200
    request = ET.fromstring(answer.data).find("request")  # well-formed: expat refuses &#1; and raw control bytes
    assert "crew on site[31m today" in ET.tostring(request, encoding="unicode")
    as_json = app.test_client().get(f"/open311/v2/requests/{reference}.json").json[0]
    assert "\x01" in as_json["status_notes"], "JSON carries what was stored"


def test_a_form_part_with_a_mangled_name_is_no_server_error(app, client_for):
    """Found by Schemathesis: a multipart part whose header the parser cannot read has no name at all."""
    body = b'--XX\r\nContent-Disposition: form-data; name=";\x1cI{\n=\xc3\xb6"\r\n\r\n{}\r\n--XX\r\nContent-Disposition: form-data; name="x"\r\n\r\na\x00b\r\n--XX--\r\n'
    answer = client_for("dispatcher").post("/caseview/act/1", data=body, headers={"Content-Type": "multipart/form-data; boundary=XX"})
    assert answer.status_code == 400 and "A form field has a name that cannot be read." in answer.get_data(as_text=True)
