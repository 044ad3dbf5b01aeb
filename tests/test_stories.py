"""The five user stories of Civic Connect, in a real Chromium, on the demo city as `make run` sets it up.

1. A resident on a phone, in French, reports debris in the road with a photo and a point on the map, gets a case
   number, and later reads the city's public note and the resolution in French on the portal.
2. A Public Works staff member finds the case in the department's queue, adds a public note and resolves it; a
   Utilities staff member cannot open it.
3. A dispatcher takes a call: finds the caller by utility account number, sees a help article for the service
   chosen, creates the case and reads its number out.
4. A crew on a phone checks off three streets of a sweep, one of them offline; the EOC board, open in another page,
   shows the progress without being reloaded.
5. The FEMA coordinator exports the labor summary as XLSX from the export screen; it opens as a spreadsheet with
   the form's columns.

Everything the people do goes through the screens (clicks and typing); only the city is set up beforehand, by the
real `civic` commands (tests/demo_city.py), on a database of its own on each engine (a SQLite file, a new PostgreSQL
schema): the department's queue then shows what the stories put there, not what other test files left.  Each engine
takes about 30 s.  The crew's story runs on SQLite only: it builds on the crew's browser test
(tests/plugins/fieldservice/test_crew_browser.py), whose sweep fixture says so; the PostgreSQL paths of the
check-off sync are covered by tests/plugins/fieldservice/test_crew.py on both engines.
"""
from __future__ import annotations

import io
import uuid

import pytest
import sqlalchemy as sa

from tests.browser import PHONE, browser, live_server, sign_in  # noqa: F401  (fixtures)
from tests.conftest import drop_schema, postgres_url
from tests.demo_city import DEMO_PASSWORD, build_demo_city, close_city, sqlite_url
from tests.plugins.fieldservice.test_crew_browser import checks_by, phone_sweep, wait_until  # noqa: F401  (fixture)
from tests.plugins.fieldservice.test_eoc_browser import quick_refresh  # noqa: F401  (fixture)

DESKTOP = {"viewport": {"width": 1280, "height": 800}}
STAFF_NOTE = "Nous avons dégagé la chaussée ce matin. Merci de votre signalement !"
RESOLUTION_NOTE = "Les débris ont été ramassés par l’équipe des Travaux publics."


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def app(request, tmp_path_factory):
    """The demo city on a database of its own, a SQLite file or a new PostgreSQL schema (overrides the session's
    ``app`` for this module)."""
    if request.param == "sqlite":
        city = build_demo_city(sqlite_url(tmp_path_factory.mktemp("stories")))
        yield city
        close_city(city)
        return
    schema = f"civic_stories_{uuid.uuid4().hex[:10]}"
    city = build_demo_city(postgres_url(schema))
    yield city
    close_city(city)
    drop_schema(schema)


@pytest.fixture
def pages(browser):  # noqa: F811
    """``pages(**context options)`` opens a page in a new browser context; every context is closed after the test."""
    contexts = []

    def open_page(**options):
        context = browser.new_context(**options)
        contexts.append(context)
        return context.new_page()

    yield open_page
    for context in contexts:
        context.close()


def small_jpeg() -> bytes:
    """A real photo file: 64 x 48 pixels of grey road and a brown branch, as JPEG."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (64, 48), (120, 120, 120))
    ImageDraw.Draw(image).line((5, 40, 60, 10), fill=(110, 70, 30), width=5)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=80)
    return out.getvalue()


def resident_reports_debris_in_french(page, base_url: str) -> str:
    """The resident's report from the portal home, in French, on a phone; returns the case number shown."""
    page.goto(f"{base_url}/portal/")
    assert page.locator("html").get_attribute("lang") == "fr"
    page.fill("#q", "débris")
    page.click("form.service-search button[type=submit]")
    page.click("text=Débris sur la chaussée")
    assert "Débris sur la chaussée" in page.inner_text("h1")

    page.fill("#description", "Des branches et des débris bloquent la voie de droite.")
    page.wait_for_selector("#report-map.leaflet-container")  # the map appears once its script has run
    page.locator("#report-map").scroll_into_view_if_needed()
    page.click("#report-map", position={"x": 120, "y": 90})
    page.wait_for_function("document.getElementById('lat').value !== '' && document.getElementById('long').value !== ''")
    page.set_input_files("#photos", files=[{"name": "debris.jpg", "mimeType": "image/jpeg", "buffer": small_jpeg()}])
    page.fill("#contact_email", "resident.story@example.org")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["viewport"]["width"]  # fits the phone
    page.click("button[name=action][value=send]")

    page.wait_for_selector(".case-number strong")
    assert "Merci" in page.inner_text("h1")
    return page.inner_text(".case-number strong").strip()


