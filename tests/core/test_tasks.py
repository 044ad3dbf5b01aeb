"""Case tasks in the staff screens: a fallen tree on a power line, handled by three departments on one case.

Utilities owns the case (the routing rule sends power-line reports there); the
city config gives it a task for Public Works, Utilities and Code Enforcement.
Each department sees the case and works its own task, nothing else of it.
"""
from __future__ import annotations

import html
import io
import re
import uuid
from datetime import timedelta

import pytest
import sqlalchemy as sa
from PIL import Image

from tests.conftest import PASSWORD, csrf_token

TREE_ON_LINE = {"service_code": "TREE_DOWN", "attributes": {"BLOCKING": ["power", "road"]}}
METER = {"service_code": "METER", "attributes": {}}  # Utilities (UTIL)


def token() -> str:
    return uuid.uuid4().hex[:10]


def text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def report_tree_on_power_line(app, word: str = "") -> int:
    """A resident's web report, through the one case service every channel uses; returns the case id."""
    from core.extensions import db
    from core.services.cases import Actor, create_case

    with app.app_context():
        case = create_case(
            db.session, **TREE_ON_LINE, channel="web", actor=Actor(label="web"), contact_email="jo.resident@example.org",
            description=f"A tree fell on the power line across Belle Terre Pkwy, wires on the road {word}".strip(),
        )
        return case.id


def snapshot(app, case_id: int) -> dict:
    """The case, its tasks and its timeline as the database has them now."""
    from core.extensions import db
    from core.models import Attachment, Case

    with app.app_context():
        case = db.session.get(Case, case_id)
        tasks = {t.department.code: t for t in case.tasks}
        out = {
            "status": case.status, "version": case.version, "department": case.department.code, "updated_at": case.updated_at,
            "assignee": case.assignee.username if case.assignee else None, "tags": [t.name for t in case.tags],
            "created_at": case.created_at,
            "tasks": {code: {
                "id": t.id, "title": t.title, "status": t.status, "version": t.version, "due_at": t.due_at, "template": t.template,
                "assignee": t.assignee.username if t.assignee else None, "crew": t.crew.name if t.crew else None,
                "started_at": t.started_at, "completed_at": t.completed_at, "instructions": t.instructions,
            } for code, t in tasks.items()},
            "events": [(e.kind, e.actor_label, e.public, e.body, dict(e.data), e.task_id)
                       for e in sorted(case.events, key=lambda e: (e.created_at, e.id))],
            "attachments": [(a.original_name, a.task_id, a.public) for a in db.session.scalars(sa.select(Attachment).where(Attachment.case_id == case_id))],
        }
        db.session.remove()
        return out


def form_version(page: str, task_id: int) -> str:
    match = re.search(rf'action="/taskview/act/{task_id}"[^>]*>.*?name="version" value="(\d+)"', page, re.S)
    assert match, f"no form for task {task_id} on the page"
    return match.group(1)


def work_task(client, case_id: int, task_id: int, action: str, **fields):
    """Submit one of a task's forms on the case page, as the browser would (token and version from the page)."""
    page = client.get(f"/caseview/show/{case_id}")
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    data = {"csrf_token": csrf_token(body), "version": form_version(body, task_id), "action": action, **fields}
    return client.post(f"/taskview/act/{task_id}", data=data, follow_redirects=True)


def any_token(client) -> str:
    return csrf_token(client.get("/caseview/add?service=POTHOLE").get_data(as_text=True))


def photo() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (30, 140, 30)).save(out, "JPEG")
    return out.getvalue()


def staff_of(app, department: str, role: str = "Department staff") -> str:
    """A new staff member of a department; returns the username."""
    from core.extensions import db
    from core.models import Department
    from core.services.users import create_user

    username = f"{department.lower()}_{token()}"
    with app.app_context():
        dept = db.session.scalar(sa.select(Department).where(Department.code == department))
        create_user(username, PASSWORD, role, email=f"{username}@palmcoast.example.gov", departments=[dept])
    return username


