"""The REST API for cases and the catalog, as staff (and residents) use it: JWT, scoping, field messages."""
from __future__ import annotations

import re
import uuid

import prison
import pytest

CASES = "/api/v1/case/"
# Valid answers to the demo catalog's required questions.
REQUIRED_ATTRIBUTES = {"POTHOLE": {"SIZE": "medium"}, "WATER_LEAK": {"WHERE": "street"}}


def unique(prefix: str = "") -> str:
    return f"{prefix}{uuid.uuid4().hex[:8]}"


def new_case(api, service_code="POTHOLE", **fields):
    """A case reported through the API by the dispatcher."""
    body = {"service_code": service_code, "description": unique("report "), "channel": "phone", **fields}
    body.setdefault("attributes", REQUIRED_ATTRIBUTES.get(service_code, {}))
    r = api("dispatcher").post(CASES, json=body)
    assert r.status_code == 201, r.get_data(as_text=True)
    return r.json["result"]


def service_id(api, code: str) -> int:
    q = prison.dumps({"filters": [{"col": "code", "opr": "eq", "value": code}]})
    return api("dispatcher").get(f"/api/v1/service/?q={q}").json["ids"][0]


def listing(caller, **rison):
    r = caller.get(f"{CASES}?q={prison.dumps(rison)}")
    assert r.status_code == 200, r.get_data(as_text=True)
    return r.json


# -- scoping -------------------------------------------------------------------------------------


def test_department_staff_lists_only_their_departments_cases(api):
    pothole = new_case(api, "POTHOLE")
    leak = new_case(api, "WATER_LEAK")
    assert (pothole["department"]["code"], leak["department"]["code"]) == ("PW", "UTIL")

    pw = api("pw_staff")
    mine = listing(pw, page_size=100)
    assert mine["result"], "the PW clerk sees their own department's cases"
    assert {c["department"]["code"] for c in mine["result"]} == {"PW"}
    assert pothole["id"] in listing(pw, filters=[{"col": "service_type", "opr": "rel_o_m", "value": service_id(api, "POTHOLE")}])["ids"]
    leaks = listing(pw, filters=[{"col": "service_type", "opr": "rel_o_m", "value": service_id(api, "WATER_LEAK")}])
    assert leaks["count"] == 0 and leaks["result"] == []


def test_department_staff_cannot_open_or_change_other_departments_case(api):
    leak = new_case(api, "WATER_LEAK")
    pw = api("pw_staff")
    url = f"{CASES}{leak['id']}"
    assert pw.get(url).status_code == 404
    assert pw.get(f"{url}/events").status_code == 404
    r = pw.put(url, json={"version": leak["version"], "priority": "urgent"})
    assert r.status_code == 404
    stored = api("dispatcher").get(url).json["result"]
    assert (stored["priority"], stored["version"]) == (leak["priority"], leak["version"])
    assert api("util_staff").get(url).status_code == 200


def test_dispatcher_sees_every_departments_cases(api):
    pothole, leak = new_case(api, "POTHOLE"), new_case(api, "WATER_LEAK")
    dispatcher = api("dispatcher")
    for case in (pothole, leak):
        assert dispatcher.get(f"{CASES}{case['id']}").json["result"]["reference"] == case["reference"]
    departments = {c["department"]["code"] for c in listing(dispatcher, page_size=100)["result"]}
    assert {"PW", "UTIL"} <= departments


def test_field_crew_reads_cases_but_cannot_create_or_change_them(api):
    pothole = new_case(api, "POTHOLE")
    crew = api("crew")
    assert crew.get(f"{CASES}{pothole['id']}").status_code == 200
    assert crew.post(CASES, json={"service_code": "POTHOLE", "attributes": {"SIZE": "small"}}).status_code == 403
    assert crew.put(f"{CASES}{pothole['id']}", json={"version": 1, "priority": "high"}).status_code == 403


def test_resident_is_refused_on_every_api_call(api):
    case = new_case(api, "POTHOLE")
    resident = api("resident")
    calls = [
        resident.get(CASES),
        resident.get(f"{CASES}{case['id']}"),
        resident.get(f"{CASES}{case['id']}/events"),
        resident.get(f"{CASES}_info"),
        resident.post(CASES, json={"service_code": "POTHOLE"}),
        resident.put(f"{CASES}{case['id']}", json={"version": case["version"], "priority": "low"}),
        resident.get("/api/v1/service/"),
        resident.get("/api/v1/department/"),
        resident.post("/api/v1/department/", json={"code": unique("R"), "name": "Residents' own"}),
    ]
    assert [r.status_code for r in calls] == [403] * len(calls)


