"""Two people work the same case at the same time: the first save wins, the second is refused and told so,
and what they typed is not lost.  Never a silent overwrite, through the screens or the REST API."""
from __future__ import annotations

import html
import re

from tests.conftest import csrf_token
from tests.core.test_case_screens import act, edit_form, load, make_case, page_version, text
from tests.core.test_tasks import form_version, report_tree_on_power_line, snapshot, work_task

CASES = "/api/v1/case/"
TASKS = "/api/v1/task/"


def form_text(page: str, name: str) -> str:
    """The text of a textarea as the page shows it."""
    match = re.search(rf'<textarea[^>]*name="{name}"[^>]*>(.*?)</textarea>', page, re.S)
    assert match, f"no {name} field on the page"
    return html.unescape(match.group(1)).strip()


def hidden_value(page: str, name: str) -> str:
    match = re.search(rf'<input[^>]*name="{name}"[^>]*value="([^"]*)"', page) or re.search(
        rf'<input[^>]*value="([^"]*)"[^>]*name="{name}"', page)
    assert match, f"no {name} field on the page"
    return match.group(1)


def test_two_staff_edit_the_same_case_the_second_is_refused_and_keeps_what_they_typed(app, client_for):
    case_id, _ = make_case(app, description="Pothole by the school")
    maria, dan = client_for("pw_staff"), client_for("dispatcher")
    marias_form, dans_form = edit_form(maria, case_id), edit_form(dan, case_id)

    marias_form.update(description="Pothole by the school, two feet wide", priority="high")
    assert maria.post(f"/caseview/edit/{case_id}", data=marias_form).status_code == 302
    saved = load(app, case_id)

    dans_form.update(description="Caller says a car lost a tyre in it", priority="urgent")
    refused = dan.post(f"/caseview/edit/{case_id}", data=dans_form)
    page = refused.get_data(as_text=True)
    assert refused.status_code == 409
    assert "changed by someone else" in text(refused) and "Nothing was saved" in text(refused)
    assert form_text(page, "description") == "Caller says a car lost a tyre in it", "Dan's text is still in the form"
    assert "Pothole by the school, two feet wide" in text(refused), "Maria's saved text is shown beside it"
    assert load(app, case_id) == saved, "nothing of Dan's was written"

    # Dan has compared both; saving the form he got back is his informed choice, and it is recorded as his.
    dans_form.update(csrf_token=csrf_token(page), expected_version=hidden_value(page, "expected_version"))
    assert dan.post(f"/caseview/edit/{case_id}", data=dans_form).status_code == 302
    after = load(app, case_id)
    assert (after["description"], after["priority"]) == ("Caller says a car lost a tyre in it", "urgent")
    updates = [(actor, data["fields"]["description"]) for kind, actor, _, _, data in after["events"] if kind == "updated"]
    assert updates == [
        ("pw_staff", ["Pothole by the school", "Pothole by the school, two feet wide"]),
        ("dispatcher", ["Pothole by the school, two feet wide", "Caller says a car lost a tyre in it"]),
    ]


def test_an_edit_form_without_its_version_is_refused_naming_the_field(app, client_for):
    case_id, _ = make_case(app, description="Sign knocked over")
    client = client_for("pw_staff")
    form = edit_form(client, case_id)
    form.update(expected_version="", description="Sign is back up")
    refused = client.post(f"/caseview/edit/{case_id}", data=form)
    assert refused.status_code == 409 and "Version" in text(refused)
    assert form_text(refused.get_data(as_text=True), "description") == "Sign is back up"
    assert load(app, case_id)["description"] == "Sign knocked over"


def test_two_staff_change_the_status_the_second_is_refused_and_sees_their_note_again(app, client_for):
    case_id, _ = make_case(app)
    maria, dan = client_for("pw_staff"), client_for("dispatcher")
    dans_version = page_version(dan.get(f"/caseview/show/{case_id}").get_data(as_text=True))

    assert "Status changed to In progress." in text(act(maria, case_id, "status", status="in_progress"))
    refused = text(act(dan, case_id, "status", version=dans_version, status="on_hold", note="Waiting for the gas company"))
    assert "changed by someone else" in refused and "Nothing was saved" in refused
    assert "Waiting for the gas company" in refused, "the note Dan typed is shown back"
    after = load(app, case_id)
    assert after["status"] == "in_progress"
    assert "Waiting for the gas company" not in [e[3] for e in after["events"]]


def test_notes_are_additions_and_never_conflict(app, client_for):
    case_id, _ = make_case(app)
    maria, dan = client_for("pw_staff"), client_for("dispatcher")
    dans_version = page_version(dan.get(f"/caseview/show/{case_id}").get_data(as_text=True))
    act(maria, case_id, "status", status="acknowledged")
    added = text(act(dan, case_id, "internal_note", version=dans_version, body="Resident called again"))
    assert "changed by someone else" not in added
    assert "Resident called again" in [e[3] for e in load(app, case_id)["events"]]


def test_two_staff_work_the_same_task_the_second_is_refused_and_sees_their_note_again(app, client_for):
    case_id = report_tree_on_power_line(app)
    task_id = snapshot(app, case_id)["tasks"]["PW"]["id"]
    maria, dan = client_for("pw_staff"), client_for("dispatcher")
    dans_page = dan.get(f"/caseview/show/{case_id}").get_data(as_text=True)

    work_task(maria, case_id, task_id, "status", status="in_progress")
    refused = dan.post(f"/taskview/act/{task_id}", data={
        "csrf_token": csrf_token(dans_page), "version": form_version(dans_page, task_id), "action": "status",
        "status": "cancelled", "note": "Utilities will clear it instead"}, follow_redirects=True)
    assert f"task #{task_id} was changed by someone else" in text(refused)
    assert "Utilities will clear it instead" in text(refused)
    assert snapshot(app, case_id)["tasks"]["PW"]["status"] == "in_progress"


def test_two_api_clients_change_the_same_case_the_second_gets_409_naming_version(app, api):
    case_id, _ = make_case(app, description="Water bubbling from the street")
    maria, dan = api("pw_staff"), api("dispatcher")
    seen = dan.get(f"{CASES}{case_id}").json["result"]["version"]
    assert maria.get(f"{CASES}{case_id}").json["result"]["version"] == seen

    first = maria.put(f"{CASES}{case_id}", json={"version": seen, "priority": "high", "description": "Leak, getting worse"})
    assert first.status_code == 200
    late = dan.put(f"{CASES}{case_id}", json={"version": seen, "status": "on_hold"})
    assert late.status_code == 409
    assert "version" in late.json["message"] and "changed by someone else" in late.json["message"]
    stored = dan.get(f"{CASES}{case_id}").json["result"]
    assert (stored["status"], stored["priority"], stored["description"]) == ("new", "high", "Leak, getting worse")


def test_two_api_clients_change_the_same_task_the_second_gets_409(app, api):
    case_id = report_tree_on_power_line(app)
    task = snapshot(app, case_id)["tasks"]["PW"]
    maria, dan = api("pw_staff"), api("dispatcher")
    first = maria.put(f"{TASKS}{task['id']}", json={"version": task["version"], "status": "in_progress"})
    assert first.status_code == 200, first.get_data(as_text=True)
    late = dan.put(f"{TASKS}{task['id']}", json={"version": task["version"], "status": "cancelled"})
    assert late.status_code == 409 and "version" in late.json["message"]
    assert snapshot(app, case_id)["tasks"]["PW"]["status"] == "in_progress"
