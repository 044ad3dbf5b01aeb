"""Incidents: related cases linked to one event, the incident page scoped to the reader, one public note
to every linked case (each follower hears of it), unlinking, moving, closing."""
from __future__ import annotations

import re
import uuid

import pytest
import sqlalchemy as sa

from tests.conftest import csrf_token, recorded_sql
from tests.core.test_case_screens import any_token, load, make_case, text

WATER = {"service_code": "WATER_LEAK", "attributes": {"WHERE": "street"}}  # Utilities (UTIL)
POTHOLE = {"service_code": "POTHOLE", "attributes": {"SIZE": "large"}}  # Public Works (PW)


def word() -> str:
    return uuid.uuid4().hex[:10]


def incident_id_of(app, case_id: int) -> int | None:
    from core.extensions import db
    from core.models import Case

    with app.app_context():
        found = db.session.get(Case, case_id).incident_id
        db.session.remove()
        return found


def create_from_case(client, case_id: int, title: str) -> int:
    """Dispatcher: the case page's "Link to incident", then "Create and link"."""
    page = client.get(f"/incidentview/link?cases={case_id}")
    assert page.status_code == 200
    r = client.post("/incidentview/link", data={"csrf_token": csrf_token(page.get_data(as_text=True)), "cases": str(case_id),
                                                "new": "1", "title": title, "description": "Main broke at dawn"})
    assert r.status_code == 302, text(r)
    return int(re.search(r"/incidentview/show/(\d+)", r.headers["Location"]).group(1))


def link_from_case_list(client, incident_id: int, *case_ids: int):
    """The case list: select the cases, Actions › Link to incident, pick the incident."""
    listing = client.get("/caseview/list/")
    assert "Link to incident" in text(listing)
    r = client.post("/caseview/action_post", data={"csrf_token": csrf_token(listing.get_data(as_text=True)),
                                                   "action": "link_to_incident", "rowid": [str(i) for i in case_ids]})
    assert r.status_code == 302
    page = client.get(r.headers["Location"])
    assert page.status_code == 200
    assert f'value="{incident_id}"' in page.get_data(as_text=True)
    return client.post("/incidentview/link", data={"csrf_token": csrf_token(page.get_data(as_text=True)),
                                                   "cases": ",".join(map(str, case_ids)), "incident": str(incident_id)},
                       follow_redirects=True)


def post_note_to_all(client, incident_id: int, body: str):
    """The incident page's form, then the confirmation page; returns (confirmation html, the final page)."""
    page = client.get(f"/incidentview/show/{incident_id}")
    confirm = client.post(f"/incidentview/post_note/{incident_id}",
                          data={"csrf_token": csrf_token(page.get_data(as_text=True)), "body": body})
    assert confirm.status_code == 200
    html = confirm.get_data(as_text=True)
    token = re.search(r'name="token" value="([0-9a-f]{32})"', html).group(1)
    data = {"csrf_token": csrf_token(html), "body": body, "token": token}
    done = client.post(f"/incidentview/post_note/{incident_id}", data=data, follow_redirects=True)
    return text(confirm), done, data


def outbox_for(app, email: str) -> list[tuple[str, str, str]]:
    from core.extensions import db
    from core.models import OutboxMessage

    with app.app_context():
        rows = db.session.scalars(sa.select(OutboxMessage).where(OutboxMessage.recipient == email).order_by(OutboxMessage.id)).all()
        out = [(m.kind, m.related, m.body_text) for m in rows]
        db.session.remove()
        return out


# --- the story: a water main break reported several times ----------------------------------------


def test_dispatcher_creates_an_incident_from_a_case_and_links_two_more_from_the_case_list(app, client_for):
    w = word()
    first, first_ref = make_case(app, WATER, description=f"water everywhere {w}", address="12 Belle Terre Pkwy")
    second, second_ref = make_case(app, WATER, description=f"no water {w}", address="30 Belle Terre Pkwy")
    third, third_ref = make_case(app, POTHOLE, description=f"road sinking {w}", address="2 Bird Ln")
    client = client_for("dispatcher")

    incident = create_from_case(client, first, f"Water main break {w}")
    page = link_from_case_list(client, incident, second, third)
    assert f"Cases linked to “Water main break {w}”: {second_ref}, {third_ref}." in text(page)

    shown = text(client.get(f"/incidentview/show/{incident}"))
    for reference, address in ((first_ref, "12 Belle Terre Pkwy"), (second_ref, "30 Belle Terre Pkwy"), (third_ref, "2 Bird Ln")):
        m = re.search(rf'<tr data-reference="{reference}">(.*?)</tr>', shown, re.S)
        row = m.group(1)
        assert address in row
    assert "Water leak" in shown and "Public Works" in shown and "Utilities" in shown and "New" in shown
    assert "other case" not in shown  # a dispatcher sees every linked case
    for case_id in (first, second, third):
        assert incident_id_of(app, case_id) == incident
        entry = [e for e in load(app, case_id)["events"] if e[0] == "incident_linked"]
        assert entry == [("incident_linked", "dispatcher", False, "",
                          {"incident": incident, "old": None, "new": f"Water main break {w}", "old_incident": None})]
    case_page = text(client.get(f"/caseview/show/{first}"))
    assert "Linked to incident" in case_page and f"Water main break {w}" in case_page