def staff_works_case_from_queue(page, base_url: str, reference: str, photos: int = 0) -> str:
    """A Public Works staff member: the queue, the case, a public note, "Resolved"; returns the case page's URL."""
    sign_in(page, base_url, "pw_staff", DEMO_PASSWORD)
    page.goto(f"{base_url}/queue/")
    row = page.locator("table.civic-queue-items tr", has=page.locator(f"a:text-is('{reference}')"))
    assert "Debris in the road" in row.inner_text()
    row.locator(f"a:text-is('{reference}')").click()
    page.wait_for_selector("#actions")
    assert reference in page.inner_text(".civic-case-header h2")
    assert page.locator("#attachments img").count() == photos  # the resident's photos

    page.fill("#public-note", STAFF_NOTE)
    page.click("form[data-action=public_note] button[type=submit]")
    page.wait_for_selector(f".civic-event.public .civic-event-body:text-is('{STAFF_NOTE}')")

    page.select_option("#new-status", "resolved")
    page.fill("#status-note", RESOLUTION_NOTE)
    page.click("form[data-action=status] button[type=submit]")
    page.wait_for_selector(".civic-status:text-is('Resolved')")
    return page.url


def test_resident_reports_debris_in_french_on_a_phone_and_reads_the_resolution(live_server, pages):  # noqa: F811
    resident = pages(**PHONE, locale="fr-CA")
    reference = resident_reports_debris_in_french(resident, live_server)
    assert reference.startswith("PC"), reference  # the city's case prefix
    resident.click(f"text=Suivre le dossier {reference}")
    resident.wait_for_selector("#case-title")
    assert "Signalement reçu" in resident.inner_text(".case-timeline")
    assert resident.locator(".case-photos img").count() == 1

    staff_works_case_from_queue(pages(**DESKTOP, locale="en-US"), live_server, reference, photos=1)

    resident.reload()
    status = resident.inner_text(".case-status")
    assert "Résolu" in status
    timeline = resident.inner_text(".case-timeline")
    assert "Nouvelle de la Ville" in timeline and STAFF_NOTE in timeline
    assert RESOLUTION_NOTE in timeline
    assert resident.locator("html").get_attribute("lang") == "fr"


def test_department_staff_resolve_their_case_and_another_department_cannot_open_it(app, live_server, pages):  # noqa: F811
    from core.extensions import db
    from core.services.cases import create_case

    with app.app_context():  # a resident's report, as the portal makes it (the portal itself is story 1)
        case = create_case(db.session, service_code="ROAD_DEBRIS", description="Palm fronds across the lane",
                           address="14 Palm Harbor Pkwy", lat=29.5602, long=-81.2001, channel="web")
        reference = case.reference
        db.session.remove()

    case_url = staff_works_case_from_queue(pages(**DESKTOP), live_server, reference)

    supervisor = pages(**DESKTOP)  # the department's supervisor reads what was done, and by whom
    sign_in(supervisor, live_server, "pw_supervisor", DEMO_PASSWORD)
    supervisor.goto(case_url)
    timeline = supervisor.inner_text("#timeline")
    assert STAFF_NOTE in timeline and RESOLUTION_NOTE in timeline and "pw_staff" in timeline

    other = pages(**DESKTOP)
    sign_in(other, live_server, "util_staff", DEMO_PASSWORD)
    response = other.goto(case_url)
    assert response.status in (403, 404), response.status
    assert "Palm fronds across the lane" not in other.content()
    other.goto(f"{live_server}/queue/")
    assert reference not in other.inner_text("body")  # nor is it in their queue


def test_dispatcher_finds_the_caller_by_utility_account_sees_an_article_and_creates_a_case(app, live_server, pages):  # noqa: F811
    from core.extensions import db
    from core.models import Account, Case

    with app.app_context():  # a demo resident who linked their utility account to their portal account
        caller = db.session.scalars(sa.select(Account).where(Account.utility_account_number.is_not(None)).order_by(Account.id)).first()
        number, name = caller.utility_account_number, caller.name
        db.session.remove()

    page = pages(**DESKTOP)
    sign_in(page, live_server, "dispatcher", DEMO_PASSWORD)
    page.goto(f"{live_server}/calls/new/")
    page.fill("#q", number)
    page.click("form.civic-call-search button[type=submit]")
    page.wait_for_selector("#caller-matches")
    match = page.locator("#caller-matches tr.civic-caller-match", has_text=number)
    assert match.count() == 1
    match.locator("text=This caller").click()
    page.wait_for_selector("#caller-details")
    assert number in page.inner_text("#caller-details") and name in page.inner_text("#caller-details")

    page.wait_for_load_state("load")  # the desk's script listens for the service's change only once it has run
    page.select_option("select.civic-service-select", "METER", force=True)  # select2 hides the plain <select>
    page.wait_for_selector("#call-suggestions >> text=Questions about your water bill")
    page.fill("#description", "The meter box lid is broken and the dial cannot be read.")
    page.fill("#address", "22 Fellowship Dr")
    page.click("#phone-case button[type=submit]:has-text('Create case')")

    page.wait_for_selector("#case-reference")
    reference = page.inner_text("#case-reference").strip()
    with app.app_context():
        case = db.session.scalar(sa.select(Case).where(Case.reference == reference))
        saved = (case.channel, case.service_type.code, case.department.code, case.account and case.account.utility_account_number,
                 case.address)
        db.session.remove()
    assert saved == ("phone", "METER", "UTIL", number, "22 Fellowship Dr")  # the caller's case, on their account
    page.click("#open-case")
    assert reference in page.inner_text(".civic-case-header h2")