def flashed(response, category: str) -> list[str]:
    page = response.get_data(as_text=True)
    return [html.unescape(m) for m in re.findall(rf'class="alert alert-{category}[^"]*"[^>]*>.*?</button>\s*(.*?)\s*</div>', page, re.S)]


# --- the story ---------------------------------------------------------------------------------


def test_tree_on_power_line_report_goes_to_utilities_with_a_task_for_each_department(app):
    case_id = report_tree_on_power_line(app)
    case = snapshot(app, case_id)
    assert case["department"] == "UTIL"
    tasks = case["tasks"]
    assert {code: t["title"] for code, t in tasks.items()} == {
        "PW": "Cut and clear the tree", "UTIL": "Make safe and restore power", "CE": "Check the property",
    }
    assert all(t["status"] == "open" and t["assignee"] is None for t in tasks.values())
    created = case["created_at"]
    assert (tasks["UTIL"]["due_at"], tasks["PW"]["due_at"], tasks["CE"]["due_at"]) == (
        created + timedelta(hours=4), created + timedelta(hours=12), created + timedelta(hours=72))
    assert tasks["PW"]["template"] == "routing:downed-lines-to-utilities#1"
    assert tasks["PW"]["instructions"].startswith("Wait until Utilities has made the line safe")
    added = [e for e in case["events"] if e[0] == "task_added"]
    assert sorted((e[4]["department"], e[5]) for e in added) == sorted((code, t["id"]) for code, t in tasks.items())
    assert all(not public for _, _, public, *_ in added), "tasks are staff business"


def test_a_fallen_tree_without_power_lines_gets_no_tasks(app):
    from core.extensions import db
    from core.services.cases import create_case

    with app.app_context():
        case = create_case(db.session, service_code="TREE_DOWN", attributes={"BLOCKING": ["road"]}, description="Large limb across the road")
        assert (case.department.code, case.tasks) == ("PW", [])


def test_public_works_opens_the_utilities_case_through_its_task(app, client_for):
    word = token()
    case_id = report_tree_on_power_line(app, word)
    tasks = snapshot(app, case_id)["tasks"]
    client = client_for("pw_staff")
    listed = text(client.get("/caseview/list/", query_string={"_flt_0_reference": word}))
    reference = snapshot_reference(app, case_id)
    assert reference in listed

    page = client.get(f"/caseview/show/{case_id}")
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    assert f'id="task-{tasks["PW"]["id"]}"' in body and f'id="task-{tasks["UTIL"]["id"]}"' in body
    assert f'action="/taskview/act/{tasks["PW"]["id"]}"' in body, "their own task has its forms"
    assert f'action="/taskview/photo/{tasks["PW"]["id"]}"' in body
    assert f'action="/taskview/act/{tasks["UTIL"]["id"]}"' not in body, "not Utilities' task"
    assert 'id="actions"' not in body and f'/caseview/edit/{case_id}' not in body, "nothing of the case itself"
    assert f"/caseview/act/{case_id}" not in body and f"/attachments/case/{case_id}" not in body
    assert f"/taskview/add_to/{case_id}" not in body


def snapshot_reference(app, case_id: int) -> str:
    from core.extensions import db
    from core.models import Case

    with app.app_context():
        return db.session.get(Case, case_id).reference


