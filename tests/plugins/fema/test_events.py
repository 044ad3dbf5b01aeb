"""Disasters and the active event: the EOC declares an event, new cases and work orders carry its tag, residents
see a banner with the storm services, and the FEMA coordinator switches events from the Disasters screen."""
from __future__ import annotations

import re
import uuid
from datetime import date

import pytest
import sqlalchemy as sa

from tests.conftest import PASSWORD, csrf_token, login

POTHOLE = {"service_code": "POTHOLE", "attributes": {"SIZE": "small"}}


def run_cli(app, *args):
    """``civic fema ...`` on the test's app."""
    from core.cli import cli

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FLASK_RUN_FROM_CLI", "false")
        return app.test_cli_runner().invoke(cli, ["fema", *args])


def unique() -> str:
    return uuid.uuid4().hex[:6]


def new_disaster(session, title: str = "Hurricane Test", **values):
    from plugins.fema.models import Disaster

    key = unique()
    disaster = Disaster(tag=f"storm-{key}", title=f"{title} {key}", designated_areas=[], profile_editions={}, **values)
    session.add(disaster)
    session.commit()
    return disaster


@pytest.fixture
def no_event_after(session):
    """Whatever a test activates ends with it: the session's app is shared with other test files."""
    from plugins.fema import events

    yield
    session.rollback()
    events.deactivate(session)


def coordinator(app) -> str:
    from core.services.users import create_user

    name = f"fema_{unique()}"
    with app.app_context():
        create_user(name, PASSWORD, "FEMA coordinator", email=f"{name}@palmcoast.example.gov")
    return name


# ---------------------------------------------------------------- rules without a database


@pytest.mark.parametrize("declared,edition", [
    (date(2017, 8, 22), None), (date(2017, 8, 23), "3.1"), (date(2019, 10, 22), "3.1"), (date(2020, 5, 31), "3.1"),
    (date(2020, 6, 1), "4"), (date(2025, 1, 5), "4"), (date(2025, 1, 6), "5"), (None, None),
])
def test_the_pappg_edition_follows_the_declaration_date(declared, edition):
    from plugins.fema.events import pappg_edition

    assert pappg_edition(declared) == edition


def test_an_event_tag_is_a_slug_of_its_title_and_number():
    from plugins.fema.events import event_tag

    assert event_tag("Hurricane Dorian", "DR-4468") == "hurricane-dorian-dr-4468"
    assert event_tag("Hurricane Milton") == "hurricane-milton"
    assert len(event_tag("A very long title " * 10, "DR-4468")) <= 50
    assert event_tag("A very long title " * 10, "DR-4468").endswith("-dr-4468")


# ---------------------------------------------------------------- the active event


def test_new_cases_during_an_active_event_carry_its_tag_and_later_ones_do_not(session, no_event_after):
    from core.services.cases import create_case
    from plugins.fema import events

    storm = new_disaster(session, "Hurricane Tagging")
    events.activate(session, storm)
    during = create_case(session, description="Tree on the fence", **POTHOLE)
    assert storm.tag in [t.name for t in during.tags]
    assert events.active_event(session).id == storm.id

    events.deactivate(session)
    after = create_case(session, description="Pothole after the storm", **POTHOLE)
    assert storm.tag not in [t.name for t in after.tags]
    assert events.active_event(session) is None


def test_a_work_order_on_an_older_case_during_the_event_tags_the_case(session, no_event_after):
    from core.models import Department
    from core.services.cases import create_case
    from core.services.tasks import add_task
    from plugins.fema import events

    before = create_case(session, description="Old pothole", **POTHOLE)
    storm = new_disaster(session, "Hurricane Work Order")
    assert storm.tag not in [t.name for t in before.tags]
    events.activate(session, storm)
    public_works = session.scalar(sa.select(Department).where(Department.code == "PW"))
    add_task(session, before, department=public_works, title="Cut the fallen oak")
    session.refresh(before)
    assert storm.tag in [t.name for t in before.tags]


def test_only_one_event_is_active_at_a_time(session, no_event_after):
    from plugins.fema import events

    first, second = new_disaster(session, "First Storm"), new_disaster(session, "Second Storm")
    events.activate(session, first)
    events.activate(session, second)
    session.refresh(first)
    assert not first.active and first.ended_at is not None
    assert second.active and events.active_event(session).id == second.id


# ---------------------------------------------------------------- the resident's banner


def test_residents_see_the_event_banner_with_the_storm_services_in_their_language(app, session, no_event_after):
    from flask_babel import refresh

    from plugins.fema import events

    storm = new_disaster(session, "Hurricane Banner")
    resident = app.test_client()
    assert "fema-event-banner" not in resident.get("/portal/").get_data(as_text=True)

    events.activate(session, storm)
    page = resident.get("/portal/").get_data(as_text=True)
    assert storm.title in page
    for code in ("STORM_DEBRIS", "TREE_DOWN", "STORM_FLOOD", "STORM_DAMAGE"):
        assert f'href="/portal/report/{code}"' in page
    assert "@" not in page.split("fema-event-banner", 1)[1].split("</section>", 1)[0], "no personal data in the banner"

    refresh()  # the test's app context is shared with the requests: forget the locale Flask-Babel cached on it
    french = app.test_client().get("/portal/", headers={"Accept-Language": "fr"}).get_data(as_text=True)
    english_name = re.search(r'href="/portal/report/TREE_DOWN">([^<]+)<', page).group(1)
    french_name = re.search(r'href="/portal/report/TREE_DOWN">([^<]+)<', french).group(1)
    assert french_name != english_name, "the service is named in the resident's language"

    events.deactivate(session)
    assert "fema-event-banner" not in resident.get("/portal/").get_data(as_text=True)


