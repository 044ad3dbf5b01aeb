"""Mentions in internal comments (@UTIL, @util_staff), their e-mails, the "For me" screen, and internal
notes that residents never see (the portal and Open311)."""
from __future__ import annotations

import html
import json
import re
import uuid
from contextlib import contextmanager
from datetime import timedelta

import sqlalchemy as sa

from core.models.base import utcnow
from tests.conftest import PASSWORD, csrf_token
from tests.smtp import parts, smtp, smtp_server  # noqa: F401  (fixtures)

POTHOLE = {"service_code": "POTHOLE", "attributes": {"SIZE": "large"}}  # Public Works (PW)
METER = {"service_code": "METER", "attributes": {}}  # Utilities (UTIL)


def tag() -> str:
    return uuid.uuid4().hex[:8]


@contextmanager
def in_app(app):
    """The database session of an app context of its own (pages are requested outside it)."""
    from core.extensions import db

    with app.app_context():
        try:
            yield db.session
        finally:
            db.session.remove()


def new_case(app, kind=POTHOLE, **kwargs) -> tuple[int, str]:
    from core.services.cases import create_case

    with in_app(app) as session:
        case = create_case(session, **{**kind, **kwargs})
        return case.id, case.reference


def note(app, case_id: int, body: str, username: str, public: bool = False) -> int:
    """A note written through the case service by a staff member; returns the timeline entry's id."""
    from core.models import Case, User
    from core.services.cases import Actor, add_note

    with in_app(app) as session:
        author = session.scalar(sa.select(User).where(User.username == username))
        return add_note(session, session.get(Case, case_id), body, Actor.of(author), public=public).id


def mentions_of(app, case_id: int) -> list[tuple[str | None, str | None]]:
    """(department code, username) of each mention on the case, in the order they were made."""
    from core.models import Department, Mention, User

    with in_app(app) as session:
        return [tuple(r) for r in session.execute(
            sa.select(Department.code, User.username).select_from(Mention)
            .outerjoin(Department, Department.id == Mention.department_id).outerjoin(User, User.id == Mention.user_id)
            .where(Mention.case_id == case_id).order_by(Mention.id)
        )]


def mention_mails(app, case_id: int) -> dict[str, dict]:
    """The outbox's mention e-mails about the case, by recipient."""
    from core.models import OutboxMessage

    with in_app(app) as session:
        rows = session.scalars(sa.select(OutboxMessage).where(OutboxMessage.kind == "mention", OutboxMessage.related == f"case:{case_id}"))
        return {m.recipient: {"subject": m.subject, "text": m.body_text, "html": m.body_html, "locale": m.locale} for m in rows}


def make_staff(app, role: str = "Department staff", departments=(), active: bool = True, **kwargs) -> str:
    from core.models import Department
    from core.services.users import create_user

    username = f"staff_{tag()}"
    with in_app(app) as session:
        depts = [session.scalar(sa.select(Department).where(Department.code == c)) for c in departments]
        user = create_user(username, PASSWORD, role, email=f"{username}@palmcoast.example.gov", departments=depts, **kwargs)
        user.active = active
        session.commit()
    return username


def make_department(app, email: str | None = None) -> str:
    from core.models import Department

    code = f"D{tag()}".upper()
    with in_app(app) as session:
        session.add(Department(code=code, name=f"Department {code}", email=email))
        session.commit()
    return code


def page_text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def write_note(client, case_id: int, body: str, action: str = "internal_note") -> str:
    page = client.get(f"/caseview/show/{case_id}").get_data(as_text=True)
    data = {"csrf_token": csrf_token(page), "action": action, "body": body}
    return page_text(client.post(f"/caseview/act/{case_id}", data=data, follow_redirects=True))


def for_me(client, **args) -> str:
    response = client.get("/forme/", query_string=args)
    assert response.status_code == 200, response.status_code
    return page_text(response)


def listed_mentions(page: str) -> list[tuple[str, str]]:
    """(mention id, case reference) of each mention listed on the "For me" page."""
    return re.findall(r'<li class="civic-mention \w+" data-mention="(\d+)" data-case="([^"]+)">', page)


# --- mentions in internal notes ----------------------------------------------------------------


