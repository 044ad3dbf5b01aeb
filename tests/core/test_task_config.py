"""Task templates and the open-tasks rule in the city config: clear problems, and a city that refuses to
resolve a case while its tasks are open."""
from __future__ import annotations

import html
import re

import pytest
import sqlalchemy as sa

from core.config import ConfigError, load_city_config
from tests.conftest import PASSWORD, ROOT, build_app, csrf_token, login, prepare_database
from tests.fixtures import BACKENDS, city_config, close_app, fresh_database, run_civic

MINIMAL = ROOT / "config" / "default.toml"
TASK = '\n[[services.tasks]]\ndepartment = "PW"\ntitle = "Inspect the site"\n'

PROBLEMS = {
    "unknown-department": (TASK.replace('"PW"', '"ROADS"'), "services[0].tasks[0].department", "unknown department 'ROADS'"),
    "due-hours-not-a-number": (TASK + 'due_hours = "soon"\n', "services[0].tasks[0].due_hours", "not a valid number"),
    "due-hours-zero": (TASK + "due_hours = 0\n", "services[0].tasks[0].due_hours", "must be greater than 0 and less than or equal to 8760"),
    "no-title": ('\n[[services.tasks]]\ndepartment = "PW"\n', "services[0].tasks[0].title", "missing data for required field"),
    "title-in-unknown-locale": (
        '\n[[services.tasks]]\ndepartment = "PW"\ntitle = { en = "Inspect", fr = "Inspecter" }\n',
        "services[0].tasks[0].title.fr", "unknown locale 'fr' (city.locales: en)",
    ),
    "instructions-too-long": (TASK + f'instructions = "{"x" * 4001}"\n', "services[0].tasks[0].instructions", "longer than maximum length 4000"),
    "unknown-template-key": (TASK + 'crew = "Tree crew"\n', "services[0].tasks[0].crew", "unknown key"),
    "routing-task-unknown-department": (
        '\n[[routing]]\nkeyword = "flood"\ndepartment = "PW"\n[[routing.tasks]]\ndepartment = "SW"\ntitle = "Pump"\n',
        "routing[0].tasks[0].department", "unknown department 'SW'",
    ),
    "unknown-open-tasks-rule": ('\n[cases]\nopen_tasks_on_resolve = "sometimes"\n', "cases.open_tasks_on_resolve", "must be one of: confirm, refuse"),
}


@pytest.mark.parametrize("name", PROBLEMS)
def test_each_task_config_problem_is_one_line_naming_its_key(name, tmp_path):
    append, key, message = PROBLEMS[name]
    config = city_config(tmp_path, [], base=MINIMAL, append=append)
    with pytest.raises(ConfigError) as caught:
        load_city_config(config)
    [line] = caught.value.lines
    assert line.startswith(f"{config}: {key}: "), line
    assert message in line, line


def test_config_check_lists_every_task_problem_and_accepts_good_templates(tmp_path):
    """Types and values first (one line each); departments and locales once those are right (one line each)."""
    checked = []
    for name, append in (
        ("types.toml", TASK + "due_hours = -2\n" + PROBLEMS["unknown-open-tasks-rule"][0]),
        ("names.toml", TASK.replace('"PW"', '"ROADS"').replace('"Inspect the site"', '{ en = "Inspect", es = "Inspeccionar" }')),
    ):
        broken = city_config(tmp_path, [], base=MINIMAL, name=name, append=append)
        result = run_civic("config", "check", "--file", str(broken), config=None, data_dir=tmp_path, site=False)
        assert result.returncode == 2 and "Traceback" not in result.stderr
        assert all(line.startswith(f"{broken}: ") for line in result.stderr.splitlines())
        checked.append(sorted(line.split(": ", 2)[1] for line in result.stderr.splitlines()))
    assert checked == [
        ["cases.open_tasks_on_resolve", "services[0].tasks[0].due_hours"],
        ["services[0].tasks[0].department", "services[0].tasks[0].title.es"],
    ]
    good = city_config(tmp_path, [], base=MINIMAL, name="good.toml", append=TASK + 'instructions = "Photos first"\ndue_hours = 1.5\n')
    config = load_city_config(good)
    assert config.services[0]["tasks"] == [{"department": "PW", "title": "Inspect the site", "instructions": "Photos first", "due_hours": 1.5}]
    assert config.cases == {"open_tasks_on_resolve": "confirm"}, "confirm is the default"


def test_template_texts_keep_the_default_locale_and_their_translations(tmp_path):
    config = load_city_config(ROOT / "config" / "palm-coast.toml")
    rule = next(r for r in config.routing if r.get("name") == "downed-lines-to-utilities")
    pw = rule["tasks"][0]
    assert (pw["department"], pw["title"], pw["title_i18n"]) == ("PW", "Cut and clear the tree", {"fr": "Couper et dégager l’arbre"})
    assert pw["instructions"].startswith("Wait until Utilities") and "fr" in pw["instructions_i18n"]


