"""The staff case screens: the scoped list, the case page and its actions, edit, and the new-case form."""
from __future__ import annotations

import html
import re
import uuid
from datetime import datetime

import pytest
import sqlalchemy as sa

from core import hookimpl
from tests.conftest import csrf_token

POTHOLE = {"service_code": "POTHOLE", "attributes": {"SIZE": "large"}}  # Public Works (PW)
METER = {"service_code": "METER", "attributes": {}}  # Utilities (UTIL)


def token() -> str:
    return uuid.uuid4().hex[:10]


def make_case(app, kind=POTHOLE, **kwargs) -> tuple[int, str]:
    """A case created through the core service, in an app context of its own; returns (id, reference)."""
    from core.extensions import db
    from core.services.cases import create_case

    with app.app_context():
        case = create_case(db.session, **{**kind, **kwargs})
        return case.id, case.reference


def load(app, case_id: int):
    """A fresh look at a case and its timeline, as the database has them now."""
    from core.extensions import db
    from core.models import Case

    with app.app_context():
        case = db.session.get(Case, case_id)
        events = sorted(case.events, key=lambda e: (e.created_at, e.id))
        snapshot = {
            "status": case.status, "version": case.version, "description": case.description,
            "priority": case.priority, "department": case.department.code,
            "assignee": case.assignee.username if case.assignee else None,
            "tags": [t.name for t in case.tags], "attributes": dict(case.attributes), "channel": case.channel,
            "events": [(e.kind, e.actor_label, e.public, e.body, dict(e.data)) for e in events],
        }
        db.session.remove()
        return snapshot


def text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def page_version(page_html: str) -> str:
    return re.search(r'name="version" value="(\d+)"', page_html).group(1)


def act(client, case_id: int, action: str, version: str | None = None, **fields):
    """Submit one action form of the case page, as the browser would (token and version from the page)."""
    page = client.get(f"/caseview/show/{case_id}")
    assert page.status_code == 200, page.status_code
    body = page.get_data(as_text=True)
    data = {"csrf_token": csrf_token(body), "version": version or page_version(body), "action": action, **fields}
    return client.post(f"/caseview/act/{case_id}", data=data, follow_redirects=True)


def any_token(client) -> str:
    """A valid CSRF token of this client's session, from a page the user may open."""
    return csrf_token(client.get("/caseview/add?service=POTHOLE").get_data(as_text=True))


def list_page(client, search: str) -> str:
    """The case list filtered by the free-text box (reference, description or address)."""
    response = client.get("/caseview/list/", query_string={"_flt_0_reference": search})
    assert response.status_code == 200
    return text(response)


# --- department scoping -------------------------------------------------------------------------


def test_department_staff_list_only_their_departments_cases(app, client_for):
    word = token()
    _, pw_ref = make_case(app, description=f"pothole {word}")
    _, util_ref = make_case(app, METER, description=f"meter {word}")
    page = list_page(client_for("pw_staff"), word)
    assert pw_ref in page
    assert util_ref not in page


def test_dispatcher_sees_every_departments_cases(app, client_for):
    word = token()
    _, pw_ref = make_case(app, description=f"pothole {word}")
    util_id, util_ref = make_case(app, METER, description=f"meter {word}")
    client = client_for("dispatcher")
    page = list_page(client, word)
    assert pw_ref in page and util_ref in page
    assert client.get(f"/caseview/show/{util_id}").status_code == 200


def test_department_staff_cannot_open_other_departments_case(app, client_for):
    word = token()
    util_id, util_ref = make_case(app, METER, description=f"secret meter {word}")
    response = client_for("pw_staff").get(f"/caseview/show/{util_id}")
    assert response.status_code == 404
    assert util_ref not in text(response) and word not in text(response)


def test_department_staff_cannot_edit_other_departments_case(app, client_for):
    word = token()
    util_id, util_ref = make_case(app, METER, description=f"meter {word}")
    client = client_for("pw_staff")
    page = client.get(f"/caseview/edit/{util_id}")
    assert page.status_code == 404
    assert util_ref not in text(page)
    posted = client.post(
        f"/caseview/edit/{util_id}",
        data={"csrf_token": any_token(client), "description": "overwritten", "priority": "urgent", "expected_version": "1"},
    )
    assert posted.status_code == 404
    after = load(app, util_id)
    assert after["description"] == f"meter {word}" and after["priority"] == "normal"


