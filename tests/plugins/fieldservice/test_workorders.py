"""Work orders: a dispatcher or the department gives a case's work to a crew for a day; the crew completes it
from the field with notes (and a photo); the last one done resolves the case and the resident is told.

Both database backends; the database is shared by the session, so each test makes its own crews and cases.
"""
from __future__ import annotations

import io
import uuid
from contextlib import contextmanager
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from core.formats import city_today
from tests.conftest import csrf_token
from tests.smtp import smtp, smtp_server  # noqa: F401  (fixtures)

POTHOLE = {"service_code": "POTHOLE", "attributes": {"SIZE": "small"}}


def png() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 120, 20)).save(out, "PNG")
    return out.getvalue()


def tag() -> str:
    return uuid.uuid4().hex[:8]


def user(session, username):
    from core.models import User

    return session.scalar(sa.select(User).where(User.username == username))


def department(session, code):
    from core.models import Department

    return session.scalar(sa.select(Department).where(Department.code == code))


def new_crew(session, code="PW", members=("crew",)):
    from core.models import Crew

    crew = Crew(name=f"Crew {code} {tag()}", department=department(session, code), members=[user(session, m) for m in members])
    session.add(crew)
    session.commit()
    return crew


def new_case(session, **kwargs):
    from core.services.cases import create_case

    values = {"description": "Deep hole by the curb", "lat": 29.58, "long": -81.21, "address": "12 Pine Lakes Pkwy", **POTHOLE, **kwargs}
    return create_case(session, **values)


def actor(session, username):
    from core.services.cases import Actor

    u = user(session, username)
    return Actor(u.id, u.username)


def mails(app, case_id, kind):
    from core.extensions import db
    from core.models import OutboxMessage

    with app.app_context():
        stmt = sa.select(OutboxMessage).where(OutboxMessage.related == f"case:{case_id}", OutboxMessage.kind == kind)
        rows = [(m.recipient, m.body_text) for m in db.session.scalars(stmt)]
        db.session.remove()
    return rows


@contextmanager
def setup(app):
    """The database for a screen test, in an app context of its own: closed before the requests, so each
    signed-in client keeps its own user (a shared app context would share ``g.user``)."""
    from core.extensions import db

    with app.app_context():
        yield db.session
        db.session.remove()


def read(app, fn):
    """``fn(session)`` in a fresh app context (what the requests left in the database)."""
    from core.extensions import db

    with app.app_context():
        try:
            return fn(db.session)
        finally:
            db.session.remove()


def today_in_city(app) -> date:
    from plugins.fieldservice.workorder_screens import today

    with app.app_context():
        return today()


def post_form(client, page_url, url, data, **kwargs):
    html = client.get(page_url).get_data(as_text=True)
    return client.post(url, data={"csrf_token": csrf_token(html), **data}, **kwargs)


def fresh(session, model, pk):
    session.expire_all()
    return session.get(model, pk)


# ---------------------------------------------------------------- the service


def test_a_work_order_is_a_case_task_for_the_crew_with_its_day(app, session):
    from core.models import CaseEvent
    from plugins.fieldservice.workorders import create_work_order

    crew = new_crew(session)
    case = new_case(session)
    day = city_today() + timedelta(days=1)
    task = create_work_order(
        session, case, actor=actor(session, "dispatcher"), crew=crew, scheduled_for=day, instructions="Cold patch")
    assert task.crew_id == crew.id and task.department.code == "PW" and task.title == "Work order: Pothole"
    assert task.work_order.scheduled_for == day and task.instructions == "Cold patch"
    kinds = session.scalars(sa.select(CaseEvent.kind).where(CaseEvent.task_id == task.id)).all()
    assert kinds == ["task_added"]


def test_a_bad_schedule_or_a_crew_of_another_department_is_refused_naming_the_field(app, session):
    from core.services.cases import CaseError
    from plugins.fieldservice.workorders import create_work_order

    case = new_case(session)
    with pytest.raises(CaseError) as bad_day:
        create_work_order(session, case, actor=actor(session, "dispatcher"), scheduled_for="tomorrow")
    assert "scheduled_for" in bad_day.value.errors
    util_crew = new_crew(session, "UTIL", members=())
    with pytest.raises(CaseError) as wrong:
        create_work_order(session, case, actor=actor(session, "dispatcher"), crew=util_crew, department=department(session, "PW"))
    assert "crew" in wrong.value.errors