def test_internal_note_mentioning_utilities_and_a_colleague_notifies_both(app, client_for):
    case_id, reference = new_case(
        app, description="Sinkhole with water", address="12 Palm Harbor Pkwy", contact_name="Philomena Resident",
        contact_email="philomena@private.example", contact_phone="386-555-0177",
    )
    comment = "@UTIL is this your main? @util_staff can you check the valve tonight?"
    page = write_note(client_for("pw_staff"), case_id, comment)
    assert "Internal note added; @UTIL, @util_staff will be notified." in page
    assert mentions_of(app, case_id) == [("UTIL", None), (None, "util_staff")]
    mails = mention_mails(app, case_id)
    assert set(mails) == {"util@palmcoast.example.gov", "util_staff@palmcoast.example.gov"}
    personal, shared = mails["util_staff@palmcoast.example.gov"], mails["util@palmcoast.example.gov"]
    assert personal["subject"] == f"pw_staff mentioned you on case {reference}"
    assert shared["subject"] == f"pw_staff mentioned UTIL on case {reference}"
    for mail in (personal, shared):
        assert comment in mail["text"] and f"http://localhost/caseview/show/{case_id}" in mail["text"]
        assert "Pothole" in mail["text"] and mail["locale"] == "en"
        assert f'href="http://localhost/caseview/show/{case_id}"' in mail["html"]
        for private in ("Philomena", "philomena@private.example", "555-0177", "Palm Harbor", "Sinkhole"):
            assert private not in mail["text"] and private not in mail["html"]


def test_mentions_ignore_case_and_unknown_names_addresses_residents_and_oneself_stay_text(app):
    case_id, _ = new_case(app)
    body = ("@util and @Util_Staff. Ask @nobody, mail jdoe@pw.example.gov, "
            "@resident is not staff and @pw_staff is me; @UTIL again.")
    note(app, case_id, body, "pw_staff")
    assert mentions_of(app, case_id) == [("UTIL", None), (None, "util_staff")]
    assert set(mention_mails(app, case_id)) == {"util@palmcoast.example.gov", "util_staff@palmcoast.example.gov"}


def test_a_public_note_mentions_nobody(app, client_for):
    case_id, _ = new_case(app)
    page = write_note(client_for("pw_staff"), case_id, "Thanks for the report, @UTIL and @util_staff are on it.", "public_note")
    assert "Public note added." in page
    assert mentions_of(app, case_id) == []
    assert mention_mails(app, case_id) == {}


def test_a_note_without_any_known_name_is_just_a_note(app, client_for):
    case_id, _ = new_case(app)
    page = write_note(client_for("pw_staff"), case_id, "Gate code is @1234, ask @nobody-here.")
    assert "Internal note added." in page and "will be notified" not in page
    assert mentions_of(app, case_id) == []


def test_department_without_an_address_emails_each_active_member_but_the_author(app):
    code = make_department(app, email=None)
    author = make_staff(app, departments=[code])
    colleague = make_staff(app, departments=[code])
    make_staff(app, departments=[code], active=False)
    case_id, reference = new_case(app)
    note(app, case_id, f"@{code.lower()} please have a look", author)
    assert mentions_of(app, case_id) == [(code, None)]
    mails = mention_mails(app, case_id)
    assert list(mails) == [f"{colleague}@palmcoast.example.gov"]
    assert mails[f"{colleague}@palmcoast.example.gov"]["subject"] == f"{author} mentioned {code} on case {reference}"


def test_someone_named_and_in_a_named_department_gets_one_email_the_personal_one(app):
    code = make_department(app, email=None)
    member = make_staff(app, departments=[code])
    case_id, reference = new_case(app)
    note(app, case_id, f"@{code} and especially @{member}", "pw_staff")
    mails = mention_mails(app, case_id)
    assert list(mails) == [f"{member}@palmcoast.example.gov"]
    assert mails[f"{member}@palmcoast.example.gov"]["subject"] == f"pw_staff mentioned you on case {reference}"


