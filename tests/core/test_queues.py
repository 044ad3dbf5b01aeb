"""Department queues and workload: what nobody holds yet (overdue first), a supervisor assigning several items
at once, read-only for other staff, and the per-person counts.

Each test gets a department of its own, so the other tests' cases never enter its queue."""
from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import timedelta

import pytest
import sqlalchemy as sa

from tests.conftest import DEMO_CONFIG, PASSWORD, csrf_token, login, recorded_sql
from tests.core.test_case_screens import any_token, load, text

POTHOLE = {"service_code": "POTHOLE", "attributes": {"SIZE": "large"}}  # 72 business hours
ROAD_DEBRIS = {"service_code": "ROAD_DEBRIS", "attributes": {}}  # 8 business hours


@dataclass
class Team:
    department_id: int
    code: str
    supervisor: str
    ann: str
    ann_id: int
    bob: str
    bob_id: int


@pytest.fixture
def team(app) -> Team:
    """A department of its own with a supervisor (role "Supervisor" only) and two staff members."""
    from core.extensions import db
    from core.models import Department
    from core.services.users import create_user

    tok = uuid.uuid4().hex[:8]
    with app.app_context():
        department = Department(code=f"Q{tok}".upper(), name=f"Queue team {tok}")
        db.session.add(department)
        db.session.commit()
        create_user(f"sup_{tok}", PASSWORD, "Supervisor", "Sue", "Visor", departments=[department])
        ann = create_user(f"ann_{tok}", PASSWORD, "Department staff", "Ann", "Able", departments=[department])
        bob = create_user(f"bob_{tok}", PASSWORD, "Department staff", "Bob", "Baker", departments=[department])
        found = Team(department.id, department.code, f"sup_{tok}", ann.username, ann.id, bob.username, bob.id)
        db.session.remove()
        return found


def case_in(app, team: Team, kind=POTHOLE, **kwargs) -> int:
    """A case made through the case service, then handed to the team's department."""
    from core.extensions import db
    from core.models import Department
    from core.services.cases import SYSTEM, create_case, reroute

    with app.app_context():
        case = create_case(db.session, **{**kind, **kwargs})
        reroute(db.session, case, db.session.get(Department, team.department_id), SYSTEM, "for the queue test")
        case_id = case.id
        db.session.remove()
        return case_id


def task_in(app, team: Team, case_id: int, title: str, **kwargs) -> int:
    from core.extensions import db
    from core.models import Case, Department
    from core.services.tasks import add_task

    with app.app_context():
        task = add_task(db.session, db.session.get(Case, case_id), department=db.session.get(Department, team.department_id),
                        title=title, **kwargs)
        task_id = task.id
        db.session.remove()
        return task_id


def queue_items(html: str) -> list[str]:
    return re.findall(r'<tr data-item="((?:case|task):\d+)"', html)


def task_row(app, task_id: int) -> tuple[str | None, list]:
    from core.extensions import db
    from core.models import CaseEvent, Task

    with app.app_context():
        task = db.session.get(Task, task_id)
        events = db.session.scalars(sa.select(CaseEvent).where(CaseEvent.task_id == task_id).order_by(CaseEvent.id)).all()
        out = (task.assignee.username if task.assignee else None, [(e.kind, e.actor_label, dict(e.data)) for e in events])
        db.session.remove()
        return out


def signed_in(app, username: str):
    return login(app.test_client(), username)


def assign(client, team: Team, items: list[str], assignee_id: int, token: str | None = None, **extra):
    page = client.get(f"/queue/?department={team.department_id}")
    data = {"csrf_token": token or csrf_token(page.get_data(as_text=True)), "department": str(team.department_id),
            "assignee": str(assignee_id), "item": items, **extra}
    return client.post("/queue/assign", data=data, follow_redirects=True)


# --- the queue ------------------------------------------------------------------------------------


