"""At most ten SQL statements for each page people open most: the staff case list and case page, the resident
portal, Open311 GET.

A statement count is deterministic, so it is a test, not a benchmark: a page that grows an N+1 query or a
per-panel lookup fails here on both databases, and the failure lists every statement the request ran.
Every statement of the request is counted, the sign-in's user, roles and permissions included.  Each page is
opened once before it is counted, as a running server has already answered it (templates compiled); nothing
read from the database is kept between requests, so the second answer reads everything again.
"""
from __future__ import annotations

import html
import io
import uuid
from types import SimpleNamespace

import pytest
import sqlalchemy as sa
from PIL import Image

from tests.conftest import PASSWORD, recorded_sql
from tests.plugins.intake.test_accounts import new_case as resident_case
from tests.plugins.intake.test_accounts import new_resident, portal_client, somewhere, submit, utility_account

LIMIT = 10


def jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 30, 30)).save(out, "JPEG")
    return out.getvalue()


class Upload(io.BytesIO):
    """A file as the browser sends it (the shape of werkzeug's FileStorage)."""

    def __init__(self, data: bytes, filename: str, mimetype: str):
        super().__init__(data)
        self.stream, self.filename, self.mimetype = self, filename, mimetype


@pytest.fixture(scope="module")
def busy_case(app):
    """A pothole case with something in every panel of its page: two tasks (one a crew's work order), internal
    and public notes (one mentioning a colleague), photos (one public, one of a task), tags, a follower, a
    hand-off to another department and back, an incident, a suggested article, a possible duplicate and a
    report merged into it.  Returns its id, reference, place, and the references of the possible duplicate and of
    the merged report."""
    from core.extensions import db
    from core.models import Crew, Department, User
    from core.services import cases as case_service
    from core.services.attachments import store_attachment
    from core.services.incidents import create_incident
    from core.services.tasks import add_task
    from plugins.fieldservice.workorders import create_work_order
    from plugins.intake.following import follow

    from tests.plugins.knowledge.k3_content import make_article

    school_zone = f"school-zone-{uuid.uuid4().hex[:6]}"
    lat, long = somewhere()  # far from other tests' cases: none of theirs is a possible duplicate of ours
    make_article(app, title="Potholes near schools", summary="Cone the spot before the bus runs.", tags=[school_zone])
    with app.app_context():
        session = db.session
        users = {u.username: u for u in session.scalars(sa.select(User))}
        dispatcher = case_service.Actor.of(users["dispatcher"])
        staff = case_service.Actor.of(users["pw_staff"])
        pw = session.scalar(sa.select(Department).where(Department.code == "PW"))
        util = session.scalar(sa.select(Department).where(Department.code == "UTIL"))
        earlier = case_service.create_case(  # reported just before, a few metres away: a possible duplicate
            session, service_code="POTHOLE", attributes={"SIZE": "small"}, description="Hole near the bus stop",
            lat=lat + 0.00001, long=long + 0.00001, address="14 Pine Lakes Pkwy",
        )
        case = case_service.create_case(
            session, service_code="POTHOLE", attributes={"SIZE": "large"}, description="Deep hole by the curb",
            lat=lat, long=long, address="12 Pine Lakes Pkwy", contact_email=f"r.{uuid.uuid4().hex[:8]}@example.org",
        )
        case_service.set_tags(session, case, ["curb", school_zone], staff)
        case_service.add_note(session, case, "Cones are out; @dispatcher please check the school bus route.", staff)
        case_service.add_note(session, case, "A crew will fill the hole this week.", staff, public=True)
        case_service.reroute(session, case, util, dispatcher, "Water main leak under the hole?")
        case_service.reroute(session, case, pw, dispatcher, "No leak: the road itself")
        case_service.change_status(session, case, "in_progress", staff)
        crew = Crew(name=f"Crew {uuid.uuid4().hex[:6]}", department=pw, members=[users["crew"]])
        session.add(crew)
        session.commit()
        task = add_task(session, case, department=pw, title="Check the storm drain", actor=staff)
        create_work_order(session, case, actor=dispatcher, crew=crew, instructions="Bring cold patch")
        store_attachment(session, case, Upload(jpeg(), "hole.jpg", "image/jpeg"), "hole.jpg", staff, public=True)
        store_attachment(session, case, Upload(jpeg(), "drain.jpg", "image/jpeg"), "drain.jpg", staff, task=task)
        follow(case, f"neighbour.{uuid.uuid4().hex[:8]}@example.org")
        create_incident(session, f"Pine Lakes potholes {uuid.uuid4().hex[:6]}", "Three holes on one street", dispatcher, [case])
        again = case_service.create_case(  # the same hole, reported again, merged into the case
            session, service_code="POTHOLE", attributes={"SIZE": "large"}, description="Same hole, bigger now",
            lat=lat, long=long, channel="phone",
        )
        case_service.merge_into(session, again, case, dispatcher)
        found = SimpleNamespace(id=case.id, reference=case.reference, earlier=earlier.reference, merged=again.reference, lat=lat, long=long)
        db.session.remove()
    return found


def counted(app, client, url: str) -> list[str]:
    """The statements of one request for ``url`` (opened once before: caches of the running server are warm)."""
    assert client.get(url).status_code == 200, url
    with recorded_sql(app) as statements:
        response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return statements


def assert_few(statements: list[str], url: str) -> None:
    print(f"\n[statements] {len(statements):3} {url}")  # pytest -s shows the counts of every page
    listing = "\n".join(f"{n:3}. {s}" for n, s in enumerate(statements, 1))
    assert len(statements) <= LIMIT, f"{url} ran {len(statements)} SQL statements (at most {LIMIT}):\n{listing}"