def test_public_works_works_its_task_in_progress_with_a_note_and_a_photo_then_done(app, client_for):
    case_id = report_tree_on_power_line(app)
    before = snapshot(app, case_id)
    pw_task = before["tasks"]["PW"]["id"]
    client = client_for("pw_staff")

    started = work_task(client, case_id, pw_task, "status", status="in_progress", note="Crew on the way with the bucket truck")
    assert f"Task #{pw_task} is now In progress." in text(started)
    noted = work_task(client, case_id, pw_task, "note", body="Waiting for Utilities to de-energize the line")
    assert f"Note added to task #{pw_task}." in text(noted)
    page = client.get(f"/caseview/show/{case_id}").get_data(as_text=True)
    uploaded = client.post(
        f"/taskview/photo/{pw_task}", data={"csrf_token": csrf_token(page), "file": (io.BytesIO(photo()), "cleared.jpg", "image/jpeg")},
        content_type="multipart/form-data",
    )
    assert uploaded.status_code == 302 and uploaded.headers["Location"].endswith(f"/caseview/show/{case_id}#task-{pw_task}")
    done = work_task(client, case_id, pw_task, "status", status="done", note="Tree cut, road clear")
    assert f"Task #{pw_task} is now Done." in text(done)

    after = snapshot(app, case_id)
    task = after["tasks"]["PW"]
    assert task["status"] == "done" and task["started_at"] is not None and task["completed_at"] >= task["started_at"]
    assert after["tasks"]["UTIL"]["status"] == "open"
    assert after["status"] == "new" and after["updated_at"] > before["updated_at"]
    assert after["attachments"] == [("cleared.jpg", pw_task, False)]
    mine = [(kind, actor, public, body, task_id) for kind, actor, public, body, _, task_id in after["events"] if actor == "pw_staff"]
    assert mine == [
        ("task_status_changed", "pw_staff", False, "Crew on the way with the bucket truck", pw_task),
        ("task_note", "pw_staff", False, "Waiting for Utilities to de-energize the line", pw_task),
        ("attachment_added", "pw_staff", False, "cleared.jpg", pw_task),
        ("task_status_changed", "pw_staff", False, "Tree cut, road clear", pw_task),
    ]
    statuses = [e[4] for e in after["events"] if e[0] == "task_status_changed"]
    assert [(d["old"], d["new"], d["task"]) for d in statuses] == [("open", "in_progress", pw_task), ("in_progress", "done", pw_task)]
    timeline = text(client.get(f"/caseview/show/{case_id}"))
    assert f"#{pw_task} Cut and clear the tree: In progress → Done" in timeline


def test_public_works_cannot_change_the_utilities_case_itself(app, client_for):
    case_id = report_tree_on_power_line(app)
    before = snapshot(app, case_id)
    client = client_for("pw_staff")
    token_ = any_token(client)
    version = str(before["version"])
    attempts = {
        "status": {"status": "resolved"},
        "assign": {"assignee": ""},
        "reroute": {"department": "1", "reason": "not ours"},
        "tags": {"tags": "mine"},
        "internal_note": {"body": "a note on the case"},
        "public_note": {"body": "Dear resident"},
    }
    for action, fields in attempts.items():
        r = client.post(f"/caseview/act/{case_id}", data={"csrf_token": token_, "version": version, "action": action, **fields})
        assert r.status_code == 403, action
    assert client.get(f"/caseview/edit/{case_id}").status_code == 403
    edit = client.post(f"/caseview/edit/{case_id}", data={"csrf_token": token_, "description": "changed", "expected_version": version})
    assert edit.status_code == 403
    upload = client.post(f"/attachments/case/{case_id}", data={"csrf_token": token_, "file": (io.BytesIO(photo()), "x.jpg")},
                         content_type="multipart/form-data")
    assert upload.status_code == 403
    assert snapshot(app, case_id) == before