def test_one_public_note_reaches_every_linked_case_and_the_followers_once(app, client_for):
    w = word()
    email = f"neighbour-{w}@example.org"
    followed, followed_ref = make_case(app, WATER, description=f"leak {w}", contact_email=email)
    others = [make_case(app, WATER, description=f"leak {w} {i}")[0] for i in range(2)]
    client = client_for("dispatcher")
    incident = create_from_case(client, followed, f"Main break {w}")
    link_from_case_list(client, incident, *others)
    before = outbox_for(app, email)

    body = f"Crews are repairing the main on Belle Terre {w}; water back by 6 pm."
    confirmation, done, repeat = post_note_to_all(client, incident, body)
    assert "This public note goes to 3 cases; their followers are e-mailed." in confirmation
    assert "Public note posted to 3 cases." in text(done)
    for case_id in (followed, *others):
        notes = [e for e in load(app, case_id)["events"] if e[0] == "public_note"]
        assert [(kind, actor, public, note) for kind, actor, public, note, _ in notes] == [("public_note", "dispatcher", True, body)]
    sent = outbox_for(app, email)[len(before):]
    assert [(kind, related) for kind, related, _ in sent] == [("case_note", f"case:{followed}")]
    assert body in sent[0][2]

    # A second click on "Post" (the same confirmation) adds nothing and sends nothing.
    again = client.post(f"/incidentview/post_note/{incident}", data=repeat, follow_redirects=True)
    assert "This note was already posted" in text(again)
    for case_id in (followed, *others):
        assert len([e for e in load(app, case_id)["events"] if e[0] == "public_note"]) == 1
    assert len(outbox_for(app, email)) == len(before) + 1


def test_a_note_to_forty_linked_cases_costs_a_bounded_number_of_queries_per_case(app):
    from core.extensions import db
    from core.models import Case, Incident
    from core.services.cases import Actor
    from core.services.incidents import create_incident, post_public_note

    w = word()
    ids = [make_case(app, WATER, description=f"street {w} {i}")[0] for i in range(40)]
    with app.app_context():
        incident, _ = create_incident(db.session, f"Forty reports {w}", "", Actor(label="test"),
                                      list(db.session.scalars(sa.select(Case).where(Case.id.in_(ids)))))
        incident_id = incident.id
        db.session.remove()
    with recorded_sql(app) as statements, app.test_request_context():
        result = post_public_note(db.session, db.session.get(Incident, incident_id), "Fixed.", Actor(label="test"), uuid.uuid4().hex)
        assert sorted(c.id for c in result.posted) == sorted(ids) and not result.failed
        db.session.remove()
    # About a dozen per case (its note, its commit, the followers' e-mails): never a scan of every case per case.
    assert len(statements) < 40 * 16, len(statements)
    for case_id in (ids[0], ids[-1]):
        assert [e[3] for e in load(app, case_id)["events"] if e[0] == "public_note"] == ["Fixed."]


def test_unlinking_takes_the_case_out_and_says_so_on_its_timeline(app, client_for):
    w = word()
    kept, _ = make_case(app, WATER, description=f"kept {w}")
    taken, taken_ref = make_case(app, WATER, description=f"taken {w}")
    client = client_for("dispatcher")
    incident = create_from_case(client, kept, f"Break {w}")
    link_from_case_list(client, incident, taken)

    page = client.get(f"/incidentview/show/{incident}")
    r = client.post(f"/incidentview/unlink/{taken}", data={"csrf_token": csrf_token(page.get_data(as_text=True)), "back": "incident"},
                    follow_redirects=True)
    assert f"Case {taken_ref} is no longer linked to “Break {w}”." in text(r)
    assert incident_id_of(app, taken) is None and incident_id_of(app, kept) == incident
    assert taken_ref not in text(client.get(f"/incidentview/show/{incident}"))
    assert ("incident_unlinked", "dispatcher", False, "", {"incident": incident, "old": f"Break {w}", "new": None}) in load(app, taken)["events"]


