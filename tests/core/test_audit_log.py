"""Security › Audit log: every change to the city's set-up says who, when, through what, from what to what.

The entries come from the real screens, the real `civic` commands and the real config sync, on both engines.
"""
from __future__ import annotations

import uuid
from pathlib import Path

import sqlalchemy as sa

from core.extensions import db
from core.models import AuditEntry, Department, ServiceType
from tests.conftest import DEMO_CONFIG, PASSWORD, build_app, csrf_token


def entries(app, kind: str, object_id=None, since: int = 0) -> list[AuditEntry]:
    """The log's entries of one kind (and object), oldest first, after entry ``since``."""
    with app.app_context():
        stmt = sa.select(AuditEntry).where(AuditEntry.object_kind == kind, AuditEntry.id > since).order_by(AuditEntry.id)
        if object_id is not None:
            stmt = stmt.where(AuditEntry.object_id == str(object_id))
        found = list(db.session.scalars(stmt))
        db.session.expunge_all()
        db.session.remove()
        return found


def last_id(app) -> int:
    with app.app_context():
        value = db.session.scalar(sa.select(sa.func.max(AuditEntry.id))) or 0
        db.session.remove()
        return value


def new_service(app) -> tuple[int, int, str]:
    """A service of its own (so renaming it disturbs no other test): (id, department id, code)."""
    code = f"AUDIT_{uuid.uuid4().hex[:6].upper()}"
    with app.app_context():
        dept = db.session.scalar(sa.select(Department).where(Department.code == "PW"))
        service = ServiceType(code=code, name="Faded crosswalk", description="Paint gone", group="Roads", keywords="crosswalk",
                              department=dept, sla_hours=72, public=True, type="realtime", active=True, attributes=[])
        db.session.add(service)
        db.session.commit()
        found = service.id, dept.id, code
        db.session.remove()
        return found


def test_admin_renames_a_service_on_its_screen_and_the_log_has_one_entry_with_old_and_new(app, client_for):
    pk, dept_id, code = new_service(app)
    created = entries(app, "service", pk)
    assert [(e.action, e.source, e.actor_label) for e in created] == [("created", "cli", "system")]
    assert created[0].changes["name"] == [None, "Faded crosswalk"]

    admin = client_for("admin")
    html = admin.get(f"/servicetypeview/edit/{pk}").get_data(as_text=True)
    r = admin.post(f"/servicetypeview/edit/{pk}", data={
        "csrf_token": csrf_token(html), "code": code, "name": "Faded pedestrian crossing", "description": "Paint gone",
        "group": "Roads", "keywords": "crosswalk", "department": str(dept_id), "sla_hours": "72",
        "public": "y", "type": "realtime", "active": "y", "attributes_json": "", "translations_json": "",
    })
    assert r.status_code == 302, r.get_data(as_text=True)

    changed = entries(app, "service", pk)[1:]
    assert len(changed) == 1
    entry = changed[0]
    assert (entry.action, entry.source, entry.actor_label) == ("changed", "screen", "admin")
    with app.app_context():
        assert entry.actor_id == app.appbuilder.sm.find_user(username="admin").id
    assert entry.changes == {"name": ["Faded crosswalk", "Faded pedestrian crossing"]}
    assert entry.object_label == f"{code}: Faded pedestrian crossing"


def test_a_service_changed_through_the_rest_api_is_recorded_as_api(app, api):
    pk, _, _ = new_service(app)
    r = api("admin").put(f"/api/v1/service/{pk}", json={"sla_hours": 48})
    assert r.status_code == 200, r.get_data(as_text=True)
    [entry] = entries(app, "service", pk)[1:]
    assert (entry.action, entry.source, entry.actor_label) == ("changed", "api", "admin")
    assert entry.changes == {"sla_hours": [72, 48]}