def test_api_wants_a_token_not_a_browser_session(api, client_for):
    assert api(None).get(CASES).status_code == 401
    signed_in = client_for("dispatcher")  # a cookie session from the staff screens
    assert signed_in.get(CASES).status_code == 401
    # A cookie session's POST is refused before the API sees it: no X-CSRFToken header (docs/security.md).
    assert signed_in.post(CASES, json={"service_code": "POTHOLE"}).status_code == 400


# -- creating ------------------------------------------------------------------------------------


def test_dispatcher_logs_a_phone_call_and_gets_a_numbered_routed_case(api):
    r = api("dispatcher").post(
        CASES,
        json={
            "service_code": "POTHOLE",
            "description": "Deep hole by the school bus stop",
            "channel": "phone",
            "priority": "high",
            "address": "1 Palm Coast Pkwy",
            "lat": 29.58,
            "long": -81.21,
            "attributes": {"SIZE": "large", "LANE": "yes"},
            "contact_name": "Ana Ruiz",
            "contact_email": "ana@example.org",
            "tags": ["School Zone"],
        },
    )
    assert r.status_code == 201, r.json
    case = r.json["result"]
    assert r.json["id"] == case["id"]
    assert re.fullmatch(r"PC-\d{4}-\d{6}", case["reference"])
    assert case["department"] == {"code": "PW"}
    assert case["service_type"] == {"code": "POTHOLE", "name": "Pothole"}
    assert (case["status"], case["status_label"], case["channel"], case["version"]) == ("new", "New", "phone", 1)
    assert case["expected_at"] and case["attributes"] == {"SIZE": "large", "LANE": "yes"}
    assert case["tags"] == [{"name": "school-zone"}]
    assert case["contact_email"] == "ana@example.org"
    events = api("dispatcher").get(f"{CASES}{case['id']}/events").json["result"]
    assert [e["kind"] for e in events] == ["created", "routed"]
    assert events[0]["actor_label"] == "dispatcher"


def test_create_with_bad_attributes_names_the_attribute(api):
    dispatcher = api("dispatcher")
    r = dispatcher.post(CASES, json={"service_code": "POTHOLE", "attributes": {"SIZE": "gigantic"}})
    assert r.status_code == 400
    assert "attribute[SIZE]" in r.json["message"]
    r = dispatcher.post(CASES, json={"service_code": "POTHOLE", "attributes": {}})
    assert r.status_code == 400 and "attribute[SIZE]" in r.json["message"]


def test_create_with_unknown_service_names_service_code(api):
    r = api("dispatcher").post(CASES, json={"service_code": "NO_SUCH_THING", "description": "x"})
    assert r.status_code == 400
    assert "NO_SUCH_THING" in r.json["message"]["service_code"][0]
    r = api("dispatcher").post(CASES, json={"description": "no service at all"})
    assert r.status_code == 400 and "service_code" in r.json["message"]


def test_create_with_wrong_types_gets_field_messages(api):
    dispatcher = api("dispatcher")
    r = dispatcher.post(
        CASES,
        json={"service_code": "POTHOLE", "lat": "north", "long": [1], "tags": "storm", "attributes": ["SIZE"], "zipcode": "3" * 20, "contact_email": "not-an-email"},
    )
    assert r.status_code == 400
    assert {"lat", "long", "tags", "attributes", "zipcode", "contact_email"} <= set(r.json["message"])
    r = dispatcher.post(CASES, json={"service_code": "POTHOLE", "attributes": {"SIZE": "small"}, "lat": 95, "long": -81})
    assert r.status_code == 400 and "lat" in r.json["message"]
    r = dispatcher.post(CASES, json={"service_code": "POTHOLE", "colour": "red"})
    assert r.status_code == 400 and "colour" in r.json["message"]


def test_malformed_json_is_a_400_not_a_500(api):
    dispatcher = api("dispatcher")
    r = dispatcher.post(CASES, data="{not json", content_type="application/json")
    assert r.status_code == 400 and "_schema" in r.json["message"]
    r = dispatcher.post(CASES, json=["POTHOLE"])
    assert r.status_code == 400
    r = dispatcher.post(CASES, data="service_code=POTHOLE", content_type="application/x-www-form-urlencoded")
    assert r.status_code == 400
    r = dispatcher.post(CASES, json={"service_code": "POTHOLE", "attributes": {"SIZE": "small"}, "description": "pot\x00hole"})
    assert r.status_code == 400 and "description" in r.json["message"]  # PostgreSQL cannot store NUL


