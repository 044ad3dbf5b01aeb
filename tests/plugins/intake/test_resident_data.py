"""A resident's personal data: it never shows where the public looks, it is never logged, the resident can
download all of it and erase their account.

Residents and anonymous reporters leave distinctive personal data (the name "Zanzibar Quix", an e-mail, a
phone number, a utility account number) through the real portal screens and the Open311 API; then every
public page and API answer is crawled for it, and the app's logs (and the HTTP server's access lines) are
read for it.
"""
from __future__ import annotations

import http.cookiejar
import json
import logging
import re
import threading
import urllib.parse
import urllib.request
import uuid
from collections import deque

import pytest
import sqlalchemy as sa

from tests.conftest import PASSWORD, csrf_token
from tests.plugins.intake.open311_helpers import POTHOLE, new_key
from tests.plugins.intake.test_accounts import link_in, new_resident, outbox, portal_client, sign_in, submit, text_of, utility_account
from tests.plugins.intake.test_reporting import form_page, reference_of, send, spot

PUBLIC_PREFIXES = ("/portal", "/open311/v2", "/performance", "/help")
NOT_CRAWLED = ("/portal/sign-out", "/portal/static", "/portal/leaflet", "/portal/photos", "/portal/unfollow", "/portal/survey",
               "/portal/confirm", "/portal/reset/", "/portal/my-city")


class Person:
    """Distinctive personal data: any of it found in a public answer or a log line is a leak."""

    def __init__(self, first: str = "Zanzibar", last: str = "Quix"):
        tag = uuid.uuid4().hex[:6]
        self.name = f"{first} {last}{tag}"
        self.email = f"{first.lower()}.{last.lower()}.{tag}@example.org"
        self.phone = f"904-555-{uuid.uuid4().int % 9000 + 1000}"

    @property
    def markers(self) -> list[str]:
        return [self.name, self.name.split()[1], self.email, self.email.split("@")[0], self.phone, self.phone.replace("-", "")]


def leaks(text: str, markers: list[str]) -> list[str]:
    folded = text.lower()
    return [m for m in markers if m.lower() in folded]


def crawl(client, seeds: list[str], limit: int = 250) -> dict[str, str]:
    """GET the seeds and every public page they link to (same site, public prefixes): {url: body}."""
    seen: dict[str, str] = {}
    queue = deque(seeds)
    while queue and len(seen) < limit:
        url = queue.popleft()
        if url in seen:
            continue
        response = client.get(url)
        assert response.status_code < 500, f"{url} answered {response.status_code}"
        body = response.get_data(as_text=True)
        seen[url] = body
        if response.status_code in (301, 302, 303) and response.headers.get("Location", "").startswith("/"):
            queue.append(response.headers["Location"])
        for href in re.findall(r'href="(/[^"#]*)"', body):
            href = href.replace("&amp;", "&")
            if href.startswith(PUBLIC_PREFIXES) and not href.startswith(NOT_CRAWLED) and href not in seen:
                queue.append(href)
    return seen


def report_as_guest(app, person: Person, client=None) -> str:
    client = client or portal_client(app)
    lat, long = spot()
    page = form_page(client)
    done = send(client, page, attr_SIZE="large", attr_LANE="no", description=f"Deep hole near the school {uuid.uuid4().hex[:6]}",
                lat=str(lat), long=str(long), contact_name=person.name, contact_email=person.email, contact_phone=person.phone)
    return reference_of(done)


def close_case(app, reference: str) -> None:
    from core.extensions import db
    from core.models import Case
    from core.services.cases import SYSTEM, change_status

    with app.app_context():
        case = db.session.scalar(sa.select(Case).where(Case.reference == reference))
        change_status(db.session, case, "closed", SYSTEM, note="Filled and rolled.")
        db.session.remove()


# ---------------------------------------------------------------- where the public looks