def test_crew_completes_the_last_work_order_and_the_case_is_resolved_and_the_resident_told(app, session, smtp):
    from core.models import Case, Task
    from plugins.fieldservice.workorders import complete_work_order, create_work_order

    email = f"resident.{tag()}@example.org"
    crew = new_crew(session)
    case = new_case(session, contact_email=email)
    first = create_work_order(session, case, actor=actor(session, "dispatcher"), crew=crew, scheduled_for=city_today())
    second = create_work_order(session, case, actor=actor(session, "dispatcher"), crew=crew, scheduled_for=city_today())

    complete_work_order(session, first, actor(session, "crew"), notes="Cut the hole square")
    assert fresh(session, Case, case.id).status == "new"  # one work order still open: the case stays open
    assert mails(app, case.id, "case_closed") == []

    complete_work_order(session, fresh(session, Task, second.id), actor(session, "crew"), notes="Patched and rolled flat")
    case = fresh(session, Case, case.id)
    assert case.status == "resolved"
    second = session.get(Task, second.id)
    assert second.status == "done" and second.work_order.completion_notes == "Patched and rolled flat"
    [(recipient, body)] = mails(app, case.id, "case_closed")
    assert recipient == email and "Patched and rolled flat" in body
    resolved = [e for e in case.events if e.kind == "status_changed" and (e.data or {}).get("new") == "resolved"]
    assert len(resolved) == 1 and resolved[0].public and resolved[0].actor_label == "crew"

    from core.notify import deliver_due

    deliver_due(limit=1000)  # the worker sends what the change queued (and whatever other tests left)
    closing = [m for m in smtp.to(email) if case.reference in m["Subject"] and "Patched and rolled flat" in m.get_body(("plain",)).get_content()]
    assert len(closing) == 1


def test_other_open_tasks_do_not_keep_the_case_open_but_are_recorded(app, session):
    from core.models import Case
    from core.services.tasks import add_task
    from plugins.fieldservice.workorders import complete_work_order, create_work_order

    crew = new_crew(session)
    case = new_case(session)
    desk = add_task(session, case, department=department(session, "PW"), title="Update the asset register")
    order = create_work_order(session, case, actor=actor(session, "dispatcher"), crew=crew)
    complete_work_order(session, order, actor(session, "crew"), notes="Done")
    case = fresh(session, Case, case.id)
    assert case.status == "resolved"
    assert any(e.kind == "open_tasks_confirmed" and desk.id in e.data["open_tasks"] for e in case.events)


def test_a_work_order_done_from_the_core_tasks_panel_resolves_the_case_with_its_note(app, session):
    from core.models import Case
    from core.services.tasks import change_task_status
    from plugins.fieldservice.workorders import create_work_order

    case = new_case(session)
    order = create_work_order(session, case, actor=actor(session, "dispatcher"), crew=new_crew(session))
    change_task_status(session, order, "done", actor(session, "pw_staff"), note="Cleared by hand")
    case = fresh(session, Case, case.id)
    [resolved] = [e for e in case.events if e.kind == "status_changed"]
    assert case.status == "resolved" and resolved.body == "Cleared by hand" and resolved.actor_label == "pw_staff"


def test_completing_needs_notes(app, session):
    from core.services.cases import CaseError
    from plugins.fieldservice.workorders import complete_work_order, create_work_order

    order = create_work_order(session, new_case(session), actor=actor(session, "dispatcher"), crew=new_crew(session))
    with pytest.raises(CaseError) as missing:
        complete_work_order(session, order, actor(session, "crew"), notes="  ")
    assert list(missing.value.errors) == ["notes"]


def test_crew_day_lists_only_that_crews_orders_of_the_day_and_its_overdue_ones(app, session):
    from plugins.fieldservice.workorders import complete_work_order, create_work_order, crew_day

    mine, other = new_crew(session), new_crew(session)
    day = date(2031, 3, 10)
    by = actor(session, "dispatcher")
    today_open = create_work_order(session, new_case(session), actor=by, crew=mine, scheduled_for=day)
    today_done = create_work_order(session, new_case(session), actor=by, crew=mine, scheduled_for=day)
    complete_work_order(session, today_done, actor(session, "crew"), notes="ok")
    overdue = create_work_order(session, new_case(session), actor=by, crew=mine, scheduled_for=day - timedelta(days=2))
    old_done = create_work_order(session, new_case(session), actor=by, crew=mine, scheduled_for=day - timedelta(days=2))
    complete_work_order(session, old_done, actor(session, "crew"), notes="ok")
    create_work_order(session, new_case(session), actor=by, crew=mine, scheduled_for=day + timedelta(days=1))
    create_work_order(session, new_case(session), actor=by, crew=other, scheduled_for=day)
    session.expire_all()
    assert [o.task_id for o in crew_day(session, [mine.id], day)] == [overdue.id, today_open.id, today_done.id]