# -- changing ------------------------------------------------------------------------------------


def test_staff_edit_is_recorded_on_the_timeline(api):
    case = new_case(api, "POTHOLE")
    pw = api("pw_staff")
    r = pw.put(f"{CASES}{case['id']}", json={"version": case["version"], "description": "Now two holes", "priority": "urgent", "tags": ["flood"]})
    assert r.status_code == 200, r.json
    changed = r.json["result"]
    assert (changed["description"], changed["priority"], changed["tags"]) == ("Now two holes", "urgent", [{"name": "flood"}])
    assert changed["version"] > case["version"]
    events = pw.get(f"{CASES}{case['id']}/events").json["result"]
    updated = [e for e in events if e["kind"] == "updated"]
    assert updated and updated[-1]["data"]["fields"]["priority"] == ["normal", "urgent"]
    assert updated[-1]["actor_label"] == "pw_staff"
    assert any(e["kind"] == "tagged" for e in events)


def test_status_and_assignee_follow_the_workflow(api):
    case = new_case(api, "POTHOLE")
    pw = api("pw_staff")
    url = f"{CASES}{case['id']}"
    r = pw.put(url, json={"version": case["version"], "status": "in_progress", "assignee": "crew"})
    assert r.status_code == 200, r.json
    assert (r.json["result"]["status"], r.json["result"]["assignee"]) == ("in_progress", {"username": "crew"})
    kinds = [e["kind"] for e in pw.get(f"{url}/events").json["result"]]
    assert "status_changed" in kinds and "assigned" in kinds
    r = pw.put(url, json={"version": r.json["result"]["version"], "status": "closed"})
    assert r.status_code == 200 and r.json["result"]["closed_at"]


def test_invalid_status_transition_is_refused_and_nothing_changes(api):
    case = new_case(api, "POTHOLE")
    pw = api("pw_staff")
    url = f"{CASES}{case['id']}"
    r = pw.put(url, json={"version": case["version"], "status": "reopened", "priority": "urgent"})
    assert r.status_code == 400
    assert "status" in r.json["message"]
    stored = pw.get(url).json["result"]
    assert (stored["status"], stored["priority"], stored["version"]) == ("new", "normal", case["version"])
    r = pw.put(url, json={"version": case["version"], "status": "finished"})
    assert r.status_code == 400 and "status" in r.json["message"]


def test_stale_edit_gets_409_and_the_stored_case_is_unchanged(api):
    case = new_case(api, "POTHOLE")
    url = f"{CASES}{case['id']}"
    first = api("pw_staff").put(url, json={"version": case["version"], "description": "first editor wins"})
    assert first.status_code == 200
    late = api("dispatcher").put(url, json={"version": case["version"], "description": "second editor", "status": "closed"})
    assert late.status_code == 409
    assert case["reference"] in late.json["message"] and "version" in late.json["message"]
    stored = api("dispatcher").get(url).json["result"]
    assert (stored["description"], stored["status"]) == ("first editor wins", "new")
    assert stored["version"] == first.json["result"]["version"]
    events = api("dispatcher").get(f"{url}/events").json["result"]
    assert [e["kind"] for e in events].count("updated") == 1


def test_edit_without_version_is_refused_naming_version(api):
    case = new_case(api, "POTHOLE")
    r = api("pw_staff").put(f"{CASES}{case['id']}", json={"priority": "high"})
    assert r.status_code == 400
    assert "version" in r.json["message"]
    r = api("pw_staff").put(f"{CASES}{case['id']}", json={"version": "latest", "priority": "high"})
    assert r.status_code == 400 and "version" in r.json["message"]


def test_edit_with_wrong_types_gets_field_messages(api):
    case = new_case(api, "POTHOLE")
    url = f"{CASES}{case['id']}"
    r = api("pw_staff").put(url, json={"version": case["version"], "lat": "x", "long": 1, "tags": [1], "priority": "asap", "description": None})
    assert r.status_code == 400
    assert {"lat", "tags[0]", "priority", "description"} <= set(r.json["message"])
    r = api("pw_staff").put(url, json={"version": case["version"], "lat": 29.5})
    assert r.status_code == 400 and "long" in r.json["message"]
    r = api("pw_staff").put(url, json={"version": case["version"], "department": "UTIL"})
    assert r.status_code == 400 and "department" in r.json["message"]