def test_no_personal_data_on_any_public_page_or_open311_answer(app):
    resident, guest, app_user = Person(), Person("Quillon", "Zebedee"), Person("Xanthe", "Vortigern")
    # A resident signs up, links their utility account and reports through the portal.
    number = utility_account(app, last_name="Quix")
    client, email, _ = new_resident(app, name=resident.name)
    resident.email = email
    assert submit(client, "/portal/my-city/utility", {"account_number": number, "last_name": "Quix", "zipcode": "32137"}).status_code == 302
    mine = report_as_guest(app, resident, client)
    # An anonymous reporter on the portal, and one through an Open311 app.
    theirs = report_as_guest(app, guest)
    _name, key = new_key(app)
    answer = app.test_client().post("/open311/v2/requests.json", data={
        **POTHOLE, "api_key": key, "description": "Hole by the bus stop", "first_name": app_user.name.split()[0],
        "last_name": app_user.name.split()[1], "email": app_user.email, "phone": app_user.phone, "device_id": "device-" + app_user.phone,
    })
    assert answer.status_code == 201, answer.get_data(as_text=True)
    via_app = answer.json[0]["service_request_id"]
    close_case(app, theirs)
    markers = resident.markers + guest.markers + app_user.markers + [number]

    visitor = portal_client(app)
    references = [mine, theirs, via_app]
    seeds = ["/portal/", "/portal/search?q=pothole", "/performance/", "/help/",
             "/open311/v2/discovery.json", "/open311/v2/services.json", "/open311/v2/servicerequestupdates.json",
             "/open311/v2/requests.json?extensions=true&status=open,closed", "/open311/v2/requests.xml?extensions=true",
             "/open311/v2/requests.json?service_request_id=" + ",".join(references) + "&extensions=true"]
    for ref in references:
        seeds += [f"/portal/cases/{ref}", f"/portal/cases/{ref}/submitted", f"/open311/v2/requests/{ref}.json?extensions=true",
                  f"/open311/v2/requests/{ref}.xml?extensions=true", f"/open311/v2/servicerequestupdates.json?service_request_id={ref}"]
    for lat, long in [spot()]:
        seeds.append(f"/portal/nearby?service=POTHOLE&lat={lat}&long={long}")
    seeds.append("/portal/addresses?q=12+Palm+Harbor")
    pages = crawl(visitor, seeds)
    assert len(pages) >= 25  # the crawl really went around
    assert any(ref in body for body in pages.values() for ref in references)  # and saw the cases
    found = {url: leaks(body, markers) for url, body in pages.items() if leaks(body, markers)}
    assert not found, f"personal data on public pages: {found}"


def test_reporting_and_signing_up_log_no_personal_data(app, caplog):
    """The app's logs at DEBUG, and the access lines of `civic serve`'s request handler, during sign-up,
    confirmation, reporting (portal and Open311) and a failed sign-in."""
    from werkzeug.serving import make_server

    from core.privacy import AccessLogWithoutAddress

    caplog.set_level(logging.WARNING, logger="sqlalchemy")  # SQL echo is a developer's switch, off in production
    caplog.set_level(logging.DEBUG)  # last: it sets the capture's own level too
    person = Person()
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=AccessLogWithoutAddress)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_port}"
    browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))

    def page(path: str) -> str:
        with browser.open(base + path) as r:
            return r.read().decode()

    def post(path: str, fields: dict) -> int:
        data = urllib.parse.urlencode({"csrf_token": csrf_token(page(path)), **fields}).encode()
        try:
            with browser.open(base + path, data=data) as r:
                return r.status
        except urllib.error.HTTPError as exc:
            return exc.code

    try:
        assert post("/portal/sign-up", {"name": person.name, "email": person.email, "password": PASSWORD, "language": "en"}) == 200
        confirm = link_in(outbox(app, person.email)[-1], "confirm")
        assert page(confirm)  # the confirmation link, as the e-mail's reader opens it
        # Its token is signed, not encrypted: anyone reading the URL (an access log) can decode it.
        from itsdangerous import URLSafeSerializer

        payload = URLSafeSerializer("not-the-key").load_payload(confirm.rsplit("/", 1)[1].rsplit(".", 2)[0].encode())
        assert not leaks(json.dumps(payload), person.markers)
        lat, long = spot()
        assert post("/portal/report/POTHOLE", {"action": "send", "attr_SIZE": "small", "attr_LANE": "no", "description": "Hole by the gate",
                                               "lat": lat, "long": long, "contact_name": person.name, "contact_phone": person.phone,
                                               "contact_email": person.email}) == 200
        assert post("/portal/sign-in", {"email": person.email.upper(), "password": "not-the-password"}) == 400
        _name, key = new_key(app)
        data = urllib.parse.urlencode({**POTHOLE, "api_key": key, "email": person.email, "first_name": person.name.split()[0],
                                       "last_name": person.name.split()[1], "phone": person.phone}).encode()
        with urllib.request.urlopen(base + "/open311/v2/requests.json", data=data) as r:
            assert r.status == 201
    finally:
        server.shutdown()
        thread.join()
    access = [r.getMessage() for r in caplog.records if r.name == "werkzeug"]
    assert any("POST /portal/report/POTHOLE" in line for line in access) and any("/portal/confirm/" in line for line in access)
    assert not [line for line in access if "127.0.0.1" in line]  # no client address in the access lines
    logged = "\n".join(f"{r.name} {r.getMessage()} {r.exc_text or ''}" for r in caplog.records)
    assert not leaks(logged, person.markers), leaks(logged, person.markers)