def test_linking_a_case_of_another_incident_moves_it_and_records_from_where(app, client_for):
    w = word()
    case_a, _ = make_case(app, WATER, description=f"a {w}")
    case_b, case_b_ref = make_case(app, WATER, description=f"b {w}")
    client = client_for("dispatcher")
    first = create_from_case(client, case_a, f"First {w}")
    link_from_case_list(client, first, case_b)
    second = create_from_case(client, case_a, f"Second {w}")
    page = link_from_case_list(client, second, case_b)
    assert f"Moved from another incident: {case_b_ref}." in text(page)
    assert incident_id_of(app, case_b) == second
    moved = [e[4] for e in load(app, case_b)["events"] if e[0] == "incident_linked"][-1]
    assert moved == {"incident": second, "old": f"First {w}", "new": f"Second {w}", "old_incident": first}
    assert case_b_ref not in text(client.get(f"/incidentview/show/{first}"))


def test_a_closed_incident_takes_no_new_case_and_no_note(app, client_for):
    w = word()
    case_a, _ = make_case(app, WATER, description=f"a {w}")
    case_b, _ = make_case(app, WATER, description=f"b {w}")
    client = client_for("dispatcher")
    incident = create_from_case(client, case_a, f"Closed {w}")
    page = client.get(f"/incidentview/show/{incident}")
    token = csrf_token(page.get_data(as_text=True))
    closed = client.post(f"/incidentview/close/{incident}", data={"csrf_token": token}, follow_redirects=True)
    assert f"Incident “Closed {w}” closed." in text(closed)
    assert "Post a public note to every linked case" not in text(closed)

    r = client.post("/incidentview/link", data={"csrf_token": token, "cases": str(case_b), "incident": str(incident)}, follow_redirects=True)
    assert f"Incident: incident “Closed {w}” is closed; reopen it first" in text(r)
    assert incident_id_of(app, case_b) is None
    r = client.post(f"/incidentview/post_note/{incident}", data={"csrf_token": token, "body": "Hello"}, follow_redirects=True)
    assert "is closed; reopen it first" in text(r)
    assert not [e for e in load(app, case_a)["events"] if e[0] == "public_note"]

    client.post(f"/incidentview/reopen/{incident}", data={"csrf_token": token})
    r = client.post("/incidentview/link", data={"csrf_token": token, "cases": str(case_b), "incident": str(incident)})
    assert r.status_code == 302 and incident_id_of(app, case_b) == incident


def test_dispatcher_adds_and_edits_an_incident_on_the_incidents_screen(app, client_for):
    from core.extensions import db
    from core.models import Incident

    w = word()
    client = client_for("dispatcher")
    form = client.get("/incidentview/add")
    r = client.post("/incidentview/add", data={"csrf_token": csrf_token(form.get_data(as_text=True)),
                                               "title": f"  Boil-water notice {w} ", "description": "Zone 3"})
    assert r.status_code == 302
    with app.app_context():
        incident = db.session.scalar(sa.select(Incident).where(Incident.title == f"Boil-water notice {w}"))
        assert incident.status == "open" and incident.created_by_id is not None
        incident_id = incident.id
        db.session.remove()
    assert f"Boil-water notice {w}" in text(client.get("/incidentview/list/?_flt_2_title=" + w))
    edit = client.get(f"/incidentview/edit/{incident_id}")
    client.post(f"/incidentview/edit/{incident_id}", data={"csrf_token": csrf_token(edit.get_data(as_text=True)),
                                                           "title": f"Boil-water notice {w} (lifted)", "description": "Zone 3"})
    assert f"Boil-water notice {w} (lifted)" in text(client.get(f"/incidentview/show/{incident_id}"))
    too_long = client.post("/incidentview/add", data={"csrf_token": csrf_token(form.get_data(as_text=True)), "title": "x" * 201})
    assert too_long.status_code == 200 and "Field cannot be longer than 200 characters." in text(too_long)


# --- who sees and does what ----------------------------------------------------------------------