def test_department_staff_cannot_act_on_other_departments_case(app, client_for):
    util_id, _ = make_case(app, METER, description="meter")
    client = client_for("pw_staff")
    before = load(app, util_id)
    response = client.post(
        f"/caseview/act/{util_id}",
        data={"csrf_token": any_token(client), "version": str(before["version"]), "action": "internal_note", "body": "sneaky"},
    )
    assert response.status_code == 404
    assert load(app, util_id)["events"] == before["events"]


def test_unknown_or_malformed_case_ids_are_not_found(client_for):
    client = client_for("dispatcher")
    huge = "9" * 25
    for url in ("/caseview/show/999999999", "/caseview/show/abc", f"/caseview/show/{huge}", "/caseview/edit/abc",
                "/caseview/edit/999999999", f"/caseview/edit/{huge}", "/caseview/show/-1"):
        assert client.get(url).status_code == 404, url


def test_field_crew_work_their_departments_cases_but_cannot_edit_or_create(app, client_for):
    case_id, reference = make_case(app, description="crew job")
    client = client_for("crew")
    assert reference in text(client.get(f"/caseview/show/{case_id}"))
    assert client.get(f"/caseview/edit/{case_id}").status_code == 403
    assert client.get("/caseview/add").status_code == 403
    note = act(client, case_id, "internal_note", body="On site, cone placed")
    assert "Internal note added." in text(note)
    assert ("internal_note", "crew", False, "On site, cone placed", {}) in load(app, case_id)["events"]


def test_resident_gets_no_staff_screens(app, client_for):
    word = token()
    case_id, reference = make_case(app, description=f"resident cannot see {word}")
    client = client_for("resident")
    for url in ("/caseview/list/", f"/caseview/show/{case_id}", f"/caseview/edit/{case_id}", "/caseview/add", "/dashboard/"):
        response = client.get(url)
        assert response.status_code in (302, 403), url
        assert reference not in text(response) and word not in text(response)


def test_anonymous_visitor_is_sent_to_the_login_page(app, client_for):
    case_id, reference = make_case(app)
    client = client_for(None)
    for url in ("/caseview/list/", f"/caseview/show/{case_id}", "/caseview/add", "/dashboard/"):
        response = client.get(url)
        assert response.status_code == 302, url
        assert "/login/" in response.headers["Location"]
        assert reference not in text(response)


def test_nobody_can_delete_a_case(app, client_for):
    case_id, _ = make_case(app)
    client = client_for("admin")
    response = client.post(f"/caseview/delete/{case_id}", data={"csrf_token": any_token(client)})
    assert response.status_code in (302, 403)
    assert load(app, case_id)["status"] == "new"


# --- the list ----------------------------------------------------------------------------------


def test_case_list_shows_labels_not_codes_and_filters_by_status(app, client_for):
    from core.extensions import db
    from core.models import Case
    from core.services.cases import SYSTEM, change_status

    word = token()
    moving_id, moving_ref = make_case(app, description=f"moving {word}", channel="walk_in")
    _, new_ref = make_case(app, description=f"waiting {word}")
    with app.app_context():
        change_status(db.session, db.session.get(Case, moving_id), "in_progress", SYSTEM)
    client = client_for("pw_staff")
    page = list_page(client, word)
    assert "In progress" in page and "Walk-in" in page
    assert "in_progress" not in re.sub(r'<[^>]+>', "", page.split("Record Count")[-1])
    filtered = text(client.get("/caseview/list/", query_string={"_flt_0_reference": word, "_flt_3_status": "in_progress"}))
    assert moving_ref in filtered and new_ref not in filtered


def test_case_list_filters_by_tag_and_department(app, client_for):
    from core.extensions import db
    from core.models import Department, Tag

    word = token()
    _, tagged_ref = make_case(app, description=f"tagged {word}", tags=[f"storm-{word}"])
    _, plain_ref = make_case(app, description=f"plain {word}")
    _, util_ref = make_case(app, METER, description=f"meter {word}")
    with app.app_context():
        tag_id = db.session.scalar(sa.select(Tag.id).where(Tag.name == f"storm-{word}"))
        util_dept = db.session.scalar(sa.select(Department.id).where(Department.code == "UTIL"))
    client = client_for("dispatcher")
    by_tag = text(client.get("/caseview/list/", query_string={"_flt_0_reference": word, "_flt_0_tags": tag_id}))
    assert tagged_ref in by_tag and plain_ref not in by_tag
    by_department = text(client.get("/caseview/list/", query_string={"_flt_0_reference": word, "_flt_0_department": util_dept}))
    assert util_ref in by_department and tagged_ref not in by_department