def test_crew_day_runs_the_same_few_queries_for_three_or_six_orders(app, session):
    """One query with joins (the related rows' own eager loads add a fixed few), never one per work order."""
    from tests.conftest import recorded_sql

    from plugins.fieldservice.workorders import create_work_order, crew_day

    crew = new_crew(session)
    crew_id, day = crew.id, date(2031, 4, 1)

    def count_queries(expected: int) -> int:
        session.expire_all()
        with recorded_sql(app) as statements:
            orders = crew_day(session, [crew_id], day)
            [(o.task.case.reference, o.task.crew.name, o.task.case.service_type.code, o.segment) for o in orders]
        assert len(orders) == expected
        assert sum("fieldservice_work_order" in s for s in statements) == 1
        return len(statements)

    for _ in range(3):
        create_work_order(session, new_case(session), actor=actor(session, "dispatcher"), crew=crew, scheduled_for=day)
    three = count_queries(3)
    for _ in range(3):
        create_work_order(session, new_case(session), actor=actor(session, "dispatcher"), crew=session.get(type(crew), crew_id), scheduled_for=day)
    assert count_queries(6) == three


def test_the_demo_gives_each_crew_a_few_work_orders_once(app, session):
    from core.models import Task
    from plugins.fieldservice.models import WorkOrder
    from plugins.fieldservice.workorders import load_demo_work_orders

    crews = [new_crew(session), new_crew(session)]
    for _ in range(4):
        new_case(session)
    made = load_demo_work_orders(session, crews, per_crew=2)
    assert len(made) == 4 and {t.crew_id for t in made} == {c.id for c in crews}
    assert load_demo_work_orders(session, crews, per_crew=2) == []
    count = sa.select(sa.func.count()).select_from(WorkOrder).join(Task, Task.id == WorkOrder.task_id).where(Task.crew_id.in_([c.id for c in crews]))
    assert session.scalar(count) == 4


# ---------------------------------------------------------------- the screens


def test_dispatcher_creates_a_work_order_from_the_case_page(app, client_for):
    from core.models import Case

    with setup(app) as session:
        crew_id, case_id = new_crew(session).id, new_case(session).id
    client = client_for("dispatcher")
    form_page = f"/fieldservice/workorders/create/{case_id}"
    response = post_form(client, form_page, form_page, {"crew": crew_id, "scheduled_for": "2031-05-02", "instructions": "Bring cones"})
    assert response.status_code == 302, response.get_data(as_text=True)
    [(crew, day)] = read(app, lambda s: [(t.crew_id, t.work_order.scheduled_for) for t in s.get(Case, case_id).tasks])
    assert (crew, day) == (crew_id, date(2031, 5, 2))

    bad = post_form(client, form_page, form_page, {"crew": crew_id, "scheduled_for": "next tuesday"})
    assert bad.status_code == 400 and "Scheduled for: must be a date" in bad.get_data(as_text=True)
    wrong = post_form(client, form_page, form_page, {"crew": "999999999"})
    assert wrong.status_code == 400 and "Crew: choose one of the crews offered" in wrong.get_data(as_text=True)


def test_the_case_page_shows_the_work_orders_panel_with_its_form(app, client_for):
    from flask import url_for

    from plugins.fieldservice.workorders import create_work_order

    with setup(app) as session:
        crew = new_crew(session)
        case = new_case(session)
        create_work_order(session, case, actor=actor(session, "dispatcher"), crew=crew)
        crew_name, case_id = crew.name, case.id
        with app.test_request_context():
            url = url_for("CaseView.show", pk=case_id)
    html = client_for("pw_staff").get(url).get_data(as_text=True)
    assert 'id="work-orders"' in html and f"/fieldservice/workorders/create/{case_id}" in html and crew_name in html
    crew_html = client_for("crew").get(url).get_data(as_text=True)
    assert 'id="work-orders"' in crew_html and f"/fieldservice/workorders/create/{case_id}" not in crew_html