def test_public_works_cannot_work_the_utilities_task_or_rewrite_its_own(app, client_for):
    case_id = report_tree_on_power_line(app)
    before = snapshot(app, case_id)
    util_task, pw_task = before["tasks"]["UTIL"], before["tasks"]["PW"]
    client = client_for("pw_staff")
    token_ = any_token(client)
    r = client.post(f"/taskview/act/{util_task['id']}", data={"csrf_token": token_, "version": util_task["version"], "action": "status", "status": "done"})
    assert r.status_code == 403
    r = client.post(f"/taskview/photo/{util_task['id']}", data={"csrf_token": token_, "file": (io.BytesIO(photo()), "x.jpg")},
                    content_type="multipart/form-data")
    assert r.status_code == 403
    r = client.post(f"/taskview/act/{pw_task['id']}", data={
        "csrf_token": token_, "version": pw_task["version"], "action": "edit", "title": "Nothing to do", "instructions": "", "due_at": ""})
    assert r.status_code == 403, "title, instructions, due date and department are the case owner's"
    r = client.post(f"/taskview/add_to/{case_id}", data={"csrf_token": token_, "department": "1", "title": "More work"})
    assert r.status_code == 403
    assert snapshot(app, case_id) == before


def test_staff_of_a_department_without_a_task_cannot_open_the_case(app, client_for):
    word = token()
    case_id = report_tree_on_power_line(app, word)
    tasks = snapshot(app, case_id)["tasks"]
    reference = snapshot_reference(app, case_id)
    client = client_for(staff_of(app, "PARKS"))
    assert reference not in text(client.get("/caseview/list/", query_string={"_flt_0_reference": word}))
    for url in (f"/caseview/show/{case_id}", f"/taskview/show/{tasks['PW']['id']}"):
        response = client.get(url)
        assert response.status_code == 404, url
        assert word not in text(response)
    r = client.post(f"/taskview/act/{tasks['PW']['id']}", data={"csrf_token": any_token(client), "version": "1", "action": "note", "body": "x"})
    assert r.status_code == 404
    assert reference not in text(client.get("/taskview/list/"))


def test_three_departments_handle_the_case_and_the_resident_gets_one_answer(app, client_for):
    """The story end to end: each department works its task; Utilities, who owns the case, answers the resident."""
    from core.extensions import db
    from core.models import Case, CaseEvent

    case_id = report_tree_on_power_line(app)
    tasks = snapshot(app, case_id)["tasks"]
    util, pw, ce = client_for("util_staff"), client_for("pw_staff"), client_for(staff_of(app, "CE"))

    work_task(util, case_id, tasks["UTIL"]["id"], "status", status="in_progress", note="Line de-energized, PW can cut")
    work_task(pw, case_id, tasks["PW"]["id"], "status", status="done", note="Tree cut and removed")
    work_task(ce, case_id, tasks["CE"]["id"], "status", status="done", note="Neighbour's oak was dead; notice sent")
    work_task(util, case_id, tasks["UTIL"]["id"], "status", status="done", note="Power restored")
    page = util.get(f"/caseview/show/{case_id}").get_data(as_text=True)
    version = re.search(r'name="version" value="(\d+)"', page).group(1)
    answer = "The tree was removed and power is back on. Thank you for your report."
    resolved = util.post(f"/caseview/act/{case_id}", data={
        "csrf_token": csrf_token(page), "version": version, "action": "status", "status": "resolved", "note": answer,
    }, follow_redirects=True)
    assert "Status changed to Resolved." in text(resolved)

    after = snapshot(app, case_id)
    assert after["status"] == "resolved" and {t["status"] for t in after["tasks"].values()} == {"done"}
    assert not [e for e in after["events"] if e[0] == "open_tasks_confirmed"], "nothing was left open"
    with app.app_context():
        public = db.session.scalars(sa.select(CaseEvent).where(CaseEvent.case_id == case_id, CaseEvent.public.is_(True))
                                    .order_by(CaseEvent.created_at, CaseEvent.id)).all()
        assert [(e.kind, e.body) for e in public] == [("created", ""), ("status_changed", answer)]
        assert db.session.get(Case, case_id).closed_at is not None


# --- resolving with open tasks -----------------------------------------------------------------