def test_case_list_text_search_covers_reference_description_and_address(app, client_for):
    word = token()
    _, by_address = make_case(app, description="no match here", address=f"{word} Palm Harbor Pkwy")
    _, by_description = make_case(app, description=f"Sinkhole_{word}% near the curb")
    client = client_for("pw_staff")
    assert by_address in list_page(client, word.upper())
    assert by_description in list_page(client, f"{word}%")
    assert by_address not in list_page(client, f"{word}%")
    assert by_address in list_page(client, by_address)


def test_case_list_is_newest_first_25_a_page(app, client_for):
    from core.views.cases import CaseView

    word = token()
    refs = [make_case(app, description=f"order {word}")[1] for _ in range(3)]
    page = list_page(client_for("pw_staff"), word)
    assert page.index(refs[2]) < page.index(refs[1]) < page.index(refs[0])
    assert re.search(r"Record Count:(\s|<[^>]+>)*3\b", page)
    assert CaseView.page_size == 25


def test_bad_paging_or_sorting_arguments_get_a_400_naming_the_field(client_for):
    client = client_for("dispatcher")
    for args, field in (
        ({"page_CaseView": "abc"}, "Page"), ({"page_CaseView": "-1"}, "Page"), ({"psize_CaseView": "100000"}, "Page size"),
        ({"_oc_CaseView": "password"}, "Order"), ({"_oc_CaseView": "created_at", "_od_CaseView": "sideways"}, "Order direction"),
    ):
        response = client.get("/caseview/list/", query_string=args)
        assert response.status_code == 400, args
        assert f"{field}:" in text(response)
    assert client.get("/caseview/list/", query_string={"_oc_CaseView": "reference", "_od_CaseView": "asc", "psize_CaseView": "50"}).status_code == 200


def test_case_list_runs_the_same_number_of_queries_for_one_row_or_many(app, client_for):
    """No query per row: assignees, services and departments of a page are loaded together."""
    from core.extensions import db
    from core.models import Case, User
    from core.services.cases import SYSTEM, assign

    few, many = token(), token()
    ids = [make_case(app, description=f"few {few}")[0]] + [make_case(app, description=f"many {many}")[0] for _ in range(4)]
    with app.app_context():
        users = {u.username: u for u in db.session.scalars(sa.select(User).where(User.username.in_(["pw_staff", "crew", "dispatcher"])))}
        for case_id, name in zip(ids, ["crew", "pw_staff", "crew", "dispatcher", None]):
            assign(db.session, db.session.get(Case, case_id), users.get(name), SYSTEM)
    client = client_for("pw_staff")
    list_page(client, few)  # warm up caches (FAB's menu, roles)
    counts = []
    for word in (few, many):
        statements: list[str] = []

        def count(conn, cursor, statement, parameters, context, executemany, _seen=statements):
            _seen.append(statement)

        with app.app_context():
            engine = db.engine
        sa.event.listen(engine, "before_cursor_execute", count)
        try:
            page = list_page(client, word)
        finally:
            sa.event.remove(engine, "before_cursor_execute", count)
        counts.append(len(statements))
    assert "pw_staff" in page and "crew" in page
    assert counts[0] == counts[1], counts


# --- the case page -----------------------------------------------------------------------------


def test_case_page_shows_details_attributes_by_name_and_timeline(app, client_for):
    case_id, reference = make_case(
        app, description="Hole by the school", address="12 Belle Terre Pkwy", attributes={"SIZE": "medium", "LANE": "yes"},
        contact_name="Ana Ruiz",
    )
    page = text(client_for("pw_staff").get(f"/caseview/show/{case_id}"))
    assert reference in page and "Hole by the school" in page and "12 Belle Terre Pkwy" in page and "Ana Ruiz" in page
    assert "How large is the pothole?" in page and "Up to a car tire" in page
    assert "Is it in a travel lane?" in page
    assert 'data-kind="created"' in page and 'data-kind="routed"' in page


