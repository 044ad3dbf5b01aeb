"""``/api/v1/task/`` and the case API's task rules, as the departments' systems use them (JWT)."""
from __future__ import annotations

import io
import uuid

import prison
import pytest
import sqlalchemy as sa
from PIL import Image

TASKS = "/api/v1/task/"
CASES = "/api/v1/case/"
TREE_ON_LINE = {"service_code": "TREE_DOWN", "attributes": {"BLOCKING": ["power"]}, "channel": "phone"}


@pytest.fixture(scope="module")
def parks_staff(app):
    """Staff of a department that holds no task on the tree case."""
    from core.extensions import db
    from core.models import Department
    from core.services.users import create_user
    from tests.conftest import PASSWORD

    username = f"parks_{uuid.uuid4().hex[:8]}"
    with app.app_context():
        parks = db.session.scalar(sa.select(Department).where(Department.code == "PARKS"))
        create_user(username, PASSWORD, "Department staff", departments=[parks])
    return username


def tree_case(api) -> tuple[dict, dict[str, dict]]:
    """A phoned-in tree on a power line (by the dispatcher) and its tasks by department."""
    r = api("dispatcher").post(CASES, json={**TREE_ON_LINE, "description": f"Tree on the power line {uuid.uuid4().hex[:6]}"})
    assert r.status_code == 201, r.get_data(as_text=True)
    case = r.json["result"]
    q = prison.dumps({"filters": [{"col": "case", "opr": "rel_o_m", "value": case["id"]}]})
    listed = api("dispatcher").get(f"{TASKS}?q={q}")
    assert listed.status_code == 200, listed.get_data(as_text=True)
    return case, {t["department"]["code"]: t for t in listed.json["result"]}


def events(api, case_id: int) -> list[dict]:
    return api("dispatcher").get(f"{CASES}{case_id}/events").json["result"]


def jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 200, 0)).save(out, "JPEG")
    return out.getvalue()


# -- reading --------------------------------------------------------------------------------------


def test_tasks_of_a_case_come_with_it_whatever_the_channel(api):
    case, tasks = tree_case(api)
    assert case["department"]["code"] == "UTIL"
    assert sorted(tasks) == ["CE", "PW", "UTIL"]
    pw = tasks["PW"]
    assert (pw["title"], pw["status"], pw["case"]["reference"], pw["version"]) == ("Cut and clear the tree", "open", case["reference"], 1)
    assert pw["template"] == "routing:downed-lines-to-utilities#1" and pw["due_at"]


def test_public_works_reads_its_task_and_the_case_it_is_on(api, parks_staff):
    case, tasks = tree_case(api)
    pw = api("pw_staff")
    assert pw.get(f"{TASKS}{tasks['PW']['id']}").status_code == 200
    assert pw.get(f"{TASKS}{tasks['UTIL']['id']}").status_code == 200, "the case is open to them: all its tasks are readable"
    assert pw.get(f"{CASES}{case['id']}").status_code == 200
    assert pw.get(f"{CASES}{case['id']}/events").status_code == 200

    parks = api(parks_staff)
    assert parks.get(f"{TASKS}{tasks['PW']['id']}").status_code == 404
    assert parks.get(f"{CASES}{case['id']}").status_code == 404
    listed = parks.get(f"{TASKS}?q={prison.dumps({'page_size': 100})}").json
    assert tasks["PW"]["id"] not in listed["ids"]
    cases = parks.get(f"{CASES}?q={prison.dumps({'page_size': 100})}").json
    assert case["id"] not in cases["ids"]


def test_task_lists_filter_and_refuse_bad_filters(api):
    case, tasks = tree_case(api)
    q = prison.dumps({"filters": [{"col": "case", "opr": "rel_o_m", "value": case["id"]}, {"col": "status", "opr": "eq", "value": "open"}]})
    assert sorted(api("pw_staff").get(f"{TASKS}?q={q}").json["ids"]) == sorted(t["id"] for t in tasks.values())
    bad = api("pw_staff").get(f"{TASKS}?q={prison.dumps({'filters': [{'col': 'case', 'opr': 'rel_o_m', 'value': 'x'}]})}")
    assert bad.status_code == 400 and "filters[0].value" in bad.json["message"]
    assert api("resident").get(TASKS).status_code == 403
    assert api(None).get(TASKS).status_code == 401