def test_resolving_with_open_tasks_asks_for_confirmation_and_records_it(app, client_for):
    case_id = report_tree_on_power_line(app)
    tasks = snapshot(app, case_id)["tasks"]
    client = client_for("util_staff")
    page = client.get(f"/caseview/show/{case_id}").get_data(as_text=True)
    assert 'name="confirm_open_tasks"' in page and "leaving 3 tasks open" in html.unescape(page)
    version = re.search(r'name="version" value="(\d+)"', page).group(1)
    form = {"csrf_token": csrf_token(page), "version": version, "action": "status", "status": "resolved", "note": "Done"}

    refused = client.post(f"/caseview/act/{case_id}", data=form, follow_redirects=True)
    message = text(refused)
    assert "Open tasks: 3 tasks are still open" in message
    assert f"#{tasks['PW']['id']} Cut and clear the tree (PW)" in message and "confirm to resolve the case anyway" in message
    assert snapshot(app, case_id)["status"] == "new"

    confirmed = client.post(f"/caseview/act/{case_id}", data={**form, "confirm_open_tasks": "y"}, follow_redirects=True)
    assert "Status changed to Resolved." in text(confirmed)
    after = snapshot(app, case_id)
    assert after["status"] == "resolved"
    assert {t["status"] for t in after["tasks"].values()} == {"open"}, "the tasks are left as they are"
    [record] = [e for e in after["events"] if e[0] == "open_tasks_confirmed"]
    kind, actor, public, body, data, _ = record
    assert (actor, public, data["status"]) == ("util_staff", False, "resolved")
    assert data["open_tasks"] == sorted(t["id"] for t in tasks.values())
    assert "Resolved with open tasks" in text(client.get(f"/caseview/show/{case_id}"))


def test_resolved_case_tasks_can_still_be_finished(app, client_for):
    from core.extensions import db
    from core.models import Case
    from core.services.cases import Actor, change_status

    case_id = report_tree_on_power_line(app)
    with app.app_context():
        change_status(db.session, db.session.get(Case, case_id), "resolved", Actor(label="util_staff"), confirm_open_tasks=True)
    tasks = snapshot(app, case_id)["tasks"]
    done = work_task(client_for("util_staff"), case_id, tasks["UTIL"]["id"], "status", status="done", note="Power restored")
    assert "is now Done." in text(done)
    assert snapshot(app, case_id)["tasks"]["UTIL"]["status"] == "done"


# --- adding and changing tasks -----------------------------------------------------------------


def test_utilities_adds_a_task_for_fire_rescue_and_the_case_owner_edits_it(app, client_for):
    from core.extensions import db
    from core.models import Department

    case_id = report_tree_on_power_line(app)
    with app.app_context():
        fire = db.session.scalar(sa.select(Department.id).where(Department.code == "FIRE"))
        ce = db.session.scalar(sa.select(Department.id).where(Department.code == "CE"))
    client = client_for("util_staff")
    page = client.get(f"/caseview/show/{case_id}").get_data(as_text=True)
    assert f'action="/taskview/add_to/{case_id}"' in page
    added = client.post(f"/taskview/add_to/{case_id}", data={
        "csrf_token": csrf_token(page), "department": str(fire), "title": "Stand by until the line is dead",
        "instructions": "Keep people away from the wires", "due_at": "2026-07-01T09:30",
    }, follow_redirects=True)
    assert "Task #" in text(added) and "added for Fire Rescue." in text(added)
    task = snapshot(app, case_id)["tasks"]["FIRE"]
    assert task["due_at"].isoformat() == "2026-07-01T13:30:00", "typed in Palm Coast time (EDT), stored in UTC"

    edited = work_task(client, case_id, task["id"], "edit", title="Stand by at the scene", instructions="", due_at="",
                       department=str(ce))
    assert f"Task #{task['id']} saved." in text(edited)
    after = snapshot(app, case_id)
    assert "FIRE" not in after["tasks"]
    [change] = [e for e in after["events"] if e[0] == "task_changed"]
    assert (change[1], change[5]) == ("util_staff", task["id"])
    assert change[4]["fields"] == {
        "title": ["Stand by until the line is dead", "Stand by at the scene"],
        "instructions": ["Keep people away from the wires", ""],
        "due_at": ["2026-07-01T13:30:00", None],
        "department": ["FIRE", "CE"],
    }
    assert f"#{task['id']} Stand by at the scene: Department, Due, Instructions, Title" in text(client.get(f"/caseview/show/{case_id}"))