def test_a_task_note_mentions_too_and_the_email_names_the_task(app):
    from core.models import Case, Department, Task, User
    from core.services.cases import Actor
    from core.services.tasks import add_task_note

    case_id, reference = new_case(app)
    with in_app(app) as session:
        pw = session.scalar(sa.select(Department).where(Department.code == "PW"))
        task = Task(case=session.get(Case, case_id), department=pw, title="Cut the tree off the line")
        session.add(task)
        session.commit()
        author = session.scalar(sa.select(User).where(User.username == "pw_staff"))
        add_task_note(session, task, "Cut done; @UTIL can restore power now", Actor.of(author))
    assert mentions_of(app, case_id) == [("UTIL", None)]
    mail = mention_mails(app, case_id)["util@palmcoast.example.gov"]
    assert "Task: Cut the tree off the line" in mail["text"] and "can restore power now" in mail["text"]
    assert mail["subject"] == f"pw_staff mentioned UTIL on case {reference}"


def test_mention_email_goes_out_through_the_outbox_worker(app, smtp):
    from core.notify import deliver_due

    case_id, reference = new_case(app)
    note(app, case_id, "@util_staff the hydrant is leaking", "pw_staff")
    with app.app_context():
        deliver_due(limit=1000)
    [mail] = [m for m in smtp.to("util_staff@palmcoast.example.gov") if reference in m["Subject"]]
    assert mail["Subject"] == f"pw_staff mentioned you on case {reference}"
    text, body_html = parts(mail)
    assert "the hydrant is leaking" in text and "the hydrant is leaking" in body_html


def test_a_mention_grants_no_access_and_for_me_says_so(app, client_for):
    case_id, reference = new_case(app)  # a Public Works case
    note(app, case_id, "@UTIL is this one yours?", "pw_staff")
    client = client_for("util_staff")
    assert client.get(f"/caseview/show/{case_id}").status_code == 404
    page = for_me(client)
    item = page[page.index(f'data-case="{reference}"'):]
    item = item[:item.index("</li>")]
    assert f"/caseview/show/{case_id}" not in item
    assert "Your departments cannot open this case" in item


def test_case_page_lists_who_was_mentioned_and_whether_they_read_it(app, client_for):
    case_id, _ = new_case(app)
    note(app, case_id, "@UTIL @util_staff FYI", "pw_staff")
    page = page_text(client_for("pw_staff").get(f"/caseview/show/{case_id}"))
    panel = page[page.index("civic-case-mentions"):]
    panel = panel[:panel.index("</ul>")]
    assert "@UTIL" in panel and "@util_staff" in panel and panel.count("unread") == 2


# --- "For me" ------------------------------------------------------------------------------------


def test_for_me_lists_my_mentions_and_my_departments_and_not_others(app, client_for):
    case_id, reference = new_case(app, METER)  # a Utilities case: util_staff may open it
    note(app, case_id, "@UTIL @util_staff the meter reads backwards", "dispatcher")
    mine = for_me(client_for("util_staff"))
    assert [ref for _, ref in listed_mentions(mine)].count(reference) == 2
    assert f'href="/caseview/show/{case_id}"' in mine and "the meter reads backwards" in mine
    assert reference not in for_me(client_for("pw_staff"))


def test_marking_a_mention_read_needs_the_form_token_and_hides_it_from_the_unread_list(app, client_for):
    from core.models import Mention

    case_id, reference = new_case(app, METER)
    note(app, case_id, "@util_staff please call the resident back", "dispatcher")
    client = client_for("util_staff")
    page = for_me(client)
    [mention_id] = [mid for mid, ref in listed_mentions(page) if ref == reference]
    refused = client.post(f"/forme/read/{mention_id}")  # no CSRF token
    assert refused.status_code == 400
    assert reference in for_me(client)
    done = client.post(f"/forme/read/{mention_id}", data={"csrf_token": csrf_token(page)}, follow_redirects=True)
    assert "Mention marked as read." in page_text(done)
    assert reference not in for_me(client)
    everything = for_me(client, all="1")
    item = everything[everything.index(f'data-mention="{mention_id}"'):]
    assert "Read " in item[:item.index("</li>")]
    with in_app(app) as session:
        assert session.get(Mention, int(mention_id)).read_at is not None