# -- working a task -------------------------------------------------------------------------------


def test_public_works_works_its_task_through_the_api(api):
    case, tasks = tree_case(api)
    pw, task = api("pw_staff"), tasks["PW"]
    url = f"{TASKS}{task['id']}"
    r = pw.put(url, json={"version": task["version"], "status": "in_progress", "note": "Crew dispatched"})
    assert r.status_code == 200, r.get_data(as_text=True)
    result = r.json["result"]
    assert (result["status"], result["version"]) == ("in_progress", task["version"] + 1) and result["started_at"]
    note = pw.post(f"{url}/note", json={"body": "Line is dead, cutting now"})
    assert note.status_code == 201
    photo = pw.post(f"{url}/photo", data={"file": (io.BytesIO(jpeg()), "cut.jpg", "image/jpeg")}, content_type="multipart/form-data")
    assert photo.status_code == 201, photo.get_data(as_text=True)
    assert photo.json["name"] == "cut.jpg" and photo.json["content_type"] == "image/jpeg"
    done = pw.put(url, json={"version": result["version"], "status": "done"})
    assert done.status_code == 200 and done.json["result"]["completed_at"]

    mine = [(e["kind"], e["body"], e["data"].get("task")) for e in events(api, case["id"]) if e["actor_label"] == "pw_staff"]
    assert mine == [
        ("task_status_changed", "Crew dispatched", task["id"]),
        ("task_note", "Line is dead, cutting now", task["id"]),
        ("attachment_added", "cut.jpg", task["id"]),
        ("task_status_changed", "", task["id"]),
    ]


def test_public_works_may_not_change_what_belongs_to_the_case_owner(api):
    case, tasks = tree_case(api)
    pw = api("pw_staff")
    task = tasks["PW"]
    r = pw.put(f"{TASKS}{task['id']}", json={"version": task["version"], "title": "Nothing to do", "due_at": None})
    assert r.status_code == 403
    assert r.json["message"] == {"due_at": ["only the case's department changes this"], "title": ["only the case's department changes this"]}
    assert pw.put(f"{TASKS}{tasks['UTIL']['id']}", json={"version": 1, "status": "done"}).status_code == 403
    assert pw.post(f"{TASKS}{tasks['UTIL']['id']}/note", json={"body": "x"}).status_code == 403
    assert pw.post(TASKS, json={"case_id": case["id"], "department": "PW", "title": "More"}).status_code == 403
    for body in ({"version": case["version"], "status": "resolved", "confirm_open_tasks": True}, {"version": case["version"], "priority": "low"},
                 {"version": case["version"], "tags": ["mine"]}, {"version": case["version"], "assignee": "pw_staff"}):
        assert pw.put(f"{CASES}{case['id']}", json=body).status_code == 403, body
    stored = api("dispatcher").get(f"{CASES}{case['id']}").json["result"]
    assert (stored["status"], stored["version"]) == ("new", case["version"])
    assert api("dispatcher").get(f"{TASKS}{task['id']}").json["result"]["version"] == task["version"]


def test_bad_task_changes_are_named_and_stale_ones_get_409(api):
    case, tasks = tree_case(api)
    util, task = api("util_staff"), tasks["UTIL"]
    url = f"{TASKS}{task['id']}"
    checks = [
        ({"status": "done"}, {"version": ["is required: send the version of the task you edited"]}),
        ({"version": 1, "status": "finished"}, "status"),
        ({"version": 1, "status": "blocked"}, {"note": ["say what blocks the task"]}),
        ({"version": 1, "assignee": "pw_staff"}, {"assignee": ["pw_staff does not work for department UTIL"]}),
        ({"version": 1, "assignee": "nobody-here"}, {"assignee": ["no active staff user 'nobody-here'"]}),
        ({"version": 1, "crew": "No such crew"}, {"crew": ["unknown crew 'No such crew'"]}),
        ({"version": 1, "department": "ROADS"}, {"department": ["unknown department 'ROADS'"]}),
        ({"version": 1, "due_at": "soon"}, "due_at"),
        ({"version": 1, "title": ""}, "title"),
    ]
    for body, expected in checks:
        r = util.put(url, json=body)
        assert r.status_code == 400, (body, r.get_data(as_text=True))
        if isinstance(expected, dict):
            assert r.json["message"] == expected, body
        else:
            assert list(r.json["message"]) == [expected], body
    assert util.put(url, data="not json", content_type="text/plain").status_code == 400
    ok = util.put(url, json={"version": 1, "status": "in_progress", "assignee": "util_staff"})
    assert ok.status_code == 200
    stale = util.put(url, json={"version": 1, "status": "cancelled"})
    assert stale.status_code == 409 and f"task #{task['id']} was changed by someone else" in stale.json["message"]
    assert api("dispatcher").get(url).json["result"]["status"] == "in_progress"
    assert util.put(f"{TASKS}99999999999", json={"version": 1}).status_code == 404
    assert util.delete(url).status_code in (404, 405), "tasks are cancelled, never deleted"