# ---------------------------------------------------------------- the Disasters screen


def _add_form(client, **values):
    page = client.get("/disasterview/add")
    assert page.status_code == 200
    data = {"csrf_token": csrf_token(page.get_data(as_text=True)), "title": "", "number": "", "tag": "", "state": "",
            "declaration_date": "", "incident_begin": "", "incident_end": "", "areas": "", "applicant_pa_id": "", "rate_edition": ""}
    data.update(values)
    return client.post("/disasterview/add", data=data, follow_redirects=False)


def test_coordinator_records_a_declaration_and_bad_numbers_and_dates_are_refused(app, session):
    from plugins.fema.models import Disaster

    client = login(app.test_client(), coordinator(app))
    key = unique()
    bad = _add_form(client, title=f"Hurricane {key}", number="4468", tag=f"storm-{key}", declaration_date="2019-10-22")
    assert bad.status_code == 200 and "must look like DR-4468" in bad.get_data(as_text=True)
    backwards = _add_form(client, title=f"Hurricane {key}", tag=f"storm-{key}", incident_begin="2019-09-09", incident_end="2019-08-28")
    assert "must not be before the incident" in backwards.get_data(as_text=True)
    assert session.scalar(sa.select(Disaster).where(Disaster.tag == f"storm-{key}")) is None

    number = f"DR-{int(key, 16) % 90000 + 10000}"
    good = _add_form(client, title=f"Hurricane {key}", number=number.lower(), tag=f"storm-{key}", state="FL",
                     declaration_date="2019-10-22", incident_begin="2019-08-28", incident_end="2019-09-09",
                     areas="Flagler (County), Volusia (County)", applicant_pa_id="035-53150-00")
    assert good.status_code == 302, re.findall(r'(?:danger|error|alert)[^>]*>\s*([^<]+)<', good.get_data(as_text=True))
    saved = session.scalar(sa.select(Disaster).where(Disaster.tag == f"storm-{key}"))
    assert saved.number == number and saved.declaration_type == "DR"
    assert saved.designated_areas == ["Flagler (County)", "Volusia (County)"]
    listing = client.get("/disasterview/list/").get_data(as_text=True)
    assert saved.title in listing and "3.1" in listing  # the PAPPG edition column
    assert "PAPPG" in client.get(f"/disasterview/show/{saved.id}").get_data(as_text=True)
    edit = client.get(f"/disasterview/edit/{saved.id}").get_data(as_text=True)
    assert 'value="Flagler (County), Volusia (County)"' in edit
    changed = client.post(f"/disasterview/edit/{saved.id}", data={
        "csrf_token": csrf_token(edit), "title": saved.title, "number": number, "tag": saved.tag, "state": "FL",
        "declaration_date": "2020-06-01", "incident_begin": "2019-08-28", "incident_end": "2019-09-09", "areas": "Flagler (County)",
        "applicant_pa_id": "", "rate_edition": ""})
    assert changed.status_code == 302
    session.expire_all()
    assert saved.designated_areas == ["Flagler (County)"] and saved.applicant_pa_id is None
    assert saved.pappg == "4"


def _active_id(app):
    from core.extensions import db
    from plugins.fema import events

    with app.app_context():
        event = events.active_event(db.session)
        return event.id if event else None


def test_coordinator_makes_an_event_active_and_a_dispatcher_may_only_read(app, client_for):
    """Requests run outside the test's app context here: each signs in its own user."""
    from core.extensions import db
    from plugins.fema import events

    with app.app_context():
        storm = new_disaster(db.session, "Hurricane Switch")
        storm_id, title = storm.id, storm.title
    try:
        dispatcher = client_for("dispatcher")
        listing = dispatcher.get("/disasterview/list/")
        assert listing.status_code == 200 and title in listing.get_data(as_text=True)
        token = csrf_token(listing.get_data(as_text=True))
        dispatcher.post("/disasterview/action_post", data={"action": "make_active", "rowid": [str(storm_id)], "csrf_token": token})
        assert _active_id(app) is None, "a dispatcher cannot switch the event"
        assert dispatcher.get("/disasterview/add").status_code in (302, 403)

        client = login(app.test_client(), coordinator(app))
        token = csrf_token(client.get("/disasterview/list/").get_data(as_text=True))
        unknown = client.post("/disasterview/action_post", data={"action": "explode", "rowid": [str(storm_id)], "csrf_token": token})
        assert unknown.status_code == 400 and "Action" in unknown.get_data(as_text=True)
        without_token = client.post("/disasterview/action_post", data={"action": "make_active", "rowid": [str(storm_id)]})
        assert without_token.status_code == 400 and _active_id(app) is None
        made = client.post("/disasterview/action_post", data={"action": "make_active", "rowid": [str(storm_id)], "csrf_token": token})
        assert made.status_code == 302
        assert _active_id(app) == storm_id
        client.post("/disasterview/action_post", data={"action": "end_event", "rowid": [str(storm_id)], "csrf_token": token})
        assert _active_id(app) is None
    finally:
        with app.app_context():
            events.deactivate(db.session)


def test_activate_and_deactivate_from_the_command_line(app, session, no_event_after):
    from plugins.fema import events

    storm = new_disaster(session, "Hurricane Command", number=f"EM-{int(unique(), 16) % 90000 + 10000}")
    result = run_cli(app, "activate", storm.number)
    assert result.exit_code == 0, result.output
    assert storm.tag in result.output
    session.expire_all()
    assert events.active_event(session).id == storm.id
    assert run_cli(app, "deactivate").exit_code == 0
    session.expire_all()
    assert events.active_event(session) is None
    unknown = run_cli(app, "activate", "DR-0")
    assert unknown.exit_code == 1 and "DR-0" in unknown.output