def test_a_role_gets_a_permission_and_the_log_names_it(app, client_for):
    name = f"Night desk {uuid.uuid4().hex[:6]}"
    with app.app_context():
        sm = app.appbuilder.sm
        role = sm.add_role(name)
        listing = sm.add_permission_view_menu("can_list", "CaseView")
        showing = sm.add_permission_view_menu("can_show", "CaseView")
        sm.add_permission_role(role, listing)
        role_id, showing_id, listing_id = role.id, showing.id, listing.id
        db.session.remove()

    admin = client_for("admin")
    html = admin.get(f"/roles/edit/{role_id}").get_data(as_text=True)
    r = admin.post(f"/roles/edit/{role_id}", data={
        "csrf_token": csrf_token(html), "name": name, "permissions": [str(listing_id), str(showing_id)],
    })
    assert r.status_code == 302, r.get_data(as_text=True)

    log = entries(app, "role", role_id)
    assert [(e.action, e.source) for e in log] == [("created", "cli"), ("changed", "cli"), ("changed", "screen")]
    assert log[1].changes == {"permissions": [[], ["can_list on CaseView"]]}
    assert log[2].actor_label == "admin"
    assert log[2].changes == {"permissions": [["can_list on CaseView"], ["can_list on CaseView", "can_show on CaseView"]]}


def test_a_user_gets_a_role_on_the_user_screen(app, client_for):
    from core.services.users import create_user

    username = f"clerk_{uuid.uuid4().hex[:6]}"
    with app.app_context():
        sm = app.appbuilder.sm
        user = create_user(username, PASSWORD, "Department staff", email=f"{username}@palmcoast.example.gov")
        user_id = user.id
        staff_role, dispatcher_role = sm.find_role("Department staff").id, sm.find_role("Dispatcher").id
        db.session.remove()

    admin = client_for("admin")
    html = admin.get(f"/users/edit/{user_id}").get_data(as_text=True)
    r = admin.post(f"/users/edit/{user_id}", data={
        "csrf_token": csrf_token(html), "first_name": username, "last_name": "-", "username": username,
        "active": "y", "email": f"{username}@palmcoast.example.gov", "roles": [str(staff_role), str(dispatcher_role)],
    })
    assert r.status_code == 302, r.get_data(as_text=True)

    log = entries(app, "user", user_id)
    assert log[0].action == "created" and "password" not in log[0].changes
    assert log[0].changes["roles"] == [None, ["Department staff"]]
    [change] = log[1:]
    assert (change.action, change.source, change.actor_label, change.object_label) == ("changed", "screen", "admin", username)
    assert change.changes == {"roles": [["Department staff"], ["Department staff", "Dispatcher"]]}


def test_signing_in_and_resident_accounts_leave_no_entry(app, client_for):
    """Logins touch the user row (last login, count): that is no set-up change.  Residents are not staff."""
    before = last_id(app)
    client_for("pw_staff")
    client_for("resident")
    assert entries(app, "user", since=before) == []


def test_config_sync_records_what_a_changed_routing_rule_changed(app, tmp_path):
    """The city edits its routing rule in the config file and runs `civic config sync`: the log says what moved."""
    from core.cli import cli

    for item in Path(DEMO_CONFIG).parent.iterdir():  # the files the config names (GIS layers...) by relative path
        (tmp_path / item.name).symlink_to(item)
    edited = tmp_path / "edited-city.toml"
    text = Path(DEMO_CONFIG).read_text()
    rule = 'name = "hurricane-damage-to-emergency-management"\nservice = "STORM_DAMAGE"\ntag = "hurricane"\ndepartment = "EM"'
    assert rule in text
    holidays = '"2026-11-26", "2026-11-27", "2026-12-25",'
    assert holidays in text
    text = text.replace(rule, rule.replace('department = "EM"', 'department = "PW"'))
    edited.write_text(text.replace(holidays, holidays.replace('"2026-12-25"', '"2026-12-24", "2026-12-25"')))
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    before = last_id(app)

    changed_city = build_app(url, config=edited)
    result = changed_city.test_cli_runner().invoke(cli, ["config", "sync"])
    assert result.exit_code == 0, result.output
    [entry] = entries(app, "routing rule", since=before)
    assert (entry.action, entry.object_id, entry.actor_label, entry.source) == (
        "changed", "hurricane-damage-to-emergency-management", "config sync", "config sync")
    assert entry.changes == {"department": ["EM", "PW"]}
    [calendar] = entries(app, "sla calendar", since=before)
    old_days, new_days = calendar.changes["holidays"]
    assert sorted(set(new_days) - set(old_days)) == ["2026-12-24"] and list(calendar.changes) == ["holidays"]

    # A second sync of the same file changes nothing, so it records nothing.
    assert changed_city.test_cli_runner().invoke(cli, ["config", "sync"]).exit_code == 0
    assert entries(app, "routing rule", since=entry.id) == []

    # Syncing the city's own file again puts the rule back, and says so.
    own_city = build_app(url)
    result = own_city.test_cli_runner().invoke(cli, ["config", "sync"])
    assert result.exit_code == 0, result.output
    [back] = entries(app, "routing rule", since=entry.id)
    assert back.changes == {"department": ["PW", "EM"]}
    for other in (changed_city, own_city):
        with other.app_context():
            db.session.remove()
            db.engine.dispose()