def test_a_task_is_given_to_staff_of_its_department_or_a_crew_of_it(app, session):
    from core.models import Case, Crew, Department, User
    from core.services.cases import Actor, CaseError
    from core.services.tasks import add_task, update_task

    case = session.get(Case, report_tree_on_power_line(app))
    pw_task = next(t for t in case.tasks if t.department.code == "PW")
    pw = session.scalar(sa.select(Department).where(Department.code == "PW"))
    util = session.scalar(sa.select(Department).where(Department.code == "UTIL"))
    util_staff = session.scalar(sa.select(User).where(User.username == "util_staff"))
    crew_user = session.scalar(sa.select(User).where(User.username == "crew"))
    actor = Actor(label="dispatcher")

    with pytest.raises(CaseError) as caught:
        update_task(session, pw_task, actor, assignee=util_staff)
    assert caught.value.errors == {"assignee": ["util_staff does not work for department PW"]}
    session.rollback()
    line_crew = Crew(name=f"UTIL line crew {token()}", department=util, members=[crew_user])
    session.add(line_crew)
    session.commit()
    with pytest.raises(CaseError) as caught:
        update_task(session, pw_task, actor, crew=line_crew)
    assert list(caught.value.errors) == ["crew"] and "is not an active crew of department PW" in caught.value.errors["crew"][0]
    session.rollback()

    util_task = next(t for t in case.tasks if t.department.code == "UTIL")
    changes = update_task(session, util_task, actor, crew=line_crew, assignee=crew_user)  # a crew member, though PW staff
    assert changes == {"crew": (None, line_crew.name), "assignee": (None, "crew")}
    with pytest.raises(CaseError) as caught:
        add_task(session, case, department=pw, title="  ", actor=actor)
    assert caught.value.errors == {"title": ["is required"]}


def test_task_status_follows_its_workflow(app, session):
    from core.models import Case
    from core.services.cases import Actor, CaseError
    from core.services.tasks import change_task_status

    case = session.get(Case, report_tree_on_power_line(app))
    task = next(t for t in case.tasks if t.department.code == "CE")
    actor = Actor(label="ce")
    with pytest.raises(CaseError) as caught:
        change_task_status(session, task, "blocked", actor)
    assert caught.value.errors == {"note": ["say what blocks the task"]}
    with pytest.raises(CaseError) as caught:
        change_task_status(session, task, "finished", actor)
    assert list(caught.value.errors) == ["status"]
    change_task_status(session, task, "blocked", actor, note="The road is still closed")
    with pytest.raises(CaseError) as caught:
        change_task_status(session, task, "done", actor)
    assert caught.value.errors == {"status": ["cannot go from blocked to done; allowed: open, in_progress, cancelled"]}
    change_task_status(session, task, "in_progress", actor)
    started = task.started_at
    change_task_status(session, task, "done", actor)
    assert task.completed_at is not None
    change_task_status(session, task, "open", actor, note="The owner asked for a second look")
    change_task_status(session, task, "in_progress", actor)
    assert (task.completed_at, task.started_at) == (None, started), "reopened: not finished, first start kept"