# ---------------------------------------------------------------- the resident's own data

def test_resident_downloads_everything_then_erases_the_account_and_the_cases_stay(app):
    from core.extensions import db
    from core.models import Account, Case, CaseEvent
    from plugins.intake.following import email_key, follow
    from plugins.intake.models import Notice, Satisfaction
    from plugins.intake.notices import send_notice

    person = Person()
    client, email, account_id = new_resident(app, name=person.name)
    lat, long = spot()
    page = form_page(client)
    mine = reference_of(send(client, page, attr_SIZE="large", attr_LANE="no", description="Water bubbling up by my drive",
                             lat=str(lat), long=str(long), contact_phone=person.phone))
    other = report_as_guest(app, Person("Someone", "Else"))
    assert submit(client, "/portal/my-city/preferences", {"topics": ["water"], "contact_by_email": "y", "language": "en"}).status_code == 302
    with app.app_context():
        account = db.session.get(Account, account_id)
        assert account.last_active_at is not None  # the portal visits count as activity (retention)
        case = db.session.scalar(sa.select(Case).where(Case.reference == mine))
        follow(db.session.scalar(sa.select(Case).where(Case.reference == other)), email, account=account)
        db.session.add(Satisfaction(case_id=case.id, resolved=True, rating=4, comment="Quick work", respondent=email_key(email)))
        notice = Notice(title=f"Boil water notice {uuid.uuid4().hex[:6]}", body="Boil tap water for one minute.", topic="water")
        db.session.add(notice)
        db.session.flush()
        send_notice(notice, None)
        db.session.commit()
        notice_title, case_id = notice.title, case.id
        db.session.remove()

    download = client.get("/portal/my-city/data")
    assert download.status_code == 200 and download.headers["Cache-Control"] == "no-store"
    data = json.loads(download.get_data(as_text=True))
    assert (data["account"]["name"], data["account"]["email"]) == (person.name, email)
    [case_data] = data["cases"]
    assert case_data["reference"] == mine and case_data["contact_phone"] == person.phone
    assert [e["kind"] for e in case_data["timeline"]][0] == "created"
    assert other in [f["reference"] for f in data["follows"]]
    assert [(a["reference"], a["rating"]) for a in data["satisfaction"]] == [(mine, 4)]
    assert notice_title in [n["subject"] for n in data["notices"]] or any(notice_title in n["subject"] for n in data["notices"])
    assert "account_confirm" in [m["kind"] for m in data["emails"]]

    # Erasing asks to confirm with the password, on a form protected against cross-site posts.
    confirm_page = client.get("/portal/my-city/close")
    assert confirm_page.status_code == 200 and "This cannot be undone." in text_of(confirm_page)
    assert client.post("/portal/my-city/close", data={"password": PASSWORD}).status_code == 400  # no CSRF token
    assert submit(client, "/portal/my-city/close", {"password": PASSWORD}).status_code == 302
    with app.app_context():
        case = db.session.get(Case, case_id)
        assert case is not None and (case.contact_name, case.contact_email, case.contact_phone, case.account_id) == (None, None, None, None)
        last = db.session.scalars(sa.select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(CaseEvent.id.desc())).first()
        assert last.data == {"anonymised": ["contact_name", "contact_email", "contact_phone", "account"]} and not last.public
        account = db.session.get(Account, account_id)
        assert account.anonymised_at is not None and account.name == "Closed account"
        from core.models import AuditEntry

        # The admin audit log records staff set-up, not residents: closing an account leaves no copy of the person there.
        audit = " ".join(f"{e.object_label} {json.dumps(e.changes)}" for e in db.session.scalars(sa.select(AuditEntry)))
        assert not leaks(audit, person.markers + [email])
        db.session.remove()
    assert client.get("/portal/my-city/data").status_code == 302  # signed out: nothing to download
    assert sign_in(portal_client(app), email).status_code == 400
    public = portal_client(app).get(f"/portal/cases/{mine}")
    assert public.status_code == 200 and not leaks(public.get_data(as_text=True), person.markers + [email])


@pytest.mark.parametrize("who", ["guest", "staff"])
def test_only_a_signed_in_resident_downloads_or_erases(app, client_for, who):
    client = portal_client(app) if who == "guest" else client_for("dispatcher")
    for url in ("/portal/my-city/data", "/portal/my-city/close"):
        response = client.get(url)
        assert response.status_code == (302 if who == "guest" else 403)