def test_case_page_offers_only_the_allowed_status_transitions(app, client_for):
    from core.models import TRANSITIONS

    case_id, _ = make_case(app)
    page = client_for("pw_staff").get(f"/caseview/show/{case_id}").get_data(as_text=True)
    select = re.search(r'<select id="new-status" name="status"[^>]*>(.*?)</select>', page, re.S).group(1)
    assert re.findall(r'value="(\w+)"', select) == list(TRANSITIONS["new"])
    assert "reopened" not in select


def test_case_page_offers_department_staff_and_dispatchers_for_assignment(app, client_for):
    case_id, _ = make_case(app)
    page = client_for("pw_staff").get(f"/caseview/show/{case_id}").get_data(as_text=True)
    select = re.search(r'<select id="assignee" name="assignee"[^>]*>(.*?)</select>', page, re.S).group(1)
    assert "pw_staff" in select and "crew" in select and "dispatcher" in select
    assert "util_staff" not in select and "resident" not in select


def test_notes_status_assignment_and_tags_go_on_the_timeline_with_the_actor(app, client_for):
    case_id, _ = make_case(app)
    client = client_for("pw_staff")
    assert "Internal note added." in text(act(client, case_id, "internal_note", body="Called the resident back"))
    assert "Public note added." in text(act(client, case_id, "public_note", body="A crew is scheduled for Monday"))
    assert "Status changed to Acknowledged." in text(act(client, case_id, "status", status="acknowledged", note="We are on it"))
    page = client.get(f"/caseview/show/{case_id}").get_data(as_text=True)
    crew_id = re.search(r'<option value="(\d+)"[^>]*>crew</option>', page).group(1)
    assert "Assigned to crew." in text(act(client, case_id, "assign", assignee=crew_id))
    assert "Tags saved." in text(act(client, case_id, "tags", tags="Hurricane, storm week"))

    after = load(app, case_id)
    assert after["status"] == "acknowledged" and after["assignee"] == "crew"
    assert after["tags"] == ["hurricane", "storm-week"]
    mine = [e for e in after["events"] if e[1] == "pw_staff"]
    assert [(kind, public, body) for kind, _, public, body, _ in mine] == [
        ("internal_note", False, "Called the resident back"),
        ("public_note", True, "A crew is scheduled for Monday"),
        ("status_changed", True, "We are on it"),
        ("assigned", False, ""),
        ("tagged", False, ""),
    ]
    assert mine[2][4] == {"old": "new", "new": "acknowledged"}
    assert mine[3][4] == {"old": None, "new": "crew"}
    shown = text(client.get(f"/caseview/show/{case_id}"))
    for body in ("Called the resident back", "A crew is scheduled for Monday", "We are on it", "hurricane, storm-week"):
        assert body in shown


def test_a_forbidden_status_change_is_refused_naming_the_field(app, client_for):
    case_id, _ = make_case(app)
    response = text(act(client_for("pw_staff"), case_id, "status", status="reopened"))
    assert "Status: cannot go from new to reopened" in response
    assert load(app, case_id)["status"] == "new"


def test_an_empty_note_is_refused_naming_the_field(app, client_for):
    case_id, _ = make_case(app)
    before = load(app, case_id)
    response = text(act(client_for("pw_staff"), case_id, "internal_note", body="   "))
    assert "Note: a note cannot be empty" in response
    assert load(app, case_id)["events"] == before["events"]


def test_assigning_someone_outside_the_department_is_refused(app, client_for):
    from core.extensions import db
    from core.models import User

    case_id, _ = make_case(app)
    with app.app_context():
        outsider = db.session.scalar(sa.select(User.id).where(User.username == "util_staff"))
    response = text(act(client_for("pw_staff"), case_id, "assign", assignee=str(outsider)))
    assert "Assignee: choose a member of the case's department or a dispatcher" in response
    assert load(app, case_id)["assignee"] is None


def test_rerouting_sends_the_case_to_another_department_with_the_reason(app, client_for):
    from core.extensions import db
    from core.models import Department

    case_id, reference = make_case(app, description="Actually a water main")
    with app.app_context():
        util = db.session.scalar(sa.select(Department.id).where(Department.code == "UTIL"))
    client = client_for("pw_staff")
    refused = text(act(client, case_id, "reroute", department=str(util), reason=""))
    assert "Reason: say why the case goes to another department" in refused
    assert load(app, case_id)["department"] == "PW"

    moved = act(client, case_id, "reroute", department=str(util), reason="Water is bubbling up: a main break")
    assert moved.request.path == "/caseview/list/"
    assert f"Case {reference} is no longer in your departments." in text(moved)
    after = load(app, case_id)
    assert after["department"] == "UTIL"
    assert ("department_changed", "pw_staff", False, "Water is bubbling up: a main break", {"old": "PW", "new": "UTIL"}) in after["events"]
    assert client.get(f"/caseview/show/{case_id}").status_code == 404
    assert client_for("util_staff").get(f"/caseview/show/{case_id}").status_code == 200