def test_stale_task_form_is_refused_and_nothing_is_written(app, client_for):
    case_id = report_tree_on_power_line(app)
    pw_task = snapshot(app, case_id)["tasks"]["PW"]
    client = client_for("pw_staff")
    page = client.get(f"/caseview/show/{case_id}").get_data(as_text=True)
    seen = form_version(page, pw_task["id"])
    work_task(client_for("pw_staff"), case_id, pw_task["id"], "status", status="in_progress")  # a colleague first
    late = client.post(f"/taskview/act/{pw_task['id']}", data={
        "csrf_token": csrf_token(page), "version": seen, "action": "status", "status": "cancelled", "note": "not needed"},
        follow_redirects=True)
    assert f"task #{pw_task['id']} was changed by someone else" in text(late)
    assert snapshot(app, case_id)["tasks"]["PW"]["status"] == "in_progress"


def test_bad_task_input_is_named_never_a_server_error(app, client_for):
    case_id = report_tree_on_power_line(app)
    pw_task = snapshot(app, case_id)["tasks"]["PW"]
    client = client_for("util_staff")
    token_ = any_token(client)
    cases = [
        (f"/taskview/add_to/{case_id}", {"department": "abc", "title": "x"}, "Department: choose an active department"),
        (f"/taskview/add_to/{case_id}", {"department": "1", "title": "x", "due_at": "tomorrow"}, "Due: must be a date and time"),
        (f"/taskview/act/{pw_task['id']}", {"action": "assign", "version": "1", "assignee": "999999"}, "Assignee: choose a member"),
        (f"/taskview/act/{pw_task['id']}", {"action": "status", "version": "x", "status": "done"}, "Version: is required"),
        (f"/taskview/act/{pw_task['id']}", {"action": "dance", "version": "1"}, "Action: unknown action"),
        (f"/taskview/act/{pw_task['id']}", {"action": "note", "body": " "}, "Note: a note cannot be empty"),
        (f"/taskview/add_to/{case_id}", {"department": "1", "title": "x" * 201}, "Title: is 201 characters long; the limit is 200"),
    ]
    for url, fields, message in cases:
        r = client.post(url, data={"csrf_token": token_, **fields}, follow_redirects=True)
        assert r.status_code == 200, (url, fields)
        assert message in text(r), (fields, message)
    # A NUL character never reaches the task's own checks: refused first, naming the field (core.security.bad_field).
    r = client.post(f"/taskview/act/{pw_task['id']}", data={"csrf_token": token_, "action": "note", "body": "bad\x00byte"})
    assert r.status_code == 400 and "body: must not contain NUL characters" in text(r)
    for url in ("/taskview/show/abc", "/taskview/show/99999999999", f"/taskview/show/{'9' * 25}"):
        assert client.get(url).status_code == 404
    assert client.post(f"/taskview/act/{pw_task['id']}", data={"action": "note", "body": "no token"}).status_code == 400


# --- field crews, lists and crews ---------------------------------------------------------------


def test_field_crew_opens_and_works_a_task_given_to_their_crew(app, client_for):
    """The PW field crew member also rides with a Utilities crew: a UTIL case's task for that crew is theirs."""
    from core.extensions import db
    from core.models import Case, Crew, Department, User
    from core.services.cases import Actor, create_case
    from core.services.tasks import add_task

    with app.app_context():
        util = db.session.scalar(sa.select(Department).where(Department.code == "UTIL"))
        member = db.session.scalar(sa.select(User).where(User.username == "crew"))
        crew = Crew(name=f"UTIL meter crew {token()}", department=util, members=[member])
        db.session.add(crew)
        case = create_case(db.session, **METER, description="Meter box lid broken")
        task = add_task(db.session, case, department=util, title="Replace the lid", crew=crew, actor=Actor(label="dispatcher"))
        case_id, task_id = case.id, task.id
        other = create_case(db.session, **METER, description="Another meter")
        other_id = other.id
        db.session.remove()
    client = client_for("crew")
    assert client.get(f"/caseview/show/{case_id}").status_code == 200
    assert client.get(f"/caseview/show/{other_id}").status_code == 404
    done = work_task(client, case_id, task_id, "status", status="done", note="New lid fitted")
    assert "is now Done." in text(done)
    page = client.get(f"/caseview/show/{case_id}").get_data(as_text=True)
    r = client.post(f"/caseview/act/{case_id}", data={"csrf_token": csrf_token(page), "version": "1", "action": "internal_note", "body": "x"})
    assert r.status_code == 403
    with app.app_context():
        assert db.session.get(Case, case_id).tasks[0].status == "done"