def test_department_staff_see_their_cases_of_the_incident_and_only_a_count_of_the_others(app, client_for):
    w = word()
    leak, leak_ref = make_case(app, WATER, description=f"leak {w}", address="1 Secret Utility Rd")
    hole_one, hole_one_ref = make_case(app, POTHOLE, description=f"hole {w}")
    hole_two, hole_two_ref = make_case(app, POTHOLE, description=f"hole {w} 2")
    dispatcher = client_for("dispatcher")
    incident = create_from_case(dispatcher, leak, f"Sinkhole {w}")
    link_from_case_list(dispatcher, incident, hole_one, hole_two)

    pw = text(client_for("pw_staff").get(f"/incidentview/show/{incident}"))
    assert hole_one_ref in pw and hole_two_ref in pw
    assert leak_ref not in pw and "Secret Utility" not in pw
    assert "1 other case of other departments is linked to this incident." in pw
    util = text(client_for("util_staff").get(f"/incidentview/show/{incident}"))
    assert leak_ref in util and hole_one_ref not in util
    assert "2 other cases of other departments are linked to this incident." in util
    assert f"Sinkhole {w}" in text(client_for("crew").get("/incidentview/list/"))


def test_a_department_holding_a_task_reads_that_case_on_the_incident_page_but_cannot_unlink_it(app, client_for):
    from core.extensions import db
    from core.models import Case, Department
    from core.services.tasks import add_task

    w = word()
    tree, tree_ref = make_case(app, POTHOLE, description=f"tree on the line {w}")
    incident = create_from_case(client_for("dispatcher"), tree, f"Storm {w}")
    with app.app_context():  # Utilities restore the line on the Public Works case
        util = db.session.scalar(sa.select(Department).where(Department.code == "UTIL"))
        add_task(db.session, db.session.get(Case, tree), department=util, title="Restore power")
        db.session.remove()
    util_staff = client_for("util_staff")
    page = text(util_staff.get(f"/incidentview/show/{incident}"))
    assert tree_ref in page and f"/incidentview/unlink/{tree}" not in page and "other case" not in page
    assert util_staff.post(f"/incidentview/unlink/{tree}", data={"csrf_token": any_token(util_staff)}).status_code == 404
    assert util_staff.get(f"/incidentview/link?cases={tree}").status_code == 404
    assert incident_id_of(app, tree) == incident