def test_a_stale_action_is_refused_and_nothing_is_overwritten(app, client_for):
    from core.extensions import db
    from core.models import Case
    from core.services.cases import Actor, change_status

    case_id, _ = make_case(app)
    client = client_for("pw_staff")
    page = client.get(f"/caseview/show/{case_id}").get_data(as_text=True)
    seen_version = page_version(page)
    with app.app_context():  # a colleague acts first
        change_status(db.session, db.session.get(Case, case_id), "in_progress", Actor(label="colleague"))
    before = load(app, case_id)
    for action, fields in (("status", {"status": "on_hold"}), ("tags", {"tags": "late"})):
        response = text(act(client, case_id, action, version=seen_version, **fields))
        assert "changed by someone else" in response and "Nothing was saved" in response
    after = load(app, case_id)
    assert after == before
    assert after["status"] == "in_progress"


def test_a_note_typed_while_a_colleague_changed_the_case_is_still_added(app, client_for):
    from core.extensions import db
    from core.models import Case
    from core.services.cases import Actor, change_status

    case_id, _ = make_case(app)
    client = client_for("pw_staff")
    seen_version = page_version(client.get(f"/caseview/show/{case_id}").get_data(as_text=True))
    with app.app_context():  # a colleague acts first
        change_status(db.session, db.session.get(Case, case_id), "in_progress", Actor(label="colleague"))
    response = text(act(client, case_id, "internal_note", version=seen_version, body="Crew says the hole is back"))
    assert "changed by someone else" not in response
    with app.app_context():
        case = db.session.get(Case, case_id)
        assert [e.body for e in case.events if e.kind == "internal_note"] == ["Crew says the hole is back"]
        assert case.status == "in_progress"


def test_a_post_without_csrf_token_is_refused(app, client_for):
    case_id, _ = make_case(app)
    client = client_for("pw_staff")
    before = load(app, case_id)
    response = client.post(f"/caseview/act/{case_id}", data={"version": str(before["version"]), "action": "internal_note", "body": "forged"})
    assert response.status_code == 400
    edit = client.post(f"/caseview/edit/{case_id}", data={"description": "forged", "priority": "urgent", "expected_version": str(before["version"])})
    assert edit.status_code == 400
    assert load(app, case_id) == before


# --- edit --------------------------------------------------------------------------------------


def edit_form(client, case_id: int) -> dict[str, str]:
    """The edit form's current values, as the browser would send them back."""
    page = client.get(f"/caseview/edit/{case_id}")
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    data = {"csrf_token": csrf_token(body)}
    for name in ("description",):
        data[name] = html.unescape(re.search(rf'<textarea[^>]*name="{name}"[^>]*>(.*?)</textarea>', body, re.S).group(1)).strip()
    for name in ("address", "zipcode", "lat", "long", "zone", "expected_version"):
        m = re.search(rf'<input[^>]*name="{name}"[^>]*value="([^"]*)"', body) or re.search(rf'<input[^>]*value="([^"]*)"[^>]*name="{name}"', body)
        data[name] = html.unescape(m.group(1)) if m else ""
    data["priority"] = re.search(r'<select[^>]*name="priority".*?<option selected value="(\w+)"|<select[^>]*name="priority".*?<option value="(\w+)" selected', body, re.S)
    data["priority"] = next(g for g in data["priority"].groups() if g) if data["priority"] else "normal"
    return data