def test_case_cannot_be_assigned_to_another_departments_staff(api):
    case = new_case(api, "POTHOLE")
    r = api("dispatcher").put(f"{CASES}{case['id']}", json={"version": case["version"], "assignee": "util_staff"})
    assert r.status_code == 400 and "assignee" in r.json["message"]
    r = api("dispatcher").put(f"{CASES}{case['id']}", json={"version": case["version"], "assignee": "nobody-here"})
    assert r.status_code == 400 and "assignee" in r.json["message"]


def test_cases_are_never_deleted_through_the_api(api):
    case = new_case(api, "POTHOLE")
    r = api("admin").delete(f"{CASES}{case['id']}")
    assert r.status_code == 405
    assert api("admin").get(f"{CASES}{case['id']}").status_code == 200


# -- reading -------------------------------------------------------------------------------------


def test_unknown_case_id_is_404(api):
    dispatcher = api("dispatcher")
    for pk in (987654321, 2**70):
        assert dispatcher.get(f"{CASES}{pk}").status_code == 404
        assert dispatcher.get(f"{CASES}{pk}/events").status_code == 404
        assert dispatcher.put(f"{CASES}{pk}", json={"version": 1}).status_code == 404
    assert dispatcher.get(f"{CASES}abc").status_code == 404
    assert dispatcher.put(f"{CASES}abc", json={"version": 1}).status_code == 404


def test_list_filters_by_status_and_channel_and_rejects_bad_filters(api):
    case = new_case(api, "POTHOLE", channel="walk_in")
    dispatcher = api("dispatcher")
    found = listing(dispatcher, filters=[{"col": "channel", "opr": "eq", "value": "walk_in"}, {"col": "status", "opr": "eq", "value": "new"}])
    assert case["id"] in found["ids"]
    assert {c["channel"] for c in found["result"]} == {"walk_in"}
    since = listing(dispatcher, filters=[{"col": "created_at", "opr": "gt", "value": "2000-01-01T00:00:00"}])
    assert since["count"] >= 1
    bad = [
        {"filters": [{"col": "status", "opr": "eq", "value": 5}]},
        {"filters": [{"col": "department", "opr": "rel_o_m", "value": "PW"}]},
        {"filters": [{"col": "created_at", "opr": "gt", "value": "last tuesday"}]},
        {"filters": [{"col": "contact_email", "opr": "eq", "value": "a@b.org"}]},
        {"filters": [{"col": "status", "opr": "in", "value": "new"}]},
        {"page": -1},
        {"page": 10**20},
        {"filters": [{"col": "status", "opr": "eq", "value": "new\x00"}]},
        {"order_column": "contact_email"},
    ]
    for args in bad:
        r = dispatcher.get(f"{CASES}?q={prison.dumps(args)}")
        assert r.status_code == 400, (args, r.get_data(as_text=True))
    assert dispatcher.get(f"{CASES}?q=(((not-rison").status_code == 400


def test_list_is_newest_first_with_a_capped_page_size(api):
    first, second = new_case(api, "POTHOLE"), new_case(api, "POTHOLE")
    page = listing(api("dispatcher"), page_size=5000)
    assert page["ids"].index(second["id"]) < page["ids"].index(first["id"])
    assert len(page["result"]) <= 100


def test_api_never_shows_password_hashes_or_user_internals(api, app):
    with app.app_context():
        stored = app.appbuilder.sm.find_user(username="pw_staff").password  # the test apps' hash (tests/conftest.py)
    case = new_case(api, "POTHOLE")
    api("dispatcher").put(f"{CASES}{case['id']}", json={"version": case["version"], "assignee": "pw_staff"})
    dispatcher = api("dispatcher")
    asked = prison.dumps({"columns": ["reference", "assignee.password", "assignee.email", "assignee.username"]})
    for url in (f"{CASES}{case['id']}", f"{CASES}{case['id']}?q={asked}", f"{CASES}?q={asked}", f"{CASES}{case['id']}/events"):
        r = dispatcher.get(url)
        assert r.status_code == 200
        text = r.get_data(as_text=True)
        assert "password" not in text and "pw_staff@palmcoast" not in text
        assert stored.split("$")[0] not in text and stored.split("$")[-1] not in text
    assert dispatcher.get(f"{CASES}{case['id']}").json["result"]["assignee"] == {"username": "pw_staff"}