def test_department_staff_link_their_own_case_to_an_existing_incident_but_create_post_and_close_nothing(app, client_for):
    w = word()
    leak, _ = make_case(app, WATER, description=f"leak {w}")
    hole, hole_ref = make_case(app, POTHOLE, description=f"hole {w}")
    other_leak, other_leak_ref = make_case(app, WATER, description=f"other leak {w}")
    incident = create_from_case(client_for("dispatcher"), leak, f"Break {w}")
    pw = client_for("pw_staff")
    assert "Link to incident" in text(pw.get("/caseview/list/"))  # the case list's action
    assert "Link to incident" not in text(client_for("crew").get("/caseview/list/"))

    page = pw.get(f"/incidentview/link?cases={hole}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "Create an incident from these cases" not in html
    token = csrf_token(html)
    r = pw.post("/incidentview/link", data={"csrf_token": token, "cases": str(hole), "incident": str(incident), "back": "case"})
    assert r.status_code == 302 and r.headers["Location"].endswith(f"/caseview/show/{hole}")
    assert incident_id_of(app, hole) == incident

    # Another department's case: not found, not linked.
    assert pw.get(f"/incidentview/link?cases={other_leak}").status_code == 404
    assert pw.post("/incidentview/link", data={"csrf_token": token, "cases": str(other_leak), "incident": str(incident)}).status_code == 404
    assert pw.post(f"/incidentview/unlink/{leak}", data={"csrf_token": token}).status_code == 404
    assert incident_id_of(app, other_leak) is None and incident_id_of(app, leak) == incident
    # Creating, posting to every case, closing and editing are the dispatchers'.
    assert pw.post("/incidentview/link", data={"csrf_token": token, "cases": str(hole), "new": "1", "title": "Mine"}).status_code == 403
    assert pw.post(f"/incidentview/post_note/{incident}", data={"csrf_token": token, "body": "Hi"}).status_code == 403
    assert pw.post(f"/incidentview/close/{incident}", data={"csrf_token": token}).status_code == 403
    assert pw.get("/incidentview/add").status_code == 403
    assert pw.get(f"/incidentview/edit/{incident}").status_code == 403
    shown = text(pw.get(f"/incidentview/show/{incident}"))
    assert "Post a public note to every linked case" not in shown and "Close the incident" not in shown
    assert not [e for e in load(app, hole)["events"] if e[0] == "public_note"]


def test_the_case_page_shows_the_incident_panel(app, client_for):
    w = word()
    case_id, _ = make_case(app, WATER, description=f"leak {w}")
    alone, _ = make_case(app, WATER, description=f"alone {w}")
    dispatcher = client_for("dispatcher")
    incident = create_from_case(dispatcher, case_id, f"Panel {w}")
    page = text(client_for("util_staff").get(f"/caseview/show/{case_id}"))
    assert f'href="/incidentview/show/{incident}"' in page and f"Panel {w}" in page
    assert "Unlink from the incident" in page and "Link to another incident" in page
    lonely = text(dispatcher.get(f"/caseview/show/{alone}"))
    assert "Not linked to an incident." in lonely and f"/incidentview/link?cases={alone}" in lonely
    crew_view = text(client_for("crew").get(f"/caseview/show/{make_case(app, POTHOLE)[0]}"))
    assert "Not linked to an incident." in crew_view and "Link to incident" not in crew_view


def test_incident_forms_require_the_csrf_token(app, client_for):
    w = word()
    case_id, _ = make_case(app, WATER, description=f"leak {w}")
    other, _ = make_case(app, WATER, description=f"other {w}")
    client = client_for("dispatcher")
    incident = create_from_case(client, case_id, f"CSRF {w}")
    assert client.post("/incidentview/link", data={"cases": str(other), "incident": str(incident)}).status_code == 400
    assert client.post(f"/incidentview/unlink/{case_id}", data={}).status_code == 400
    assert client.post(f"/incidentview/post_note/{incident}", data={"body": "x", "token": uuid.uuid4().hex}).status_code == 400
    assert client.post(f"/incidentview/close/{incident}", data={}).status_code == 400
    assert client.post("/caseview/action_post", data={"action": "link_to_incident", "rowid": [str(other)]}).status_code == 400
    assert incident_id_of(app, other) is None and incident_id_of(app, case_id) == incident
    assert not [e for e in load(app, case_id)["events"] if e[0] == "public_note"]


def test_bad_input_is_refused_with_a_message_naming_the_field(app, client_for):
    w = word()
    case_id, _ = make_case(app, WATER, description=f"leak {w}")
    client = client_for("dispatcher")
    token = any_token(client)
    r = client.get("/incidentview/link?cases=abc")
    assert r.status_code == 400 and "Cases: a list of case numbers is expected" in text(r)
    assert client.get("/incidentview/link?cases=").status_code == 400
    menu = client.get("/incidentview/link", follow_redirects=True)  # no cases chosen: the case list says how
    assert "Select the cases to link on the case list" in text(menu)
    assert client.get(f"/incidentview/link?cases={','.join(['1'] * 1) + ',' + ','.join(str(i) for i in range(2, 103))}").status_code == 400
    r = client.post("/caseview/action_post", data={"csrf_token": token, "action": "link_to_incident", "rowid": ["x'--"]})
    assert r.status_code == 400 and "Cases:" in text(r)
    r = client.post("/caseview/action_post", data={"csrf_token": token, "action": "drop_tables", "rowid": [str(case_id)]})
    assert r.status_code == 400 and "Action: unknown action" in text(r)
    for url in ("/incidentview/show/abc", "/incidentview/show/99999999", f"/incidentview/show/{'9' * 30}"):
        assert client.get(url).status_code == 404, url
    r = client.post("/incidentview/link", data={"csrf_token": token, "cases": str(case_id), "new": "1", "title": "  "}, follow_redirects=True)
    assert "Title: is required" in text(r) and incident_id_of(app, case_id) is None
    r = client.post("/incidentview/link", data={"csrf_token": token, "cases": str(case_id), "new": "1", "title": "t" * 201}, follow_redirects=True)
    assert "Title: is 201 characters long; the limit is 200" in text(r)
    r = client.post("/incidentview/link", data={"csrf_token": token, "cases": str(case_id), "incident": "nope"}, follow_redirects=True)
    assert "Incident: choose an open incident" in text(r)
    incident = create_from_case(client, case_id, f"Input {w}")
    r = client.post(f"/incidentview/post_note/{incident}", data={"csrf_token": token, "body": "   "}, follow_redirects=True)
    assert "Public note: a note cannot be empty" in text(r)
    r = client.post(f"/incidentview/post_note/{incident}", data={"csrf_token": token, "body": "x", "token": "forged"}, follow_redirects=True)
    assert "Confirmation: the confirmation is missing" in text(r)
    assert not [e for e in load(app, case_id)["events"] if e[0] == "public_note"]


@pytest.mark.parametrize("who", ["resident", None])
def test_residents_and_visitors_get_no_incident_screens(app, client_for, who):
    client = client_for(who)
    r = client.get("/incidentview/list/")
    assert r.status_code in (302, 403)
    if r.status_code == 302:
        assert "/login/" in r.headers["Location"]