def test_an_api_key_created_and_revoked_on_its_screen_is_recorded_without_the_key(app, client_for):
    admin = client_for("admin")
    name = f"FixMyStreet {uuid.uuid4().hex[:6]}"
    html = admin.get("/apikeyview/add").get_data(as_text=True)
    r = admin.post("/apikeyview/add", data={"csrf_token": csrf_token(html), "name": name, "rate_limit": ""})
    assert r.status_code == 200, r.status_code
    shown = r.get_data(as_text=True)
    with app.app_context():
        from plugins.intake.models import ApiKey

        key = db.session.scalar(sa.select(ApiKey).where(ApiKey.name == name))
        key_id, key_hash, prefix = key.id, key.key_hash, key.prefix
        db.session.remove()
    page = admin.get(f"/apikeyview/revoke/{key_id}").get_data(as_text=True)
    r = admin.post(f"/apikeyview/revoke/{key_id}", data={"csrf_token": csrf_token(page), "confirm": "yes"})
    assert r.status_code == 302

    created, revoked = entries(app, "api key", key_id)
    assert (created.action, created.actor_label, created.source) == ("created", "admin", "screen")
    assert (revoked.action, revoked.actor_label) == ("changed", "admin")
    assert list(revoked.changes) == ["revoked_at"] and revoked.changes["revoked_at"][0] is None
    for entry in (created, revoked):
        stored = str(entry.changes)
        assert key_hash not in stored and prefix not in stored
    plain = shown.split(prefix, 1)[1][:40] if prefix in shown else ""
    assert not plain or plain not in str(created.changes)


def test_a_key_revoked_from_the_command_line_is_recorded_as_the_system(app):
    from core.cli import cli
    from plugins.intake.open311.keys import create_key

    name = f"SeeClickFix {uuid.uuid4().hex[:6]}"
    with app.app_context():
        key_id = create_key(db.session, name)[0].id
        db.session.remove()
    result = app.test_cli_runner().invoke(cli, ["open311", "revoke-key", name])
    assert result.exit_code == 0, result.output
    created, revoked = entries(app, "api key", key_id)
    assert (revoked.action, revoked.actor_label, revoked.source) == ("changed", "system", "cli")


def test_admin_reads_the_log_filtered_by_kind_and_opens_an_entry(app, client_for):
    pk, _, code = new_service(app)
    admin = client_for("admin")
    listing = admin.get("/auditlog/list/?_flt_0_object_kind=service")
    assert listing.status_code == 200
    html = listing.get_data(as_text=True)
    assert f"{code}: Faded crosswalk" in html and "routing[" not in html
    [entry] = entries(app, "service", pk)
    page = admin.get(f"/auditlog/show/{entry.id}")
    assert page.status_code == 200
    assert "Faded crosswalk" in page.get_data(as_text=True)


def test_the_log_has_no_add_edit_or_delete_screen(app, client_for):
    entry_id = last_id(app)
    admin = client_for("admin")
    token = csrf_token(admin.get("/auditlog/list/").get_data(as_text=True))
    for url in ("/auditlog/add", f"/auditlog/edit/{entry_id}", f"/auditlog/delete/{entry_id}"):
        assert admin.get(url).status_code in (302, 403, 404, 405), url
        assert admin.post(url, data={"csrf_token": token}).status_code in (302, 403, 404, 405), url
    assert entries(app, "routing rule") != []


def test_staff_and_dispatchers_cannot_open_the_audit_log(app, client_for):
    for username in ("dispatcher", "pw_staff", "crew", "resident"):
        client = client_for(username)
        for url in ("/auditlog/list/", f"/auditlog/show/{last_id(app)}"):
            r = client.get(url)
            assert r.status_code in (302, 403), (username, url, r.status_code)
            assert "config sync" not in r.get_data(as_text=True)
