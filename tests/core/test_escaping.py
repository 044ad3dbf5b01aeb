"""Stored text is shown as text everywhere: a hostile resident, an app or a careless admin types markup and
spreadsheet formulas into every field they can reach, and every page, e-mail and export shows it inert.

The story: an Open311 app reports a request whose description, address and contact name are markup; staff
add notes and tags of the same; an admin names a new department and service with markup and a formula; the knowledge
base gets an article titled with markup.  Then the portal, the staff screens, the dashboard, the e-mails in
the outbox and the exports are read.
"""
from __future__ import annotations

import csv
import io
import re
import uuid
import zipfile
from xml.etree import ElementTree as ET

import pytest
import sqlalchemy as sa

from tests.plugins.intake.open311_helpers import new_key

SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(1)>'
FORMULAS = ('=HYPERLINK("http://evil","x")', "+cmd", "@SUM(1)", "-2+3")
# Markup as a browser would run it: the payloads unescaped.
RAW_MARKUP = ("<script>alert(1)", "<img src=x onerror")


def tag() -> str:
    return uuid.uuid4().hex[:8]


@pytest.fixture(scope="module")
def hostile(app):
    """The hostile city: what was typed where, and the ids to find it by."""
    from core.extensions import db
    from core.models import Case, User
    from core.services.cases import Actor, add_note, set_tags
    from plugins.knowledge.content import change_status, create_article
    from tests.conftest import api_token

    t = tag()
    admin = api_token(app.test_client(), "admin")
    client = app.test_client()
    dept_code, service_code = f"X{t}".upper(), f"XS{t}".upper()
    department = client.post("/api/v1/department/", headers=admin, json={"code": dept_code, "name": f"{FORMULAS[0]} {SCRIPT}"})
    assert department.status_code == 201, department.get_data(as_text=True)
    service = client.post("/api/v1/service/", headers=admin, json={
        "code": service_code, "name": f"{FORMULAS[1]} {IMG}", "department": dept_code, "group": SCRIPT,
        "description": f"{IMG} {SCRIPT}", "public": True})
    assert service.status_code == 201, service.get_data(as_text=True)

    _name, key = new_key(app)
    email = f"hostile-{t}@example.org"
    posted = client.post("/open311/v2/requests.json", data={
        "api_key": key, "service_code": service_code, "lat": "29.58", "long": "-81.2",
        "address_string": f"{IMG} 1 Palm Coast Pkwy", "description": f"{SCRIPT} {IMG} {FORMULAS[2]}",
        "first_name": SCRIPT, "last_name": FORMULAS[3], "email": email, "phone": IMG})
    assert posted.status_code == 201, posted.get_data(as_text=True)
    reference = posted.json[0]["service_request_id"]

    with app.app_context():
        case = db.session.scalar(sa.select(Case).where(Case.reference == reference))
        staff = Actor.of(db.session.scalar(sa.select(User).where(User.username == "admin")))
        case.zone = FORMULAS[0]  # zones come from GIS layers: a hostile layer name reaches the reports
        db.session.commit()
        add_note(db.session, case, f"Internal {SCRIPT} {IMG}", staff)
        add_note(db.session, case, f"Public {SCRIPT} {IMG} {FORMULAS[1]}", staff, public=True)
        set_tags(db.session, case, [SCRIPT, FORMULAS[0], f"hostile {t}"], staff)
        user = db.session.scalar(sa.select(User).where(User.username == "admin"))
        slug = f"hostile-{t}"
        article = create_article(db.session, slug=slug, texts={"en": {"title": f"{SCRIPT} {IMG}", "summary": IMG,
                                                                       "body": f"Body {SCRIPT} {IMG}"}}, user=user)
        change_status(db.session, article, "in_review", user)
        change_status(db.session, article, "published", user)
        db.session.commit()
        ids = {"case": case.id, "reference": reference, "department": dept_code, "service": service_code,
               "service_pk": service.json["id"], "article": article.id, "slug": slug, "email": email}
        db.session.remove()
    yield ids
    # The shared test city keeps its catalog: the hostile service goes out of the portal again.
    client.put(f"/api/v1/service/{ids['service_pk']}", headers=admin, json={"active": False})


def assert_inert(html: str, where: str) -> None:
    """No payload runs: the markup is there only escaped."""
    for raw in RAW_MARKUP:
        assert raw not in html, f"{where}: {raw!r} unescaped:\n{_around(html, raw)}"


def _around(html: str, needle: str) -> str:
    i = html.find(needle)
    return html[max(0, i - 200): i + 200]


def page(client, url: str) -> str:
    response = client.get(url, follow_redirects=True)
    assert response.status_code == 200, f"{url}: {response.status_code}"
    return response.get_data(as_text=True)


# ---- pages ----------------------------------------------------------------------------------------------------