def test_crew_checks_off_a_work_order_from_the_phone_with_a_photo(app, client_for):
    from core.models import Attachment, Case, Task
    from plugins.fieldservice.workorders import create_work_order

    with setup(app) as session:
        crew = new_crew(session)
        case = new_case(session)
        order = create_work_order(session, case, actor=actor(session, "dispatcher"), crew=crew, scheduled_for=city_today())
        crew_id, case_id, order_id = crew.id, case.id, order.id
    client = client_for("crew")
    day = client.get(f"/fieldservice/workorders/day/?crew={crew_id}")
    assert day.status_code == 200 and f'id="wo-{order_id}"' in day.get_data(as_text=True)
    url = f"/fieldservice/workorders/complete/{order_id}"
    empty = post_form(client, url, url, {"notes": ""})
    assert empty.status_code == 400 and "What was done: say what was done" in empty.get_data(as_text=True)
    done = post_form(client, url, url, {"notes": "Filled and tamped", "photo": (io.BytesIO(png()), "after.png"),
                                        "next": "//elsewhere.example/phish"}, content_type="multipart/form-data")
    assert done.status_code == 302, done.get_data(as_text=True)
    assert "elsewhere" not in done.headers["Location"] and f"/fieldservice/workorders/day/?crew={crew_id}" in done.headers["Location"]
    assert read(app, lambda s: (s.get(Task, order_id).status, s.get(Case, case_id).status)) == ("done", "resolved")
    photos = read(app, lambda s: s.scalar(sa.select(sa.func.count()).select_from(Attachment).where(Attachment.task_id == order_id)))
    assert photos == 1


def test_a_crew_member_of_another_department_gets_403(app, client_for):
    from core.services.users import create_user
    from plugins.fieldservice.workorders import create_work_order

    name = f"ucrew{tag()}"
    with setup(app) as session:
        create_user(name, "correct-horse-battery", "Field crew", email=f"{name}@palmcoast.example.gov", departments=[department(session, "UTIL")])
        util_crew = new_crew(session, "UTIL", members=(name,))
        util_crew_id = util_crew.id
        own_id = create_work_order(session, new_case(session), actor=actor(session, "dispatcher"), crew=util_crew).id
        order = create_work_order(session, new_case(session), actor=actor(session, "dispatcher"), crew=new_crew(session))
        order_id, pw_crew_id = order.id, order.crew_id
    client = client_for(name)
    assert client.get(f"/fieldservice/workorders/day/?crew={pw_crew_id}").status_code == 403
    own_page = f"/fieldservice/workorders/day/?crew={util_crew_id}"
    assert client.get(own_page).status_code == 200
    url = f"/fieldservice/workorders/complete/{order_id}"
    assert client.get(url).status_code == 404  # not even theirs to see
    own_form = f"/fieldservice/workorders/complete/{own_id}"
    assert post_form(client, own_form, url, {"notes": "not mine"}).status_code == 404


def test_bad_filters_are_400_naming_the_field(app, client_for):
    client = client_for("dispatcher")
    bad_day = client.get("/fieldservice/workorders/day/?date=31-12-2031")
    assert bad_day.status_code == 400 and "Day: must be a date" in bad_day.get_data(as_text=True)
    assert client.get("/fieldservice/workorders/day/?crew=abc").status_code == 400
    assert client.get("/fieldservice/workorders/?status=nope").status_code == 400


def test_dispatcher_lists_work_orders_by_crew_and_day(app, client_for):
    from plugins.fieldservice.workorders import create_work_order

    with setup(app) as session:
        crew, other = new_crew(session), new_crew(session)
        by = actor(session, "dispatcher")
        mine = create_work_order(session, new_case(session), actor=by, crew=crew, scheduled_for=date(2031, 6, 1)).id
        theirs = create_work_order(session, new_case(session), actor=by, crew=other, scheduled_for=date(2031, 6, 1)).id
        crew_id = crew.id
    html = client_for("dispatcher").get(f"/fieldservice/workorders/?crew={crew_id}&day=2031-06-01").get_data(as_text=True)
    assert f'data-task="{mine}"' in html and f'data-task="{theirs}"' not in html
    assert client_for("resident").get("/fieldservice/workorders/").status_code in (302, 403)