# ---------------------------------------------------------------- staff screens

@pytest.mark.parametrize("username", ["dispatcher", "pw_staff"])
@pytest.mark.parametrize(
    "url",
    [
        "/caseview/list/",
        "/caseview/list/?_flt_0_status=new&_oc_CaseView=created_at&_od_CaseView=desc",
        "/caseview/list/?page_CaseView=2&psize_CaseView=25",
    ],
)
def test_the_staff_case_list_runs_at_most_ten_statements(app, client_for, busy_case, username, url):
    assert_few(counted(app, client_for(username), url), f"{url} ({username})")


@pytest.mark.parametrize("username", ["dispatcher", "pw_staff", "crew", "admin"])  # crew: they hold its work order
def test_a_busy_case_page_runs_at_most_ten_statements(app, client_for, busy_case, username):
    client = client_for(username)
    url = f"/caseview/show/{busy_case.id}"
    statements = counted(app, client, url)
    page = html.unescape(client.get(url).get_data(as_text=True))
    # Every panel had something to show: the count is that of a full page, not of an empty one.
    for shown in ("Check the storm drain", "Bring cold patch", "hole.jpg", "school-zone", "Pine Lakes potholes",
                  "Water main leak", "A crew will fill the hole", "Potholes near schools", "@dispatcher"):
        assert shown in page, shown
    assert f'class="civic-other-report" data-reference="{busy_case.merged}"' in page
    if username != "crew":  # those who may act on the case are offered the merge
        assert f'class="civic-possible-duplicate" data-reference="{busy_case.earlier}"' in page
    assert_few(statements, f"{url} ({username})")


# ---------------------------------------------------------------- the resident portal

@pytest.mark.parametrize("url", ["/portal/", "/portal/cases/{reference}"])
def test_the_portal_home_and_a_public_case_page_run_at_most_ten_statements(app, busy_case, url):
    url = url.format(reference=busy_case.reference)
    client = portal_client(app)
    statements = counted(app, client, url)
    if "cases" in url:
        page = client.get(url).get_data(as_text=True)
        assert "A crew will fill the hole" in page and "Cones are out" not in page  # the public note, never the internal one
    assert_few(statements, url)


def test_my_city_of_a_signed_in_resident_runs_at_most_ten_statements(app, busy_case):
    """Their own cases, a case they follow, and the open cases near their linked utility address."""
    from tests.conftest import csrf_token

    client, email, account_id = new_resident(app)
    lat, long = somewhere()
    number = utility_account(app, last_name="Baker", lat=lat, long=long)
    assert submit(client, "/portal/my-city/utility", {"account_number": number, "last_name": "Baker", "zipcode": "32137"}).status_code == 302
    mine = [resident_case(app, account_id=account_id, description=f"Pothole number {n} on my street", lat=lat, long=long) for n in range(3)]
    case_page = f"/portal/cases/{busy_case.reference}"
    follow = client.post(f"{case_page}/follow", data={"csrf_token": csrf_token(client.get(case_page).get_data(as_text=True))})
    assert follow.status_code == 302
    url = "/portal/my-city"
    statements = counted(app, client, url)
    page = client.get(url).get_data(as_text=True)
    assert all(reference in page for reference in [*mine, busy_case.reference])  # their cases and the one they follow
    assert_few(statements, url)
    assert_few(counted(app, client, case_page), f"{case_page} (signed in, following)")


# ---------------------------------------------------------------- Open311 GET

@pytest.mark.parametrize(
    "url",
    [
        "/open311/v2/services.json",
        "/open311/v2/services/POTHOLE.json",
        "/open311/v2/requests.json",
        "/open311/v2/requests.xml?service_code=POTHOLE&status=open",
        "/open311/v2/requests.json?lat={lat}&long={long}&radius=500&extensions=true",
        "/open311/v2/requests.json?page=1&page_size=20&extensions=true",
        "/open311/v2/requests/{reference}.json",
        "/open311/v2/requests/{reference}.json?extensions=true",
    ],
)
def test_open311_reads_run_at_most_ten_statements(app, busy_case, url):
    url = url.format(reference=busy_case.reference, lat=busy_case.lat, long=busy_case.long)
    assert_few(counted(app, app.test_client(), url), url)


# ---------------------------------------------------------------- roles kept in the database

def test_a_role_made_in_the_role_screens_is_read_once_per_request_and_never_kept_stale(app, client_for):
    """The city's roles are checked in memory; a role an admin adds in the database costs one statement per
    request (not one per permission check), and taking a permission away works from the next request on."""
    from core.extensions import db
    from core.services.users import create_user

    name, username = f"Night desk {uuid.uuid4().hex[:6]}", f"night_{uuid.uuid4().hex[:6]}"
    with app.app_context():
        sm = app.appbuilder.sm
        role = sm.add_role(name)
        for permission, view in (("can_list", "CaseView"), ("can_show", "CaseView"), ("menu_access", "Cases")):
            sm.add_permission_role(role, sm.add_permission_view_menu(permission, view))
        create_user(username, PASSWORD, name)
        db.session.remove()
    client = client_for(username)
    url = "/caseview/list/"
    statements = counted(app, client, url)
    reads = [s for s in statements if "ab_permission_view_role" in s]
    assert len(reads) == 1, reads  # the role's whole permission set, however many checks the page makes
    with app.app_context():
        sm = app.appbuilder.sm
        role = sm.find_role(name)
        sm.del_permission_role(role, sm.find_permission_view_menu("can_list", "CaseView"))
        db.session.remove()
    assert client.get(url).status_code in (302, 403)