def test_the_portal_shows_hostile_text_as_text(app, hostile):
    resident = app.test_client()
    pages = {
        "portal home": "/portal/",
        "portal search": "/portal/search?q=" + hostile["service"],
        "report form": f"/portal/report/{hostile['service']}",
        "public case page": f"/portal/cases/{hostile['reference']}",
        "help article": f"/help/articles/{hostile['slug']}",
        "help search": "/help/search?q=alert",
        "help home": "/help/",
        "performance page": "/performance/",
    }
    for where, url in pages.items():
        assert_inert(page(resident, url), where)
    # The escaped text is there (the page shows the service; the test is not vacuous).
    assert "&lt;img src=x onerror" in page(resident, f"/portal/report/{hostile['service']}")
    case_page = page(resident, f"/portal/cases/{hostile['reference']}")
    assert "Public &lt;script&gt;alert(1)&lt;/script&gt;" in case_page
    assert "Internal" not in case_page


def test_staff_screens_show_hostile_text_as_text(app, hostile, client_for):
    staff = client_for("admin")
    pages = {
        "case list": "/caseview/list/",
        "case list search": "/caseview/list/?q=alert",
        "case page": f"/caseview/show/{hostile['case']}",
        "dashboard": "/dashboard/",
        "report by department (table and chart)": "/reports/run?subject=cases&period=all&group=department&measures=count",
        "report by service (table and chart)": "/reports/run?subject=cases&period=all&group=service&measures=count&chart=pie",
        "departments": "/departmentview/list/",
        "services": "/servicetypeview/list/",
    }
    for where, url in pages.items():
        assert_inert(page(staff, url), where)
    report = page(staff, "/reports/run?subject=cases&period=all&group=department&measures=count")
    assert "=HYPERLINK(&#34;http://evil&#34;,&#34;x&#34;) &lt;script&gt;" in report
    case_page = page(staff, f"/caseview/show/{hostile['case']}")
    assert "Internal &lt;script&gt;" in case_page
    # Tags are slugs: markup and formulas typed as tags are only words.
    assert "script-alert-1-script" in case_page and "hyperlink-http-evil-x" in case_page
    assert "&lt;img src=x onerror" in case_page


# ---- e-mails --------------------------------------------------------------------------------------------------

def test_e_mails_escape_hostile_text_in_their_html_part(app, hostile):
    from core.extensions import db
    from core.models import OutboxMessage

    with app.app_context():
        messages = db.session.scalars(sa.select(OutboxMessage).where(OutboxMessage.recipient == hostile["email"])).all()
        assert messages, "the reporter got e-mails (acknowledgement, the public note)"
        for message in messages:
            assert_inert(message.body_html or "", f"e-mail {message.kind}")
            assert "<script" not in message.subject
        # The hostile names are in the e-mails, escaped in HTML and as typed in the plain-text part.
        assert any("&lt;img src=x onerror" in (m.body_html or "") for m in messages)
        assert any(IMG in m.body_text for m in messages)
        db.session.remove()


# ---- exports --------------------------------------------------------------------------------------------------

def formula_like(cell: str) -> bool:
    return bool(cell) and cell[0] in "=+-@\t\r"


def xlsx_strings(data: bytes) -> list[str]:
    with zipfile.ZipFile(io.BytesIO(data)) as book:
        if "xl/sharedStrings.xml" not in book.namelist():
            return []
        root = ET.fromstring(book.read("xl/sharedStrings.xml"))
    return ["".join(t.text or "" for t in si.iter() if t.tag.endswith("}t")) for si in root if si.tag.endswith("}si")]


@pytest.mark.parametrize("group", ["department", "service", "zone"])
def test_report_exports_neutralise_formulas(app, hostile, client_for, group):
    manager = client_for("admin")
    query = {"subject": "cases", "period": "all", "group": group, "measures": "count"}
    exported = manager.get("/reports/export.csv", query_string=query)
    assert exported.status_code == 200, exported.get_data(as_text=True)
    cells = [c for row in csv.reader(io.StringIO(exported.get_data().decode("utf-8-sig"))) for c in row]
    assert any(c.startswith("'") and FORMULAS[0 if group != "service" else 1] in c for c in cells), cells
    assert not [c for c in cells if formula_like(c)]

    xlsx = manager.get("/reports/export.xlsx", query_string=query)
    assert xlsx.status_code == 200
    strings = xlsx_strings(xlsx.get_data())
    assert any(FORMULAS[0 if group != "service" else 1] in s for s in strings)
    assert not [s for s in strings if formula_like(s)]


@pytest.mark.parametrize("value", [*FORMULAS, "\t=1+1", "\r=1+1"])
def test_fema_export_cells_neutralise_formulas(value):
    """The FEMA writers put every text through ``csv_cell``/``safe_text`` (the records they export hold names and
    descriptions staff typed)."""
    from plugins.fema.exporter import csv_cell, safe_text

    assert csv_cell(value) == "'" + value
    assert safe_text(value) == "'" + value
    assert csv_cell("Debris removal") == "Debris removal"


# ---- the REST and Open311 answers are JSON: markup is data there, never HTML --------------------------------

def test_api_answers_carry_hostile_text_as_json_data(app, hostile, api):
    answer = api("admin").get(f"/api/v1/case/{hostile['case']}")
    assert answer.status_code == 200 and answer.mimetype == "application/json"
    answer = app.test_client().get(f"/open311/v2/requests/{hostile['reference']}.xml")
    text = answer.get_data(as_text=True)
    assert answer.status_code == 200 and "text/xml" in answer.headers["Content-Type"]
    assert not re.search(r"<script>|<img ", text)