def test_editing_a_case_records_the_change_on_the_timeline(app, client_for):
    case_id, _ = make_case(app, description="Hole", address="1 Palm Coast Pkwy")
    client = client_for("pw_staff")
    data = edit_form(client, case_id)
    assert data["expected_version"] == str(load(app, case_id)["version"])
    data.update(description="Hole, now two feet wide", priority="high", zone="Zone B")
    response = client.post(f"/caseview/edit/{case_id}", data=data, follow_redirects=True)
    assert response.status_code == 200
    after = load(app, case_id)
    assert after["description"] == "Hole, now two feet wide" and after["priority"] == "high"
    kind, actor, public, _, data_ = after["events"][-1]
    assert (kind, actor, public) == ("updated", "pw_staff", False)
    assert data_["fields"]["description"] == ["Hole", "Hole, now two feet wide"]
    assert data_["fields"]["priority"] == ["normal", "high"]
    assert data_["fields"]["zone"] == [None, "Zone B"]


def test_editing_tags_in_the_edit_form_is_recorded(app, client_for):
    from core.extensions import db
    from core.models import Tag

    word = token()
    case_id, _ = make_case(app, tags=[f"flood-{word}"])
    make_case(app, tags=[f"debris-{word}"])
    with app.app_context():
        debris = db.session.scalar(sa.select(Tag.id).where(Tag.name == f"debris-{word}"))
    client = client_for("pw_staff")
    data = edit_form(client, case_id)
    data["tags"] = [str(debris)]
    client.post(f"/caseview/edit/{case_id}", data=data)
    after = load(app, case_id)
    assert after["tags"] == [f"debris-{word}"]
    assert ("tagged", "pw_staff", False, "", {"old": [f"flood-{word}"], "new": [f"debris-{word}"]}) in after["events"]


def test_a_stale_edit_is_refused_and_nothing_is_overwritten(app, client_for):
    from core.extensions import db
    from core.models import Case
    from core.services.cases import Actor, add_note

    case_id, _ = make_case(app, description="Original words")
    client = client_for("pw_staff")
    data = edit_form(client, case_id)
    with app.app_context():  # a colleague adds a note meanwhile: the case moves to the next version
        add_note(db.session, db.session.get(Case, case_id), "colleague was here", Actor(label="colleague"))
    before = load(app, case_id)
    data.update(description="My overwrite", priority="urgent")
    response = client.post(f"/caseview/edit/{case_id}", data=data, follow_redirects=True)
    assert "changed by someone else" in text(response)
    assert load(app, case_id) == before


# --- new case ----------------------------------------------------------------------------------


def new_case_form(client, service: str) -> str:
    page = client.get(f"/caseview/add?service={service}")
    assert page.status_code == 200
    return page.get_data(as_text=True)


def test_new_case_starts_by_picking_a_service_grouped(client_for):
    page = text(client_for("pw_staff").get("/caseview/add"))
    assert "Roads and sidewalks" in page and "Water" in page
    assert "/caseview/add?service=POTHOLE" in page


def test_new_case_form_asks_the_services_questions(client_for):
    page = text(client_for("pw_staff").get("/caseview/add?service=POTHOLE"))
    assert "How large is the pothole?" in page and "Larger than a car tire" in page
    assert re.search(r'<option selected value="phone">|<option value="phone" selected>', page), "phone is the default channel"


def test_staff_create_a_case_from_the_new_case_form(app, client_for):
    from core.extensions import db
    from core.models import Case

    word = token()
    client = client_for("pw_staff")
    form = new_case_form(client, "POTHOLE")
    response = client.post(
        "/caseview/add?service=POTHOLE",
        data={
            "csrf_token": csrf_token(form), "attr_SIZE": "small", "attr_LANE": "no", "description": f"Caller reports a hole {word}",
            "priority": "high", "channel": "phone", "address": "4 Old Kings Rd", "lat": "29.58", "long": "-81.21",
            "contact_name": "Sam Lee", "contact_email": "sam@example.org", "tags": "school-zone",
        },
    )
    assert response.status_code == 302
    with app.app_context():
        case = db.session.scalar(sa.select(Case).where(Case.description == f"Caller reports a hole {word}"))
        assert response.headers["Location"].endswith(f"/caseview/show/{case.id}")
        assert case.attributes == {"SIZE": "small", "LANE": "no"}
        assert (case.channel, case.priority, case.department.code) == ("phone", "high", "PW")
        assert (case.lat, case.long, case.contact_email) == (29.58, -81.21, "sam@example.org")
        assert [t.name for t in case.tags] == ["school-zone"]
        created = next(e for e in case.events if e.kind == "created")
        assert created.actor_label == "pw_staff"
        case_id = case.id
    assert f"Caller reports a hole {word}" in text(client.get(f"/caseview/show/{case_id}"))