def test_the_queue_lists_unassigned_cases_and_tasks_overdue_first_then_by_due_date(app, team):
    from core.models.base import utcnow

    now = utcnow()
    later = case_in(app, team, POTHOLE)  # due in 72 business hours
    soon = case_in(app, team, ROAD_DEBRIS)  # due in 8 business hours
    late = case_in(app, team, POTHOLE, created_at=now - timedelta(days=30))  # long overdue (72 business hours after)
    late_task = task_in(app, team, later, "Check the kerb", due_at=now - timedelta(hours=1))  # overdue an hour
    open_task = task_in(app, team, later, "Paint the line")  # no due date: last
    taken = case_in(app, team, POTHOLE)
    taken_task = task_in(app, team, later, "Already someone's", due_at=now - timedelta(days=30))
    closed = case_in(app, team, POTHOLE, created_at=now - timedelta(days=40))
    with app.app_context():
        from core.extensions import db
        from core.models import Case, Task, User
        from core.services.cases import SYSTEM, change_status
        from core.services import cases, tasks

        cases.assign(db.session, db.session.get(Case, taken), db.session.get(User, team.ann_id), SYSTEM)
        tasks.update_task(db.session, db.session.get(Task, taken_task), SYSTEM, assignee=db.session.get(User, team.bob_id))
        change_status(db.session, db.session.get(Case, closed), "closed", SYSTEM)
        db.session.remove()

    page = text(signed_in(app, team.ann).get("/queue/"))
    assert queue_items(page) == [f"case:{late}", f"task:{late_task}", f"case:{soon}", f"case:{later}", f"task:{open_task}"]
    assert f"Queue team" in page
    assert re.search(r'id="queue-cases">3<', page) and re.search(r'id="queue-tasks">2<', page)
    assert "1 overdue" in page  # one case, one task
    assert "median age of the waiting items" in page


def test_a_supervisor_assigns_several_items_at_once_each_on_its_timeline(app, team):
    first = case_in(app, team)
    second = case_in(app, team, ROAD_DEBRIS)
    task = task_in(app, team, first, "Cut the branches")
    left = case_in(app, team)
    client = signed_in(app, team.supervisor)
    page = text(client.get("/queue/"))
    assert f'name="item" value="case:{first}"' in page and "Assign the selected items to" in page

    done = text(assign(client, team, [f"case:{first}", f"case:{second}", f"task:{task}"], team.ann_id))
    assert f"Assigned to {team.ann}:" in done
    for case_id in (first, second):
        snap = load(app, case_id)
        assert snap["assignee"] == team.ann
        assert ("assigned", team.supervisor, False, "", {"old": None, "new": team.ann}) in snap["events"]
    assignee, events = task_row(app, task)
    assert assignee == team.ann
    assert [(k, who) for k, who, _ in events][-1] == ("task_changed", team.supervisor)
    assert events[-1][2]["fields"] == {"assignee": [None, team.ann]}
    assert queue_items(done) == [f"case:{left}"]


def test_an_item_taken_in_the_meantime_is_skipped_not_reassigned(app, team):
    from core.extensions import db
    from core.models import Case, User
    from core.services import cases
    from core.services.cases import SYSTEM

    mine = case_in(app, team)
    raced = case_in(app, team)
    client = signed_in(app, team.supervisor)
    token = csrf_token(client.get("/queue/").get_data(as_text=True))
    with app.app_context():  # a colleague takes one while the supervisor looks at the page
        cases.assign(db.session, db.session.get(Case, raced), db.session.get(User, team.bob_id), SYSTEM)
        db.session.remove()
    raced_ref = load(app, raced)
    done = text(assign(client, team, [f"case:{mine}", f"case:{raced}"], team.ann_id, token=token))
    assert "not assigned:" in done
    assert load(app, raced)["assignee"] == team.bob and load(app, mine)["assignee"] == team.ann
    assert raced_ref["events"] == load(app, raced)["events"]


def test_department_staff_see_the_queue_read_only_and_cannot_assign(app, team):
    case_id = case_in(app, team)
    client = signed_in(app, team.ann)
    page = text(client.get("/queue/"))
    assert f'data-item="case:{case_id}"' in page
    assert "Read only: a supervisor of the department assigns these items." in page
    assert 'name="item"' not in page and "Assign the selected items to" not in page
    r = client.post("/queue/assign", data={"csrf_token": any_token(client), "department": str(team.department_id),
                                           "assignee": str(team.ann_id), "item": [f"case:{case_id}"]})
    assert r.status_code == 403
    assert load(app, case_id)["assignee"] is None