def test_nobody_marks_someone_elses_mention_read(app, client_for):
    from core.models import Mention

    case_id, reference = new_case(app, METER)
    note(app, case_id, "@util_staff private to you", "dispatcher")
    page = for_me(client_for("util_staff"))
    [mention_id] = [mid for mid, ref in listed_mentions(page) if ref == reference]
    other = client_for("pw_staff")
    token = csrf_token(other.get("/caseview/add?service=POTHOLE").get_data(as_text=True))
    assert other.post(f"/forme/read/{mention_id}", data={"csrf_token": token}).status_code == 404
    assert other.post("/forme/read/99999999999999999999", data={"csrf_token": token}).status_code == 404
    with in_app(app) as session:
        assert session.get(Mention, int(mention_id)).read_at is None


def test_mark_all_read_clears_my_list_and_my_departments(app, client_for):
    code = make_department(app, email=f"{tag()}@palmcoast.example.gov")
    user = make_staff(app, departments=[code])
    case_id, reference = new_case(app, METER)
    note(app, case_id, f"@{user} first", "dispatcher")
    note(app, case_id, f"@{code} second", "dispatcher")
    client = client_for(user)
    page = for_me(client)
    assert [ref for _, ref in listed_mentions(page)].count(reference) == 2
    done = page_text(client.post("/forme/read-all", data={"csrf_token": csrf_token(page)}, follow_redirects=True))
    assert re.search(r"\d+ mentions marked as read\.", done)
    assert listed_mentions(for_me(client)) == []


def test_for_me_pages_mentions_twenty_at_a_time_and_refuses_a_bad_page(app, client_for):
    from core.models import Case, CaseEvent, Mention, User

    user = make_staff(app)
    case_id, _ = new_case(app)
    with in_app(app) as session:
        person = session.scalar(sa.select(User).where(User.username == user))
        case = session.get(Case, case_id)
        for n in range(25):
            event = CaseEvent(case=case, kind="internal_note", actor_label="dispatcher", body=f"note {n}", public=False)
            session.add(event)
            session.flush()
            session.add(Mention(case_id=case_id, event_id=event.id, user_id=person.id, created_at=utcnow() - timedelta(minutes=n)))
        session.commit()
    client = client_for(user)
    first, second = for_me(client), for_me(client, mp="2")
    assert len(listed_mentions(first)) == 20 and len(listed_mentions(second)) == 5
    assert "note 0" in first and "note 24" in second  # newest first
    assert "Page 1 of 2" in first
    for bad in ("0", "abc", "-1", "99999999999"):
        response = client.get("/forme/", query_string={"mp": bad})
        assert response.status_code == 400 and "Page: must be a page number" in page_text(response)


def test_for_me_lists_my_tasks_my_crews_tasks_and_my_departments_unassigned_tasks(app, client_for):
    from core.models import Case, Crew, Department, Task, User

    user = make_staff(app, departments=["UTIL"])
    case_id, reference = new_case(app, METER)
    soon, later = utcnow() + timedelta(hours=2), utcnow() + timedelta(days=3)
    with in_app(app) as session:
        util = session.scalar(sa.select(Department).where(Department.code == "UTIL"))
        ce = session.scalar(sa.select(Department).where(Department.code == "CE"))  # nobody's department in the fixtures
        person = session.scalar(sa.select(User).where(User.username == user))
        crew = Crew(name=f"Valve crew {tag()}", department=util, members=[person])
        session.add(crew)
        case = session.get(Case, case_id)
        titles = {}
        for key, dept, extra in (
            ("mine", util, {"assignee": person, "due_at": later}),
            ("crew", util, {"crew": crew, "due_at": soon}),
            ("free", util, {}),
            ("done", util, {"status": "done"}),
            ("other", ce, {}),
        ):
            titles[key] = f"{key} task {tag()}"
            session.add(Task(case=case, department=dept, title=titles[key], **extra))
        session.commit()
    page = for_me(client_for(user))
    mine = page[page.index('id="my-tasks"'):page.index('id="department-tasks"')]
    waiting = page[page.index('id="department-tasks"'):]
    assert mine.index(titles["crew"]) < mine.index(titles["mine"])  # due first
    assert titles["free"] not in mine and titles["done"] not in mine
    assert titles["free"] in waiting and titles["mine"] not in waiting and titles["crew"] not in waiting
    assert titles["done"] not in page and titles["other"] not in page
    assert f'href="/caseview/show/{case_id}"' in mine and reference in waiting