# --- a city that refuses ------------------------------------------------------------------------

POTHOLE_TASK = 'tasks = [{ department = "PW", title = { en = "Inspect the pothole", fr = "Inspecter le nid-de-poule" }, due_hours = 24 }]\n'


@pytest.fixture(scope="module", params=BACKENDS)
def strict_city(request, tmp_path_factory):
    """The demo city, refusing to resolve cases with open tasks, whose every pothole gets an inspection task."""
    from core.extensions import db
    from core.models import Department
    from core.services.users import create_user

    directory = tmp_path_factory.mktemp("strict-city")
    config = city_config(directory, ["i18n"], replace={
        'open_tasks_on_resolve = "confirm"': 'open_tasks_on_resolve = "refuse"',
        'department = "PW"\nsla_hours = 72\nkeywords = { en = ["pothole"': 'department = "PW"\nsla_hours = 72\n' + POTHOLE_TASK + 'keywords = { en = ["pothole"',
    })
    with fresh_database(request.param, directory) as url:
        app = build_app(url, config)
        prepare_database(app)
        with app.app_context():
            depts = {d.code: d for d in db.session.scalars(sa.select(Department))}
            create_user("dispatcher", PASSWORD, "Dispatcher")
            create_user("util_staff", PASSWORD, "Department staff", departments=[depts["UTIL"]])
            create_user("pw_staff", PASSWORD, "Department staff", departments=[depts["PW"]])
        yield app
        close_app(app)


def test_every_pothole_gets_its_inspection_task_whatever_the_channel(strict_city):
    from core.extensions import db
    from core.models import Task

    client = strict_city.test_client()
    token = client.post("/api/v1/security/login", json={"username": "dispatcher", "password": PASSWORD, "provider": "db"}).json["access_token"]
    r = client.post("/api/v1/case/", json={"service_code": "POTHOLE", "attributes": {"SIZE": "large"}, "channel": "phone"},
                    headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 201, r.get_data(as_text=True)
    with strict_city.app_context():
        [task] = db.session.scalars(sa.select(Task).where(Task.case_id == r.json["id"])).all()
        assert (task.department.code, task.title, task.template) == ("PW", "Inspect the pothole", "service:POTHOLE#1")
        assert (task.due_at - task.case.created_at).total_seconds() == 24 * 3600


def test_a_city_that_refuses_keeps_the_case_open_until_its_tasks_are_finished(strict_city):
    from core.extensions import db
    from core.models import Case
    from core.services.cases import Actor, change_status, create_case
    from core.services.tasks import OpenTasksError, change_task_status

    with strict_city.app_context():
        case = create_case(db.session, service_code="TREE_DOWN", attributes={"BLOCKING": ["power"]}, description="Tree on the power line")
        tasks = {t.department.code: t for t in case.tasks}
        actor = Actor(label="util_staff")
        change_task_status(db.session, tasks["PW"], "done", actor)
        change_task_status(db.session, tasks["CE"], "cancelled", actor, note="Nothing to check: city land")
        with pytest.raises(OpenTasksError) as caught:
            change_status(db.session, case, "resolved", actor, confirm_open_tasks=True)
        assert caught.value.errors == {"status": [
            f"1 task is still open (#{tasks['UTIL'].id} Make safe and restore power (UTIL)): finish or cancel it before the case is resolved"]}
        db.session.rollback()
        case_id, util_task = case.id, tasks["UTIL"].id

    client = login(strict_city.test_client(), "util_staff")
    page = client.get(f"/caseview/show/{case_id}").get_data(as_text=True)
    assert 'name="confirm_open_tasks"' not in page
    assert "1 task is still open: it must be done or cancelled before the case is resolved or closed." in html.unescape(page)
    version = re.search(r'name="version" value="(\d+)"', page).group(1)
    refused = client.post(f"/caseview/act/{case_id}", data={
        "csrf_token": csrf_token(page), "version": version, "action": "status", "status": "closed", "confirm_open_tasks": "y",
    }, follow_redirects=True)
    assert "Status: 1 task is still open" in html.unescape(refused.get_data(as_text=True))

    with strict_city.app_context():
        case = db.session.get(Case, case_id)
        assert case.status == "new"
        change_task_status(db.session, db.session.get(type(case.tasks[0]), util_task), "done", Actor(label="util_staff"))
        change_status(db.session, case, "resolved", Actor(label="util_staff"))
        assert case.status == "resolved"
        assert not [e for e in case.events if e.kind == "open_tasks_confirmed"]