def test_a_supervisor_is_department_staff_too_but_only_for_their_departments(app, team, client_for):
    from core.extensions import db
    from core.models import Department, User

    case_id = case_in(app, team)
    client = signed_in(app, team.supervisor)
    assert client.get(f"/caseview/show/{case_id}").status_code == 200  # "Supervisor" includes "Department staff" ...
    assert client.get("/noticeview/list/").status_code == 200  # ... with what plugins give department staff
    with app.app_context():
        pw = db.session.scalar(sa.select(Department).where(Department.code == "PW")).id
        util_staff = db.session.scalar(sa.select(User).where(User.username == "util_staff")).id
        db.session.remove()
    assert client.get(f"/queue/?department={pw}").status_code == 404
    token = csrf_token(client.get("/queue/").get_data(as_text=True))
    r = client.post("/queue/assign", data={"csrf_token": token, "department": str(pw), "assignee": str(team.ann_id),
                                           "item": [f"case:{case_id}"]})
    assert r.status_code == 404
    outsider = text(assign(client, team, [f"case:{case_id}"], util_staff))
    assert f"Assignee: choose a person of Queue team" in outsider
    assert load(app, case_id)["assignee"] is None
    from tests.core.test_case_screens import make_case

    pw_case, pw_ref = make_case(app)  # a Public Works case slipped into the team's form: skipped, not named
    slipped = text(assign(client, team, [f"case:{pw_case}"], team.ann_id))
    assert f"not assigned: #{pw_case}." in slipped and pw_ref not in slipped
    assert load(app, pw_case)["assignee"] is None
    # Field crews have no queue; residents no staff screen at all.
    assert client_for("crew").get("/queue/").status_code == 403
    assert client_for("resident").get("/workload/").status_code == 403


def test_dispatchers_choose_the_department_and_may_assign(app, team, client_for):
    case_id = case_in(app, team)
    client = client_for("dispatcher")
    page = text(client.get(f"/queue/?department={team.department_id}"))
    assert f'data-item="case:{case_id}"' in page and "Queue team" in page and 'name="department"' in page
    done = text(assign(client, team, [f"case:{case_id}"], team.bob_id))
    assert f"Assigned to {team.bob}:" in done
    assert ("assigned", "dispatcher", False, "", {"old": None, "new": team.bob}) in load(app, case_id)["events"]


def test_the_queue_pages_and_counts_in_sql_without_a_query_per_item(app, team):
    ids = [case_in(app, team) for _ in range(53)]
    client = signed_in(app, team.ann)
    with recorded_sql(app) as statements:
        first = text(client.get("/queue/"))
    assert len(queue_items(first)) == 50 and re.search(r'id="queue-cases">53<', first)
    assert "Page 1 of 2" in first
    assert any("GROUP BY" in s and "UNION ALL" in s for s in statements)
    assert len(statements) < 30, len(statements)  # the same few queries for 50 rows as for 5
    second = text(client.get(f"/queue/?department={team.department_id}&page=1"))
    assert len(queue_items(second)) == 3 and "Page 2 of 2" in second
    assert sorted(int(i.split(":")[1]) for i in queue_items(first) + queue_items(second)) == sorted(ids)


# --- workload -------------------------------------------------------------------------------------