def test_new_case_form_shows_field_errors_and_keeps_what_was_typed(app, client_for):
    from core.extensions import db
    from core.models import Case

    word = token()
    client = client_for("pw_staff")
    form = new_case_form(client, "POTHOLE")
    response = client.post(
        "/caseview/add?service=POTHOLE",
        data={"csrf_token": csrf_token(form), "description": f"No size given {word}", "priority": "normal", "channel": "phone",
              "address": "9 Florida Park Dr", "lat": "north", "long": "-81.2"},
    )
    assert response.status_code == 200
    page = text(response)
    size_row = re.search(r'<tr class="civic-field-attr_SIZE">(.*?)</tr>', page, re.S).group(1)
    assert "This field is required." in size_row
    lat_row = re.search(r'<tr class="civic-field-lat">(.*?)</tr>', page, re.S).group(1)
    assert "Not a valid float value." in lat_row and 'value="north"' in lat_row
    assert f"No size given {word}" in page and "9 Florida Park Dr" in page
    with app.app_context():
        assert db.session.scalar(sa.select(Case.id).where(Case.description == f"No size given {word}")) is None


def test_new_case_form_handles_list_and_datetime_questions(app, client_for):
    from core.extensions import db
    from core.models import Case

    word = token()
    client = client_for("dispatcher")
    tree = new_case_form(client, "TREE_DOWN")
    assert 'type="checkbox"' in tree and "Power lines" in tree
    client.post("/caseview/add?service=TREE_DOWN", data={
        "csrf_token": csrf_token(tree), "attr_BLOCKING": ["road", "sidewalk"], "description": f"Oak down {word}",
        "priority": "normal", "channel": "phone",
    })
    move = new_case_form(client, "START_STOP")
    client.post("/caseview/add?service=START_STOP", data={
        "csrf_token": csrf_token(move), "attr_REQUEST": "start", "attr_DATE": "2026-07-01T09:30",
        "description": f"Moving in {word}", "priority": "normal", "channel": "walk_in",
    })
    with app.app_context():
        oak = db.session.scalar(sa.select(Case).where(Case.description == f"Oak down {word}"))
        moving = db.session.scalar(sa.select(Case).where(Case.description == f"Moving in {word}"))
        assert oak.attributes == {"BLOCKING": ["road", "sidewalk"]}
        assert moving.attributes == {"REQUEST": "start", "DATE": datetime(2026, 7, 1, 9, 30).isoformat()}
        assert moving.channel == "walk_in"


def test_a_case_routed_outside_the_creators_departments_lands_back_on_the_list(app, client_for):
    word = token()
    client = client_for("pw_staff")
    form = new_case_form(client, "METER")
    response = client.post(
        "/caseview/add?service=METER",
        data={"csrf_token": csrf_token(form), "description": f"Meter box broken {word}", "priority": "normal", "channel": "phone"},
        follow_redirects=True,
    )
    page = text(response)
    assert response.request.path == "/caseview/list/"
    assert "Utilities - Water and Sewer" in page and "outside your departments" in page


def test_unknown_service_goes_back_to_the_service_list(client_for):
    response = text(client_for("pw_staff").get("/caseview/add?service=NOPE"))
    assert "Service: unknown service" in response and "/caseview/add?service=POTHOLE" in response


# --- plugin panels -----------------------------------------------------------------------------


class KnowledgePanels:
    """A plugin that adds two panels to the case page (registered for one test)."""

    @hookimpl
    def case_panels(self, case):
        from core.records import Panel

        return [
            Panel(title="Second", html='<p class="second-panel">later</p>', order=20),
            Panel(title="Tips", html=f'<p class="tips-panel">Tips for {case.service_type.code}</p>', order=10),
        ]


@pytest.fixture
def knowledge_panels(app):
    pm = app.extensions["civic"].pm
    pm.register(KnowledgePanels(), name="test-knowledge-panels")
    yield
    pm.unregister(name="test-knowledge-panels")


def test_plugin_panels_appear_on_the_case_page_in_order(app, client_for, knowledge_panels):
    case_id, _ = make_case(app)
    page = client_for("pw_staff").get(f"/caseview/show/{case_id}").get_data(as_text=True)
    assert '<p class="tips-panel">Tips for POTHOLE</p>' in page
    assert page.index("tips-panel") < page.index("second-panel")