def test_info_describes_the_fields_a_client_may_send(api):
    r = api("pw_staff").get(f"{CASES}_info")
    assert r.status_code == 200
    assert {f["name"] for f in r.json["add_columns"]} >= {"service_code", "attributes", "tags"}
    assert "version" in {f["name"] for f in r.json["edit_columns"]}
    service_info = api("admin").get("/api/v1/service/_info")
    assert service_info.status_code == 200
    assert "attributes" in {f["name"] for f in service_info.json["add_columns"]}
    assert api("admin").get("/api/v1/department/_info").status_code == 200


# -- catalog -------------------------------------------------------------------------------------


@pytest.mark.parametrize("username", ["dispatcher", "pw_staff", "util_staff", "crew", "admin"])
def test_every_staff_role_reads_the_catalog_with_attribute_definitions(api, username):
    caller = api(username)
    services = caller.get(f"/api/v1/service/?q={prison.dumps({'page_size': 100})}")
    assert services.status_code == 200
    pothole = next(s for s in services.json["result"] if s["code"] == "POTHOLE")
    assert pothole["department"]["code"] == "PW"
    size = next(a for a in pothole["attributes"] if a["code"] == "SIZE")
    assert size["datatype"] == "singlevaluelist" and {v["key"] for v in size["values"]} == {"small", "medium", "large"}
    departments = caller.get("/api/v1/department/")
    assert departments.status_code == 200 and departments.json["count"] >= 2
    assert "staff" not in departments.get_data(as_text=True)


@pytest.mark.parametrize("username", ["dispatcher", "pw_staff", "crew"])
def test_only_admins_write_the_catalog(api, username):
    caller = api(username)
    pothole = service_id(api, "POTHOLE")
    assert caller.post("/api/v1/service/", json={"code": unique("S"), "name": "x", "department": "PW"}).status_code == 403
    assert caller.put(f"/api/v1/service/{pothole}", json={"name": "Renamed"}).status_code == 403
    assert caller.post("/api/v1/department/", json={"code": unique("D"), "name": "x"}).status_code == 403
    assert api("admin").get(f"/api/v1/service/{pothole}").json["result"]["name"] == "Pothole"


def test_admin_adds_a_service_and_staff_report_against_it(api):
    code = unique("KING_TIDE_")
    admin = api("admin")
    r = admin.post(
        "/api/v1/service/",
        json={
            "code": code,
            "name": "King tide flooding",
            "department": "PW",
            "group": "Drainage",
            "keywords": "tide, flooding",
            "sla_hours": 24,
            "attributes": [
                {"code": "DEPTH", "description": "Water depth", "datatype": "singlevaluelist", "required": True,
                 "values": [{"key": "ankle", "name": "Ankle deep"}, {"key": "knee", "name": "Knee deep"}]},
            ],
        },
    )
    assert r.status_code == 201, r.json
    service = r.json["result"]
    assert (service["keywords"], service["department"]["code"], service["attributes"][0]["order"]) == ("tide,flooding", "PW", 1)
    case = new_case(api, code, attributes={"DEPTH": "knee"})
    assert case["service_type"]["code"] == code and case["department"]["code"] == "PW"
    bad = api("dispatcher").post(CASES, json={"service_code": code, "attributes": {"DEPTH": "neck"}})
    assert bad.status_code == 400 and "attribute[DEPTH]" in bad.json["message"]


def test_admin_deactivates_a_service_instead_of_deleting_it(api):
    admin = api("admin")
    code = unique("TMP_")
    pk = admin.post("/api/v1/service/", json={"code": code, "name": "Temporary", "department": "PW"}).json["id"]
    assert admin.delete(f"/api/v1/service/{pk}").status_code == 405
    r = admin.put(f"/api/v1/service/{pk}", json={"active": False})
    assert r.status_code == 200 and r.json["result"]["active"] is False
    assert r.json["result"]["name"] == "Temporary"  # fields left out stay as they are
    refused = api("dispatcher").post(CASES, json={"service_code": code})
    assert refused.status_code == 400 and "service_code" in refused.json["message"]