def test_crew_checks_off_three_streets_one_offline_and_the_eoc_board_follows(app, live_server, pages, phone_sweep, quick_refresh):  # noqa: F811
    sweep_id, user_id = phone_sweep
    board = pages(**DESKTOP)
    sign_in(board, live_server, "dispatcher", DEMO_PASSWORD)
    board.goto(f"{live_server}/fieldservice/eoc/")
    total = f'[data-sweep="{sweep_id}"] .eoc-sweep-total'
    board.wait_for_selector(total)
    assert "0% checked" in board.text_content(total)
    board.evaluate("window.boardMarker = 'never reloaded'")

    phone = pages(**PHONE)
    sign_in(phone, live_server, "crew", DEMO_PASSWORD)
    phone.goto(f"{live_server}/fieldservice/crew/")
    phone.select_option("#sweep-picker", str(sweep_id))
    phone.wait_for_selector(".segment .statuses button")
    streets = phone.locator(".segment")
    assert streets.count() == 6  # the crew's zone and the zone no crew drives: three streets each

    streets.nth(0).locator("button[data-status=clear]").click()
    wait_until(lambda: checks_by(app, sweep_id, user_id) == ["clear"])

    phone.context.set_offline(True)
    phone.wait_for_function("navigator.onLine === false")
    streets.nth(1).locator("button[data-status=clear]").click()
    phone.wait_for_selector("#queue-status.waiting")
    assert checks_by(app, sweep_id, user_id) == ["clear"]  # it waits on the phone
    phone.context.set_offline(False)
    phone.wait_for_function("document.getElementById('queue-status').className === 'pill'", timeout=30_000)

    streets.nth(2).locator("button[data-status=debris]").click()
    wait_until(lambda: checks_by(app, sweep_id, user_id) == ["clear", "clear", "debris"])

    # Six streets in the sweep (two zones), three checked: the board says so by itself.
    board.wait_for_function(f"document.querySelector('{total}').textContent.indexOf('50% checked') >= 0", timeout=20_000)
    assert board.evaluate("window.boardMarker") == "never reloaded"
    assert board.evaluate("performance.getEntriesByType('navigation').length") == 1


def test_fema_coordinator_exports_the_labor_summary_as_xlsx(app, live_server, pages, tmp_path):  # noqa: F811
    import openpyxl

    page = pages(**DESKTOP)
    sign_in(page, live_server, "fema_coordinator", DEMO_PASSWORD)
    page.goto(f"{live_server}/fema/exports/")
    assert "DR-9901" in page.inner_text("body")  # the demo's disaster, chosen by default
    page.select_option("#fema-export-form-name", "labor")
    page.select_option("#fema-export-format", "xlsx")
    with page.expect_download() as info:
        page.click("#fema-export-form button[type=submit]")
    download = info.value
    assert download.suggested_filename.startswith("DR-9901-labor-123-") and download.suggested_filename.endswith(".xlsx")
    path = tmp_path / download.suggested_filename
    download.save_as(path)

    workbook = openpyxl.load_workbook(path, read_only=True)
    try:
        rows = [list(row) for row in workbook.active.iter_rows(values_only=True)]
    finally:
        workbook.close()
    header = next(row for row in rows if row and row[0] == "NAME")
    assert [c for c in header if c] == ["NAME", "JOB TITLE", "REG/OT", "WEEK FROM", "WEEK TO", "MON", "TUE", "WED", "THU", "FRI",
                                        "SAT", "SUN", "TOTAL HOURS", "HOURLY RATE", "BENEFIT RATE/HR", "TOTAL HOURLY RATE", "TOTAL COSTS"]
    body = rows[rows.index(header) + 1:]
    assert any(row and row[0] == "GRAND TOTAL" for row in body)
    assert any(row and row[2] == "REG." for row in body)  # people's rows, regular time at least

    page.goto(f"{live_server}/fema/exports/")
    assert page.locator("tr[data-export]", has_text="fema_coordinator").count() >= 1  # the export is logged