def test_workload_counts_open_and_overdue_items_per_person(app, team):
    from core.extensions import db
    from core.models import Case, Task, User
    from core.models.base import utcnow
    from core.services import cases, tasks
    from core.services.cases import SYSTEM

    now = utcnow()
    fresh = case_in(app, team)
    old = case_in(app, team, created_at=now - timedelta(days=15))
    done = case_in(app, team)
    late_task = task_in(app, team, fresh, "Inspect", due_at=now - timedelta(hours=3))
    crew_case = case_in(app, team)
    with app.app_context():
        from core.models import Crew

        ann = db.session.get(User, team.ann_id)
        for case_id in (fresh, old, done):
            cases.assign(db.session, db.session.get(Case, case_id), ann, SYSTEM)
        cases.change_status(db.session, db.session.get(Case, done), "closed", SYSTEM)
        tasks.update_task(db.session, db.session.get(Task, late_task), SYSTEM, assignee=ann)
        crew = Crew(name=f"Crew {team.code}", department_id=team.department_id)
        db.session.add(crew)
        db.session.commit()
        crew_id = crew.id
        db.session.remove()
    with app.app_context():
        tasks.add_task(db.session, db.session.get(Case, crew_case), department=db.session.get(Crew, crew_id).department,
                       title="Grind the stump", crew=db.session.get(Crew, crew_id))
        db.session.remove()

    page = text(signed_in(app, team.supervisor).get("/workload/"))

    def row(name: str) -> dict[str, str]:
        html = re.search(rf'<tr data-user="{re.escape(name)}"[^>]*>(.*?)</tr>', page, re.S).group(1)
        return {key: re.search(rf"data-{key}>([^<]*)<", html).group(1) for key in ("open-cases", "overdue-cases", "open-tasks", "overdue-tasks")}

    assert row(team.ann) == {"open-cases": "2", "overdue-cases": "1", "open-tasks": "1", "overdue-tasks": "1"}
    assert row(team.bob) == {"open-cases": "0", "overdue-cases": "0", "open-tasks": "0", "overdue-tasks": "0"}
    assert row(f"Crew {team.code}") == {"open-cases": "0", "overdue-cases": "0", "open-tasks": "1", "overdue-tasks": "0"}
    ann_row = re.search(rf'<tr data-user="{team.ann}"[^>]*>(.*?)</tr>', page, re.S).group(1)
    assert "2 weeks" in ann_row  # the oldest item: the 15-day-old case


def test_queue_forms_require_the_csrf_token_and_refuse_bad_input(app, team):
    case_id = case_in(app, team)
    client = signed_in(app, team.supervisor)
    r = client.post("/queue/assign", data={"department": str(team.department_id), "assignee": str(team.ann_id), "item": [f"case:{case_id}"]})
    assert r.status_code == 400
    assert load(app, case_id)["assignee"] is None
    r = client.get("/queue/?department=abc")
    assert r.status_code == 400 and "Department: must be a department number" in text(r)
    assert client.get("/queue/?page=-1").status_code == 400
    assert client.get("/workload/?department=99999999").status_code == 404
    bad = text(assign(client, team, ["case:abc"], team.ann_id))
    assert "Selection: “case:abc” is not an item of the queue" in bad
    none = text(assign(client, team, [], team.ann_id))
    assert "Selection: select at least one case or task" in none
    nobody = text(assign(client, team, [f"case:{case_id}"], 0))
    assert "Assignee: choose a person of" in nobody
    token = csrf_token(client.get("/queue/").get_data(as_text=True))
    r = client.post("/queue/assign", data={"csrf_token": token, "assignee": str(team.ann_id), "item": [f"case:{case_id}"]})
    assert r.status_code == 400 and "Department:" in text(r)
    assert load(app, case_id)["assignee"] is None


def test_a_role_that_includes_an_unknown_role_stops_start_up():
    from core import hookimpl
    from core.app import _roles
    from core.config import ConfigError, load_city_config
    from core.plugins import build_plugin_manager
    from core.records import RoleSpec

    class Misspelt:
        @hookimpl
        def register_roles(self):
            return [RoleSpec("Shift lead", (("QueueView", "can_assign"),), includes=("Departmnet staff",))]

    pm = build_plugin_manager(load_city_config(DEMO_CONFIG))
    assert _roles(pm)["Supervisor"][0] == ["^(?:QueueView)$", "^(?:can_assign)$"]
    pm.register(Misspelt(), name="misspelt")
    with pytest.raises(ConfigError, match="role 'Shift lead' includes the unknown role 'Departmnet staff'"):
        _roles(pm)