def test_catalog_writes_are_validated_with_field_messages(api):
    admin = api("admin")
    r = admin.post(
        "/api/v1/service/",
        json={"code": unique("BAD_"), "name": "Bad", "department": "NOPE", "sla_hours": "soon",
              "attributes": [{"code": "KIND", "description": "Kind", "datatype": "singlevaluelist"}]},
    )
    assert r.status_code == 400
    assert {"sla_hours", "attributes[0].values"} <= set(r.json["message"])
    r = admin.post("/api/v1/service/", json={"code": unique("BAD_"), "name": "Bad", "department": "NOPE"})
    assert r.status_code == 400 and "NOPE" in r.json["message"]["department"][0]
    r = admin.post("/api/v1/service/", json={"code": "POTHOLE", "name": "Again", "department": "PW"})
    assert r.status_code == 400 and "code" in r.json["message"]
    pothole = service_id(api, "POTHOLE")
    r = admin.put(f"/api/v1/service/{pothole}", json={"code": "POTHOLE2"})
    assert r.status_code == 400 and "code" in r.json["message"]
    r = admin.put(f"/api/v1/service/{pothole}", json={"attributes": [{"code": "SIZE"}]})
    assert r.status_code == 400 and "attributes[0].datatype" in r.json["message"]
    r = admin.post("/api/v1/department/", json={"code": unique("D"), "name": "Parks annex", "email": "not an email"})
    assert r.status_code == 400 and "email" in r.json["message"]
    assert admin.put("/api/v1/department/123456789", json={"name": "x"}).status_code == 404


def test_admin_adds_and_renames_a_department(api):
    admin = api("admin")
    code = unique("D")
    r = admin.post("/api/v1/department/", json={"code": code, "name": "Beach patrol", "email": "beach@palmcoast.example.gov"})
    assert r.status_code == 201, r.json
    pk = r.json["id"]
    r = admin.put(f"/api/v1/department/{pk}", json={"name": "Beach and dune patrol"})
    assert r.status_code == 200
    assert (r.json["result"]["name"], r.json["result"]["email"], r.json["result"]["code"]) == ("Beach and dune patrol", "beach@palmcoast.example.gov", code)


# -- OpenAPI -------------------------------------------------------------------------------------


def _refs(node):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def test_openapi_document_lists_our_apis_and_resolves(api):
    r = api("admin").get("/api/v1/_openapi")
    assert r.status_code == 200
    assert r.content_type.startswith("application/json")
    spec = r.json
    assert spec["openapi"].startswith("3.")
    paths = spec["paths"]
    for path in ("/api/v1/case/", "/api/v1/case/{pk}", "/api/v1/case/{pk}/events", "/api/v1/service/", "/api/v1/department/"):
        assert path in paths, path
    assert set(paths["/api/v1/case/"]) == {"get", "post"}
    assert set(paths["/api/v1/case/{pk}"]) == {"get", "put"}, "no delete for cases"
    schemas = spec["components"]["schemas"]
    assert {"service_code", "attributes"} <= set(schemas["CaseApi.post"]["properties"])
    assert "version" in schemas["CaseApi.put"]["required"]
    for ref in _refs(spec):
        kind, name = ref.split("/")[-2:]
        assert name in spec["components"][kind], f"unresolved {ref}"


def test_edit_racing_another_save_gets_409_and_keeps_the_other_save(app, api):
    """Someone saves between our version check and our write: the database's version guard refuses ours."""
    from sqlalchemy import event, update

    from core.extensions import db
    from core.models import Case

    case = new_case(api, "POTHOLE")

    raced: list[int] = []

    def someone_else_saves_first(mapper, connection, target):
        if raced:
            return
        raced.append(target.id)
        with db.engine.connect() as other:
            other.execute(update(Case).where(Case.id == target.id).values(description="saved by the other clerk", version=Case.version + 1))
            other.commit()

    event.listen(Case, "before_update", someone_else_saves_first)
    try:
        r = api("pw_staff").put(f"{CASES}{case['id']}", json={"version": case["version"], "description": "mine", "priority": "high"})
    finally:
        event.remove(Case, "before_update", someone_else_saves_first)
    assert raced == [case["id"]]
    assert r.status_code == 409, r.get_data(as_text=True)
    assert case["reference"] in r.json["message"]
    stored = api("dispatcher").get(f"{CASES}{case['id']}").json["result"]
    assert (stored["description"], stored["priority"], stored["version"]) == ("saved by the other clerk", "normal", case["version"] + 1)
    kinds = [e["kind"] for e in api("dispatcher").get(f"{CASES}{case['id']}/events").json["result"]]
    assert "updated" not in kinds