def test_the_for_me_menu_entry_counts_unread_mentions_and_my_open_tasks(app, client_for):
    from core.models import Case, Department, Task, User

    code = make_department(app, email=f"{tag()}@palmcoast.example.gov")
    user = make_staff(app, departments=[code])
    case_id, _ = new_case(app, METER)
    note(app, case_id, f"@{user} one", "dispatcher")
    note(app, case_id, f"@{user} two, and @{code}", "dispatcher")
    with in_app(app) as session:
        person = session.scalar(sa.select(User).where(User.username == user))
        department = session.scalar(sa.select(Department).where(Department.code == code))
        session.add(Task(case=session.get(Case, case_id), department=department, title="Read the meter", assignee=person))
        session.commit()
    client = client_for(user)
    page = client.get("/caseview/list/").get_data(as_text=True)
    badge = r'href="/forme/"[^>]*>\s*<i class="fa fa-fw fa-bell"></i>&nbsp;\s*For me <span class="badge civic-for-me-count">(\d+)</span>'
    assert re.search(badge, page).group(1) == "4"  # two mentions of me, one of my department, one task
    listing = for_me(client)
    client.post("/forme/read-all", data={"csrf_token": csrf_token(listing)})
    page = client.get("/caseview/list/").get_data(as_text=True)
    assert re.search(badge, page).group(1) == "1"  # the task is still open


def test_for_me_needs_a_signed_in_staff_member(app, client_for):
    assert client_for(None).get("/forme/").status_code == 302
    resident = client_for("resident").get("/forme/")
    assert resident.status_code in (302, 403)
    assert client_for("crew").get("/forme/").status_code == 200
    assert client_for("dispatcher").get("/forme/").status_code == 200


# --- internal notes never reach residents ------------------------------------------------------------


def test_internal_notes_are_never_shown_on_the_portal_or_in_open311(app):
    word = tag()
    case_id, reference = new_case(app)
    note(app, case_id, f"INTERNAL {word}: @UTIL the gate code is 4417", "pw_staff")
    note(app, case_id, f"PUBLIC {word}: a crew comes Monday", "pw_staff", public=True)
    guest = app.test_client()
    portal = page_text(guest.get(f"/portal/cases/{reference}"))
    assert f"PUBLIC {word}" in portal and f"INTERNAL {word}" not in portal and "4417" not in portal
    for path in (f"/open311/v2/requests/{reference}.json?extensions=true", f"/open311/v2/requests.json?service_request_id={reference}&extensions=true"):
        response = guest.get(path)
        assert response.status_code == 200
        answer = json.dumps(response.get_json())
        assert f"PUBLIC {word}" in answer and f"INTERNAL {word}" not in answer and "4417" not in answer
    xml = guest.get(f"/open311/v2/requests/{reference}.xml?extensions=true").get_data(as_text=True)
    assert f"PUBLIC {word}" in xml and f"INTERNAL {word}" not in xml


def test_markup_in_a_comment_or_a_reason_is_shown_as_text_never_run(app, client_for):
    from core.models import Case, Department, User
    from core.services.cases import Actor, reroute

    case_id, _ = new_case(app, METER)
    note(app, case_id, "<script>alert('x')</script> @util_staff look", "dispatcher")
    with in_app(app) as session:
        dispatcher = session.scalar(sa.select(User).where(User.username == "dispatcher"))
        pw = session.scalar(sa.select(Department).where(Department.code == "PW"))
        reroute(session, session.get(Case, case_id), pw, Actor.of(dispatcher), "<img src=x onerror=alert(1)>")
    escaped = "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"
    listing = client_for("util_staff").get("/forme/").get_data(as_text=True)
    assert escaped in listing and "<script>alert(" not in listing
    case_page = client_for("dispatcher").get(f"/caseview/show/{case_id}").get_data(as_text=True)
    assert "&lt;img src=x onerror=alert(1)&gt;" in case_page and "<img src=x" not in case_page
    mail = mention_mails(app, case_id)["util_staff@palmcoast.example.gov"]
    assert escaped in mail["html"] and "<script>" not in mail["html"]
