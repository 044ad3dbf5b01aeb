"""FixMyStreet-style servicerequestupdates: the public updates of requests (GET, no key) and updates an
app sends in (POST, with a key) as public notes.  Both formats, both backends."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from core.models.base import utcnow
from tests.plugins.intake.open311_helpers import (
    POTHOLE,
    case_by_reference,
    error_texts,
    key,  # noqa: F401  (fixture)
    parse,
    post,
    tag,
)

UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
FIELDS = ["update_id", "service_request_id", "status", "updated_datetime", "description", "media_url"]


def staff_case(app, notes=(), status=None, status_note=""):
    """A pothole with public and internal notes, and optionally a status change: its reference."""
    from core.extensions import db
    from core.services.cases import SYSTEM, add_note, change_status, create_case

    with app.app_context():
        case = create_case(db.session, service_code="POTHOLE", attributes={"SIZE": "small"}, address="3 Club House Dr",
                           contact_name="Private Person", contact_email=f"private.{tag()}@example.org")
        for body, public in notes:
            add_note(db.session, case, body, SYSTEM, public=public)
        if status:
            change_status(db.session, case, status, SYSTEM, note=status_note)
        reference = case.reference
        db.session.remove()
    return reference


def get(client, query: str, fmt: str = "json", status: int = 200):
    response = client.get(f"/open311/v2/servicerequestupdates.{fmt}{query}")
    assert response.status_code == status, response.get_data(as_text=True)
    body = parse(response, fmt)
    if fmt == "json" or status != 200:
        return body
    assert body.tag == "service_request_updates"
    assert all(child.tag == "request_update" for child in body)
    for update in body:
        assert [e.tag for e in update] == FIELDS
    return [{e.tag: e.text or "" for e in update} for update in body]


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_public_notes_and_status_changes_are_the_updates_of_a_request(app, fmt):
    ref = staff_case(app, notes=[("Crew scheduled for Monday.", True), ("Check the budget code", False)],
                     status="resolved", status_note="Filled with cold patch.")
    updates = get(app.test_client(), f"?service_request_id={ref}", fmt)
    assert [u["description"] for u in updates] == ["Crew scheduled for Monday.", "Filled with cold patch."]
    assert [u["status"] for u in updates] == ["open", "closed"]
    for u in updates:
        assert u["service_request_id"] == ref and UTC.match(u["updated_datetime"]) and u["media_url"] == ""
        assert isinstance(u["update_id"], str) and u["update_id"].isdigit()
        if fmt == "json":
            assert list(u) == FIELDS
    assert int(updates[0]["update_id"]) < int(updates[1]["update_id"])  # oldest first


def test_a_note_after_a_reopening_reads_open_again(app):
    from core.extensions import db
    from core.models import Case
    from core.services.cases import SYSTEM, add_note, change_status

    ref = staff_case(app, status="resolved")
    with app.app_context():
        case = db.session.scalar(sa.select(Case).where(Case.reference == ref))
        add_note(db.session, case, "Looks fixed from the street.", SYSTEM, public=True)
        change_status(db.session, case, "reopened", SYSTEM, note="The patch sank.")
        add_note(db.session, case, "Back on the list.", SYSTEM, public=True)
        db.session.remove()
    updates = get(app.test_client(), f"?service_request_id={ref}")
    assert [(u["description"], u["status"]) for u in updates] == [
        ("", "closed"), ("Looks fixed from the street.", "closed"), ("The patch sank.", "open"), ("Back on the list.", "open"),
    ]


def test_updates_filter_by_dates_and_refuse_bad_ones(app):
    ref = staff_case(app, notes=[("Dated note", True)])
    c = app.test_client()
    now = utcnow()
    start = (now - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    end = (now + timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    inside = get(c, f"?start_date={start}&end_date={end}")
    assert "Dated note" in [u["description"] for u in inside if u["service_request_id"] == ref]
    assert all(start <= u["updated_datetime"] <= end for u in inside)
    later = (now + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert ref not in [u["service_request_id"] for u in get(c, f"?start_date={later}")]
    earlier = (now - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert ref not in [u["service_request_id"] for u in get(c, f"?end_date={earlier}")]
    assert ref in [u["service_request_id"] for u in get(c, "?start_date=&end_date=&service_request_id=")]
    errs = get(c, "?start_date=yesterday", status=400)
    assert errs[0]["code"] == 400 and "start_date" in errs[0]["description"]
    errs = get(c, f"?start_date={end}&end_date={start}", status=400)
    assert "start_date" in errs[0]["description"]
    assert get(c, "?start_date=nope", "xml", status=400).tag == "errors"
    assert get(c, "?jurisdiction_id=elsewhere", status=404)[0]["code"] == 404


def test_updates_of_staff_only_services_are_not_published(app):
    from core.extensions import db
    from core.models import Case, ServiceType

    ref = staff_case(app, notes=[("Visible note", True)])
    with app.app_context():
        # the same case under a service that is not public
        service = db.session.scalar(sa.select(ServiceType).where(ServiceType.code == "O311_HIDDEN"))
        if service is None:
            pothole = db.session.scalar(sa.select(ServiceType).where(ServiceType.code == "POTHOLE"))
            service = ServiceType(code="O311_HIDDEN", name="Hidden", department_id=pothole.department_id, public=False)
            db.session.add(service)
            db.session.flush()
        db.session.execute(sa.update(Case).where(Case.reference == ref).values(service_type_id=service.id))
        db.session.commit()
        db.session.remove()
    assert get(app.test_client(), f"?service_request_id={ref}") == []


# ---------------------------------------------------------------- POST

@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_app_sends_an_update_that_becomes_the_residents_note(app, key, fmt):
    from core.extensions import db
    from core.models import OutboxMessage

    name, plain = key
    c = app.test_client()
    email = f"reporter.{tag()}@example.org"
    ref = post(c, "requests", {**POTHOLE, "api_key": plain, "email": email}, 201)[0]["service_request_id"]
    data = {"api_key": plain, "service_request_id": ref, "update_id": f"fms-{tag()}", "status": "OPEN", "description": "It is getting bigger",
            "updated_datetime": "2026-11-30T10:00:00-05:00", "email": f"commenter.{tag()}@example.org", "first_name": "Bob", "last_name": "Mould"}
    body = post(c, "servicerequestupdates", data, 201, fmt=fmt)
    if fmt == "json":
        assert list(body[0]) == ["update_id"]
        update_id = body[0]["update_id"]
    else:
        assert body.tag == "service_request_updates"
        (update,) = body.findall("request_update")
        update_id = update.findtext("update_id")
    case, events = case_by_reference(app, ref)
    (note,) = [e for e in events if e.kind == "resident_note"]
    assert str(note.id) == update_id and note.public and note.body == "It is getting bigger"
    assert note.actor_label == f"open311:{name}" and note.actor_id is None
    assert note.data["client_update_id"] == data["update_id"] and note.data["sent_at"] == "2026-11-30T15:00:00Z"
    everything = repr([(e.body, e.data, e.actor_label) for e in events])
    assert data["email"] not in everything and "Mould" not in everything and "Bob" not in everything
    assert case.status == "new"
    # The feed carries the city's updates only: the app does not get its own resident's words back as the city's.
    assert get(c, f"?service_request_id={ref}") == []
    with app.app_context():  # nor are they e-mailed to the followers as news from the city
        kinds = db.session.scalars(sa.select(OutboxMessage.kind).where(OutboxMessage.related == f"case:{case.id}",
                                                                       OutboxMessage.recipient == email)).all()
        assert sorted(kinds) == ["case_received"]
        db.session.remove()


def test_the_same_update_sent_twice_makes_one_note(app, key):
    _name, plain = key
    c = app.test_client()
    ref = post(c, "requests", {**POTHOLE, "api_key": plain}, 201)[0]["service_request_id"]
    data = {"api_key": plain, "service_request_id": ref, "update_id": "248", "description": "Same words"}
    first = post(c, "servicerequestupdates", data, 201)[0]["update_id"]
    again = post(c, "servicerequestupdates", data, 200)[0]["update_id"]
    assert first == again
    _case, events = case_by_reference(app, ref)
    assert len([e for e in events if e.kind == "resident_note"]) == 1


def test_a_residents_fixed_status_is_recorded_and_never_closes_the_case(app, key):
    _name, plain = key
    c = app.test_client()
    ref = post(c, "requests", {**POTHOLE, "api_key": plain}, 201)[0]["service_request_id"]
    post(c, "servicerequestupdates", {"api_key": plain, "service_request_id": ref, "status": "FIXED", "description": "Patched today"}, 201)
    post(c, "servicerequestupdates", {"api_key": plain, "service_request_id": ref, "status": "closed"}, 201)
    case, events = case_by_reference(app, ref)
    assert case.status == "new"
    notes = [e.body for e in events if e.kind == "resident_note"]
    assert notes == ["Patched today\n\nThe sender of this update says the problem is fixed.", "The sender of this update says the problem is fixed."]
    assert get(c, f"?service_request_id={ref}") == []  # the city has said nothing yet


def test_an_update_with_media_url_records_it_without_fetching(app, key):
    _name, plain = key
    c = app.test_client()
    ref = post(c, "requests", {**POTHOLE, "api_key": plain}, 201)[0]["service_request_id"]
    url = f"https://photos.invalid/{tag()}.jpeg"
    post(c, "servicerequestupdates", {"api_key": plain, "service_request_id": ref, "description": "Photo attached", "media_url": url}, 201)
    _case, events = case_by_reference(app, ref)
    assert [e.data for e in events if e.kind == "attachment_added"] == [{"media_url": url}]
    (note,) = [e for e in events if e.kind == "resident_note"]
    assert note.body == "Photo attached" and note.data["media_url"] == url


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_bad_updates_are_refused_naming_the_field(app, key, fmt):
    _name, plain = key
    c = app.test_client()
    ref = post(c, "requests", {**POTHOLE, "api_key": plain}, 201)[0]["service_request_id"]
    base = {"api_key": plain, "service_request_id": ref}
    cases = [
        ({"api_key": plain, "description": "x"}, 400, ["service_request_id: is required"]),
        ({**base, "description": "x", "status": "maybe"}, 400, ["status: must be open or closed, not 'maybe'"]),
        ({**base, "status": "OPEN"}, 400, ["description: is required (an update needs text, or the status closed)"]),
        ({**base, "description": "x" * 4001}, 400, ["description: is 4001 characters long; the limit is 4000"]),
        ({**base, "description": "x", "media_url": "gopher://x"}, 400, ["media_url: must be an http or https address"]),
        ({**base, "description": "x", "updated_datetime": "Tuesday"}, 400, ["updated_datetime: not a valid ISO 8601 datetime"]),
        ({**base, "description": "x", "update_id": "u" * 101}, 400, ["update_id: is 101 characters long; the limit is 100"]),
        ({**base, "service_request_id": "PC-0000-NOPE", "description": "x"}, 404, ["service_request_id: unknown request 'PC-0000-NOPE'"]),
        ({**base, "description": "x", "jurisdiction_id": "elsewhere"}, 404, ["jurisdiction_id: unknown jurisdiction 'elsewhere'"]),
        ({"service_request_id": ref, "description": "x"}, 403, ["api_key: is required: ask the city for a key and send it as api_key"]),
    ]
    for data, status, expected in cases:
        assert error_texts(post(c, "servicerequestupdates", data, status, fmt=fmt), fmt) == expected, data
    _case, events = case_by_reference(app, ref)
    assert not [e for e in events if e.kind == "resident_note"]


def test_html_in_an_update_is_removed(app, key):
    _name, plain = key
    c = app.test_client()
    ref = post(c, "requests", {**POTHOLE, "api_key": plain}, 201)[0]["service_request_id"]
    post(c, "servicerequestupdates", {"api_key": plain, "service_request_id": ref, "description": "<b>Still</b> there<img src=x onerror=alert(1)>"}, 201)
    _case, events = case_by_reference(app, ref)
    assert [e.body for e in events if e.kind == "resident_note"] == ["Still there"]