def test_task_list_shows_the_tasks_of_cases_the_user_can_open(app, client_for):
    word = token()
    case_id = report_tree_on_power_line(app, word)
    tasks = snapshot(app, case_id)["tasks"]
    reference = snapshot_reference(app, case_id)
    assert 'href="/taskview/list/"' in client_for("pw_staff").get("/caseview/list/").get_data(as_text=True), "Cases › Tasks"
    page = client_for("pw_staff").get("/taskview/list/", query_string={"_flt_0_title": "Cut and clear the tree", "psize_TaskView": "100"})
    assert page.status_code == 200
    assert reference in text(page)
    show = client_for("pw_staff").get(f"/taskview/show/{tasks['PW']['id']}")
    assert show.status_code == 302 and show.headers["Location"].endswith(f"/caseview/show/{case_id}#task-{tasks['PW']['id']}")
    filtered = client_for("dispatcher").get("/taskview/list/", query_string={"_flt_0_status": "open", "psize_TaskView": "100",
                                                                           "_oc_TaskView": "updated_at", "_od_TaskView": "desc"})
    assert filtered.status_code == 200 and reference in text(filtered)
    assert client_for("pw_staff").get("/taskview/list/", query_string={"_oc_TaskView": "nope"}).status_code == 400
    assert client_for("resident").get("/taskview/list/").status_code in (302, 403)


def test_admin_keeps_crews_and_dispatchers_read_them(app, client_for):
    from core.extensions import db
    from core.models import Crew, Department, User

    with app.app_context():
        pw = db.session.scalar(sa.select(Department.id).where(Department.code == "PW"))
        crew_user = db.session.scalar(sa.select(User.id).where(User.username == "crew"))
    name = f"PW Tree crew {token()}"
    admin = client_for("admin")
    form = admin.get("/crewview/add")
    assert form.status_code == 200
    saved = admin.post("/crewview/add", data={"csrf_token": csrf_token(form.get_data(as_text=True)), "name": name,
                                              "department": str(pw), "members": [str(crew_user)], "active": "y"})
    assert saved.status_code == 302
    with app.app_context():
        crew = db.session.scalar(sa.select(Crew).where(Crew.name == name))
        assert crew.department.code == "PW" and [u.username for u in crew.members] == ["crew"]
    assert name in text(client_for("dispatcher").get("/crewview/list/", query_string={"psize_CrewView": "100"}))
    assert client_for("dispatcher").get("/crewview/add").status_code in (302, 403)
    assert client_for("pw_staff").get("/crewview/list/").status_code in (302, 403)
    assert admin.post(f"/crewview/delete/{crew.id}", data={"csrf_token": csrf_token(form.get_data(as_text=True))}).status_code in (302, 403, 404)
    with app.app_context():
        assert db.session.scalar(sa.select(Crew).where(Crew.name == name)) is not None, "crews are deactivated, never deleted"


def test_dashboard_counts_only_each_departments_own_cases(app, client_for):
    """Public Works opens the Utilities case through its task, but the case stays in Utilities' numbers."""
    from core.extensions import db
    from core.models import Department

    report_tree_on_power_line(app)
    with app.app_context():
        util = db.session.scalar(sa.select(Department.id).where(Department.code == "UTIL"))
    assert f'data-department="{util}"' not in client_for("pw_staff").get("/dashboard/").get_data(as_text=True)
    assert f'data-department="{util}"' in client_for("util_staff").get("/dashboard/").get_data(as_text=True)
