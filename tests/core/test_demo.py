"""`civic demo`: the Palm Coast demo loads a believable year once, and a second run adds nothing.

The demo runs on a database of its own on each backend, not the session's
shared one: its cases would disturb other tests, and its staff usernames are
the fixtures' own (dispatcher, pw_staff ...).
"""
from __future__ import annotations

import random
import uuid
from collections import Counter
from datetime import timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from tests.conftest import build_app, drop_schema, login, postgres_url

DEMO_PASSWORD = "palm-coast-demo-2026"
CASES = 200


def run_civic(app, *args):
    """Invoke the real `civic` command group on this app; FlaskGroup's environment flag is put back after."""
    from core.cli import cli

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FLASK_RUN_FROM_CLI", "false")
        mp.setenv("CIVIC_DEMO_PASSWORD", DEMO_PASSWORD)
        mp.delenv("CIVIC_ADMIN_USER", raising=False)
        mp.delenv("CIVIC_ADMIN_PASSWORD", raising=False)
        result = app.test_cli_runner().invoke(cli, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result


def counts(app) -> dict[str, int]:
    from core.extensions import db
    from core.models import Account, Case, CaseEvent, Tag, User

    with app.app_context():
        return {
            model.__name__: db.session.scalar(sa.select(sa.func.count()).select_from(model))
            for model in (Case, CaseEvent, Account, User, Tag)
        }


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def demo_database_url(request, tmp_path_factory):
    """An empty database for the demo alone: a SQLite file, or a new schema on PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('demo') / 'demo.db'}"
        return
    name = f"civic_demo_{uuid.uuid4().hex[:10]}"
    yield postgres_url(name)
    drop_schema(name)


@pytest.fixture(scope="module")
def demo(demo_database_url):
    """A fresh database, `civic init`, then `civic demo --cases 200` once."""
    from core.extensions import db

    app = build_app(demo_database_url)
    init = run_civic(app, "init")
    assert init.exit_code == 0, init.output
    app.init_output = init.output
    result = run_civic(app, "demo", "--cases", str(CASES))
    assert result.exit_code == 0, result.output
    app.demo_output = result.output
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def demo_cases(demo):
    from core.demo import DEMO_TAG
    from core.extensions import db
    from core.models import Case, Tag

    with demo.app_context():
        yield list(db.session.scalars(sa.select(Case).join(Case.tags).where(Tag.name == DEMO_TAG).order_by(Case.id)))
        db.session.remove()


def test_demo_creates_staff_for_several_departments_with_the_printed_password(demo):
    from core.extensions import db
    from core.models import Department

    assert f"demo password (every demo user): {DEMO_PASSWORD}" in demo.demo_output
    with demo.app_context():
        sm = demo.appbuilder.sm
        assert [r.name for r in sm.find_user(username="dispatcher").roles] == ["Dispatcher"]
        assert [r.name for r in sm.find_user(username="pw_crew").roles] == ["Field crew"]
        for username, code in (("pw_staff", "PW"), ("pw_crew", "PW"), ("util_staff", "UTIL"), ("ce_staff", "CE")):
            dept = db.session.scalar(sa.select(Department).where(Department.code == code))
            assert username in [u.username for u in dept.staff]
    login(demo.test_client(), "pw_staff", DEMO_PASSWORD)
    login(demo.test_client(), "dispatcher", DEMO_PASSWORD)


def test_demo_creates_resident_accounts_with_utility_account_numbers(demo):
    from core.extensions import db
    from core.models import Account

    with demo.app_context():
        accounts = list(db.session.scalars(sa.select(Account)))
        numbers = [a.utility_account_number for a in accounts]
        assert len(accounts) >= 40
        assert all(numbers) and len(set(numbers)) == len(numbers)
        assert {a.kind for a in accounts} == {"resident", "business"}
        resident = demo.appbuilder.sm.find_user(username="resident")
        assert [a.name for a in accounts if a.user_id == resident.id] == ["Maria Lopez"]


def test_demo_cases_mix_statuses_channels_priorities_and_services(demo_cases):
    from core.models import CLOSED_STATUSES

    assert len(demo_cases) == CASES
    statuses = Counter(c.status for c in demo_cases)
    closed = sum(n for s, n in statuses.items() if s in CLOSED_STATUSES)
    assert closed > CASES * 0.7, statuses
    assert closed < CASES, "some recent cases should still be open"
    assert {"closed", "resolved"} <= set(statuses)
    channels = Counter(c.channel for c in demo_cases)
    assert channels.most_common(1)[0][0] == "web"
    assert {"web", "phone", "email", "open311"} <= set(channels)
    assert len({c.priority for c in demo_cases}) >= 3
    services = Counter(c.service_type.code for c in demo_cases)
    assert len(services) >= 15
    assert services["POTHOLE"] > services["SMOKE_ALARM"]
    assert any(c.assignee is not None for c in demo_cases)


def test_older_cases_are_done_and_every_history_follows_the_workflow(demo_cases):
    from core.models import CLOSED_STATUSES, TRANSITIONS
    from core.models.base import utcnow

    now = utcnow()
    old = [c for c in demo_cases if c.created_at < now - timedelta(days=90)]
    assert sum(c.status in CLOSED_STATUSES for c in old) >= 0.9 * len(old)
    for case in demo_cases:
        events = sorted(case.events, key=lambda e: (e.created_at, e.id))
        assert events[0].kind == "created" and events[0].created_at == case.created_at, case.reference
        status, entered_closed = "new", None
        for ev in events:
            assert case.created_at <= ev.created_at <= now
            if ev.kind == "status_changed":
                assert ev.data["old"] == status and ev.data["new"] in TRANSITIONS[status], case.reference
                status = ev.data["new"]
                entered_closed = ev.created_at if status in CLOSED_STATUSES else None
        assert status == case.status, case.reference
        assert case.closed_at == entered_closed, case.reference
        assert case.updated_at == max(ev.created_at for ev in events)
        assert case.reference.startswith(f"PC-{case.created_at.year}-")


def test_demo_cases_spend_their_time_with_their_department_until_closed(demo_cases):
    """Department stints (core.services.handoffs): one per open stretch of the case, none open once closed."""
    from core.extensions import db
    from core.models import CLOSED_STATUSES, DepartmentStint

    rows = db.session.execute(sa.select(DepartmentStint.case_id, DepartmentStint.department_id, DepartmentStint.started_at,
                                        DepartmentStint.ended_at).order_by(DepartmentStint.started_at, DepartmentStint.id)).all()
    by_case: dict[int, list] = {}
    for row in rows:
        by_case.setdefault(row.case_id, []).append(row)
    for case in demo_cases:
        events = sorted((e for e in case.events if e.kind == "status_changed"), key=lambda e: (e.created_at, e.id))
        expected, start = [], case.created_at
        for ev in events:
            if ev.data["new"] in CLOSED_STATUSES and ev.data["old"] not in CLOSED_STATUSES:
                expected.append((start, ev.created_at))
            elif ev.data["old"] in CLOSED_STATUSES and ev.data["new"] not in CLOSED_STATUSES:
                start = ev.created_at
        if case.status not in CLOSED_STATUSES:
            expected.append((start, None))
        stints = by_case.get(case.id, [])
        assert [(s.started_at, s.ended_at) for s in stints] == expected, case.reference
        assert {s.department_id for s in stints} == {case.department_id}, case.reference


def test_a_hurricane_in_late_september_brings_a_burst_of_storm_cases(demo_cases):
    from core.demo import STORM_TAG, storm_landfall

    storm = [c for c in demo_cases if STORM_TAG in [t.name for t in c.tags]]
    assert len(storm) == round(CASES * 0.08)
    assert {c.service_type.code for c in storm} <= {"STORM_DEBRIS", "TREE_DOWN", "STORM_FLOOD", "STORM_DAMAGE"}
    assert "STORM_DEBRIS" in {c.service_type.code for c in storm}
    tz = ZoneInfo("America/New_York")
    landfall = storm_landfall(max(c.created_at for c in demo_cases).replace(tzinfo=timezone.utc).astimezone(tz).date())
    assert landfall.month == 9
    for case in storm:
        local_day = case.created_at.replace(tzinfo=timezone.utc).astimezone(tz).date()
        assert timedelta(days=-1) <= local_day - landfall <= timedelta(days=9), case.reference


def test_demo_cases_are_located_inside_palm_coast(demo_cases):
    located = [c for c in demo_cases if c.lat is not None]
    assert len(located) > CASES * 0.8
    for case in located:
        assert 29.47 <= case.lat <= 29.64 and -81.29 <= case.long <= -81.12, case.reference
        assert case.address and case.address[0].isdigit()
        assert case.zone in {"north", "south", "east", "west", "central"}
        assert case.zipcode in {"32137", "32164"}


def test_demo_attributes_satisfy_each_service_definition(demo_cases):
    from core.services.attributes import validate_attributes

    for case in demo_cases:
        definitions = case.service_type.attributes or []
        assert validate_attributes(definitions, case.attributes) == case.attributes
        for definition in definitions:
            if definition.get("required"):
                assert definition["code"] in case.attributes, case.reference


def test_the_demo_plan_is_the_same_every_time(demo):
    from core.demo import SEED, plan_cases
    from core.extensions import db
    from core.models import ServiceType
    from core.models.base import utcnow

    now = utcnow()
    with demo.app_context():
        services = {s.code: s for s in db.session.scalars(sa.select(ServiceType))}
        tz = ZoneInfo("America/New_York")
        first = [(p.created_at, p.service.code) for p in plan_cases(random.Random(SEED), 300, services, now, tz)]
        again = [(p.created_at, p.service.code) for p in plan_cases(random.Random(SEED), 300, services, now, tz)]
    assert first == again
    assert all(t <= now for t, _ in first)


def test_serve_repeats_the_admin_login_from_init_and_the_demo_logins(demo):
    from core.cli import _login_hints

    (admin_line,) = [line for line in demo.init_output.splitlines() if line.startswith("admin: admin / ")]
    password = admin_line.removeprefix("admin: admin / ")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CIVIC_DEMO_PASSWORD", DEMO_PASSWORD)
        mp.delenv("CIVIC_ADMIN_USER", raising=False)
        mp.delenv("CIVIC_ADMIN_PASSWORD", raising=False)
        with demo.app_context():
            admin, demo_logins = _login_hints(demo)
    assert admin == f"admin login: admin / {password}"
    assert demo_logins.startswith("demo logins: dispatcher, pw_staff") and demo_logins.endswith(f"/ {DEMO_PASSWORD}")
    login(demo.test_client(), "admin", password)


def test_a_second_demo_run_adds_nothing(demo):
    before = counts(demo)
    result = run_civic(demo, "demo", "--cases", str(CASES))
    assert result.exit_code == 0, result.output
    assert f"already loaded ({CASES} cases tagged demo); nothing added" in result.output
    assert "(0 new)" in result.output
    assert counts(demo) == before


def test_the_demo_city_has_sample_reports_that_run_for_the_people_they_are_shared_with(demo):
    """The Reports menu is not empty on a new demo: each sample report opens with a table and a chart for its
    owner and for someone of a role it is shared with; the second `civic demo` adds none."""
    from core.demo import SAMPLE_REPORTS
    from core.extensions import db
    from core.models import Report

    assert f"demo reports: {len(SAMPLE_REPORTS)} sample reports saved (Reports menu)" in demo.demo_output
    with demo.app_context():
        reports = {r.name: r.id for r in db.session.scalars(sa.select(Report))}
    assert set(reports) == {name for name, *_ in SAMPLE_REPORTS}
    for who in ("pw_supervisor", "dispatcher"):
        client = login(demo.test_client(), who, DEMO_PASSWORD)
        listing = client.get("/reports/").get_data(as_text=True)
        for name, owner, shared_with, spec in SAMPLE_REPORTS:
            if who != owner and not ({"Dispatcher"} if who == "dispatcher" else {"Supervisor"}) & set(shared_with):
                continue
            assert name in listing
            page = client.get(f"/reports/{reports[name]}")
            assert page.status_code == 200, (who, name)
            body = page.get_data(as_text=True)
            assert 'id="report-table"' in body
            assert "<svg" in body or "Nothing to count in this period." in body, name
    again = run_civic(demo, "demo", "--cases", str(CASES))
    assert "demo reports: 0 sample reports saved (Reports menu)" in again.output