# -- adding tasks and resolving the case ----------------------------------------------------------


def test_case_owner_adds_a_task_and_the_timeline_records_it(api):
    case, _ = tree_case(api)
    util = api("util_staff")
    r = util.post(TASKS, json={"case_id": case["id"], "department": "FIRE", "title": "Stand by at the scene",
                               "due_at": "2026-07-01T09:30:00-04:00", "instructions": "Keep people away"})
    assert r.status_code == 201, r.get_data(as_text=True)
    task = r.json["result"]
    assert (task["department"]["code"], task["due_at"], task["status"]) == ("FIRE", "2026-07-01T13:30:00", "open")
    added = [e for e in events(api, case["id"]) if e["kind"] == "task_added" and e["data"]["task"] == task["id"]]
    assert [(e["actor_label"], e["public"], e["data"]["department"]) for e in added] == [("util_staff", False, "FIRE")]

    for body, field in (({"department": "FIRE", "title": "x"}, "case_id"), ({"case_id": case["id"], "title": "x"}, "department"),
                        ({"case_id": case["id"], "department": "FIRE"}, "title"),
                        ({"case_id": case["id"], "department": "NOPE", "title": "x"}, "department"),
                        ({"case_id": 999999999, "department": "FIRE", "title": "x"}, "case_id"),
                        ({"case_id": case["id"], "department": "FIRE", "title": "x", "assignee": "pw_staff"}, "assignee")):
        bad = util.post(TASKS, json=body)
        assert bad.status_code == 400 and field in bad.json["message"], (body, bad.get_data(as_text=True))


def test_resolving_through_the_api_needs_an_explicit_confirmation_of_open_tasks(api):
    case, tasks = tree_case(api)
    util = api("util_staff")
    url = f"{CASES}{case['id']}"
    refused = util.put(url, json={"version": case["version"], "status": "resolved", "priority": "high"})
    assert refused.status_code == 400
    [message] = refused.json["message"]["confirm_open_tasks"]
    assert message.startswith("3 tasks are still open (") and f"#{tasks['UTIL']['id']} Make safe and restore power (UTIL)" in message
    stored = api("dispatcher").get(url).json["result"]
    assert (stored["status"], stored["priority"], stored["version"]) == ("new", case["priority"], case["version"]), "nothing written"

    ok = util.put(url, json={"version": case["version"], "status": "resolved", "confirm_open_tasks": True})
    assert ok.status_code == 200 and ok.json["result"]["status"] == "resolved"
    [record] = [e for e in events(api, case["id"]) if e["kind"] == "open_tasks_confirmed"]
    assert record["data"] == {"open_tasks": sorted(t["id"] for t in tasks.values()), "status": "resolved"} and not record["public"]


def test_openapi_document_describes_the_task_api(api):
    spec = api("admin").get("/api/v1/_openapi").json
    paths = spec["paths"]
    assert set(paths["/api/v1/task/"]) == {"get", "post"}
    assert set(paths["/api/v1/task/{pk}"]) == {"get", "put"}
    assert "post" in paths["/api/v1/task/{pk}/note"] and "post" in paths["/api/v1/task/{pk}/photo"]
    schemas = spec["components"]["schemas"]
    assert "version" in schemas["TaskApi.put"]["required"]
    assert {"case_id", "department", "title"} <= set(schemas["TaskApi.post"]["required"])
    assert "confirm_open_tasks" in schemas["CaseApi.put"]["properties"]
    info = api("util_staff").get(f"{TASKS}_info")
    assert info.status_code == 200
    assert {"case_id", "department", "title", "due_at"} <= {f["name"] for f in info.json["add_columns"]}
