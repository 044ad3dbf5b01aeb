"""Residents report concerns on the portal: the catalog and its search, notices, the report form
(attributes, location three ways, photos), "Is this it?" and "me too", and the guards against abuse.

Everything goes through real HTTP with the test client and real CSRF tokens; each test reports at
its own random spot in Palm Coast and from its own client address, so tests never see each other's
cases or rate limits.
"""
from __future__ import annotations

import html
import io
import random
import re
import uuid
from datetime import timedelta

import pytest
import sqlalchemy as sa
from PIL import ExifTags, Image

from tests.conftest import PASSWORD, csrf_token, login

# ---------------------------------------------------------------- helpers


def guest(app, language: str | None = None):
    """A browser of its own: its own client address (for the rate limits) and, if asked, a language."""
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = f"127.{random.randint(1, 254)}.{random.randint(1, 254)}.{random.randint(1, 254)}"
    if language:
        client.environ_base["HTTP_ACCEPT_LANGUAGE"] = language
    return client


def spot() -> tuple[float, float]:
    """A random point of its own in north-east Florida, far from the other tests' points (the "Is this it?"
    step looks 200 m around: a small area shared with hundreds of other tests' open cases would make it flaky)."""
    rng = random.Random(uuid.uuid4().int)
    return round(28.5 + rng.random() * 2.0, 6), round(-82.5 + rng.random() * 2.0, 6)


def offset(point: tuple[float, float], north_m: float = 0, east_m: float = 0) -> tuple[float, float]:
    import math

    lat, long = point
    return lat + north_m / 111_320, long + east_m / (111_320 * math.cos(math.radians(lat)))


def dms(value: float) -> tuple[float, float, float]:
    value = abs(value)
    degrees = int(value)
    minutes = int((value - degrees) * 60)
    seconds = round((value - degrees - minutes / 60) * 3600, 4)
    return float(degrees), float(minutes), seconds


def photo_with_gps(point: tuple[float, float]) -> bytes:
    """A JPEG as a phone takes it: the GPS of where it was taken and the camera's name in its EXIF."""
    img = Image.new("RGB", (640, 480), (200, 60, 40))
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "SecretCamera"
    exif[ExifTags.IFD.GPSInfo] = {
        ExifTags.GPS.GPSLatitudeRef: "N", ExifTags.GPS.GPSLatitude: dms(point[0]),
        ExifTags.GPS.GPSLongitudeRef: "W", ExifTags.GPS.GPSLongitude: dms(point[1]),
    }
    out = io.BytesIO()
    img.save(out, "JPEG", exif=exif.tobytes())
    return out.getvalue()


def plain_png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (300, 200), (30, 90, 200)).save(out, "PNG")
    return out.getvalue()


def form_page(client, code: str = "POTHOLE") -> str:
    page = client.get(f"/portal/report/{code}")
    assert page.status_code == 200
    return page.get_data(as_text=True)


def send(client, page: str, code: str = "POTHOLE", files=(), **fields):
    """POST the report form the way a browser does: the page's CSRF token and hidden fields, plus ``fields``."""
    data = {"csrf_token": csrf_token(page), "action": "send"}
    seen = re.search(r'name="nearby_seen" type="hidden" value="([^"]*)"', page) or re.search(r'id="nearby_seen" name="nearby_seen" type="hidden" value="([^"]*)"', page)
    if seen:
        data["nearby_seen"] = html.unescape(seen.group(1))
    tokens = re.findall(r'name="photo_token" value="([^"]+)"', page)
    if tokens:
        data["photo_token"] = [html.unescape(t) for t in tokens]
    data.update(fields)
    if files:
        data["photos"] = [(io.BytesIO(content), name) for name, content in files]
    return client.post(f"/portal/report/{code}", data=data, content_type="multipart/form-data")


def input_value(page: str, name: str) -> str | None:
    tag = re.search(rf'<input[^>]*\bname="{name}"[^>]*>', page)
    if not tag:
        return None
    value = re.search(r'\bvalue="([^"]*)"', tag.group(0))
    return html.unescape(value.group(1)) if value else ""


def reference_of(response) -> str:
    assert response.status_code == 302, response.get_data(as_text=True)[:3000]
    m = re.search(r"/portal/cases/([^/]+)/submitted", response.headers["Location"])
    assert m, response.headers["Location"]
    return m.group(1)


def case_by_reference(reference: str):
    from core.extensions import db
    from core.models import Case

    return db.session.scalar(sa.select(Case).where(Case.reference == reference))


def cases_described(app, text: str) -> int:
    from core.extensions import db
    from core.models import Case

    with app.app_context():
        n = db.session.scalar(sa.select(sa.func.count()).select_from(Case).where(Case.description == text))
        db.session.remove()
    return n


def make_case(app, code: str, point, status: str | None = None, address: str | None = None) -> str:
    from core.extensions import db
    from core.services.cases import SYSTEM, change_status, create_case

    attributes = {"SIZE": "small"} if code == "POTHOLE" else {}
    with app.app_context():
        case = create_case(db.session, service_code=code, description="Seen by the crew", lat=point[0], long=point[1], address=address, attributes=attributes)
        if status:
            change_status(db.session, case, status, SYSTEM)
        reference = case.reference
        db.session.remove()
    return reference


def add_addresses(app, rows) -> None:
    """Rows of the utility billing export: (address, lat, long, zip, holder, account number)."""
    from core.extensions import db
    from plugins.intake.models import UtilityAccount
    from plugins.intake.reporting import address_key

    with app.app_context():
        for address, lat, long, zipcode, holder, number in rows:
            db.session.add(UtilityAccount(account_number=number, service_address=address, address_key=address_key(address), lat=lat, long=long,
                                          holder_last_name=holder, zipcode=zipcode, zone="Z7"))
        db.session.commit()
        db.session.remove()


# ---------------------------------------------------------------- reporting


def test_guest_reports_pothole_with_attributes_and_two_photos_and_gets_a_number(app):
    from core.services.attachments import stored_path
    from plugins.intake.models import Follower

    client = guest(app)
    where = spot()
    page = form_page(client)
    description = f"Deep hole in the right lane {uuid.uuid4().hex[:8]}"
    first = send(
        client, page, attr_SIZE="large", attr_LANE="yes", description=description, contact_name="Pat Guest",
        contact_email="Pat.Guest@example.org", files=[("IMG_2041.jpg", photo_with_gps(where)), ("close-up.png", plain_png())],
    )
    # No location was given: the photo's GPS fills it in, and the form asks the resident to check it.
    assert first.status_code == 200
    review = first.get_data(as_text=True)
    assert "Your photo records where it was taken" in review
    assert abs(float(input_value(review, "lat")) - where[0]) < 1e-4 and abs(float(input_value(review, "long")) - where[1]) < 1e-4
    assert description in review and input_value(review, "contact_email") == "Pat.Guest@example.org"
    assert len(re.findall(r'name="photo_token"', review)) == 2  # the photos are kept, not asked for again
    assert cases_described(app, description) == 0

    done = send(
        client, review, attr_SIZE="large", attr_LANE="yes", description=description, contact_name="Pat Guest",
        contact_email="Pat.Guest@example.org", lat=input_value(review, "lat"), long=input_value(review, "long"),
    )
    reference = reference_of(done)
    submitted = client.get(done.headers["Location"])
    assert submitted.status_code == 200
    text = submitted.get_data(as_text=True)
    assert reference in text and "What happens next" in text and "Expected by" in text
    assert "Pat" not in text and "example.org" not in text  # the reporter's data is never on a public page

    with app.app_context():
        case = case_by_reference(reference)
        assert case.service_type.code == "POTHOLE" and case.channel == "web" and case.status == "new"
        assert case.attributes == {"SIZE": "large", "LANE": "yes"}
        assert abs(case.lat - where[0]) < 1e-4 and abs(case.long - where[1]) < 1e-4
        assert case.contact_email == "Pat.Guest@example.org" and case.account is None
        assert sorted(a.original_name for a in case.attachments) == ["IMG_2041.jpg", "close-up.png"]
        assert all(a.public for a in case.attachments)
        jpeg = next(a for a in case.attachments if a.original_name == "IMG_2041.jpg")
        data = stored_path(jpeg.stored_name).read_bytes()
        assert b"Exif" not in data and b"SecretCamera" not in data
        with Image.open(io.BytesIO(data)) as stored:
            assert not stored.getexif()
        from core.extensions import db

        followers = db.session.scalars(sa.select(Follower).where(Follower.case_id == case.id)).all()
        assert [(f.email, f.reason) for f in followers] == [("pat.guest@example.org", "reporter")]
        db.session.remove()
    # The kept copies (with their EXIF) are gone once the case has its photos.
    pending = app.extensions["civic"].data_dir / "portal-pending"
    assert not any(b"SecretCamera" in p.read_bytes() for p in pending.glob("*.upload"))


def test_required_attribute_missing_shows_the_form_again_with_the_error_tied_to_it_and_everything_kept(app):
    client = guest(app)
    page = form_page(client)
    description = f"Hole by the mailbox {uuid.uuid4().hex[:8]}"
    r = send(client, page, attr_LANE="no", description=description, address="12 Nowhere Lane", contact_name="Sam Typed",
             contact_phone="386-555-0100", files=[("hole.png", plain_png())])
    assert r.status_code == 400
    body = r.get_data(as_text=True)
    # The summary at the top links to the field; the field's error is tied to it.
    assert 'id="error-summary"' in body and 'href="#attr_SIZE"' in body
    assert 'id="attr_SIZE-error"' in body
    select = re.search(r"<select[^>]*id=\"attr_SIZE\"[^>]*>", body).group(0)
    assert "attr_SIZE-error" in select and 'aria-invalid="true"' in select
    assert re.search(r'<label for="attr_SIZE">[^<]*<span class="required">\(required\)</span>', body)
    # Nothing typed is lost, the photo neither.
    assert description in body
    assert input_value(body, "address") == "12 Nowhere Lane" and input_value(body, "contact_name") == "Sam Typed"
    assert input_value(body, "contact_phone") == "386-555-0100"
    assert re.search(r'<option selected value="no">|<option value="no" selected>', body)
    assert "Remove hole.png" in body
    assert cases_described(app, description) == 0


def test_description_over_4000_characters_is_refused_and_kept(app):
    client = guest(app)
    page = form_page(client)
    long_text = "x" * 3990 + uuid.uuid4().hex[:11]
    r = send(client, page, attr_SIZE="small", description=long_text)
    assert r.status_code == 400
    body = r.get_data(as_text=True)
    assert 'id="description-error"' in body and "4000" in body
    assert long_text in body  # every character is still there to shorten
    assert "4,001 of 4,000 characters" in body
    assert cases_described(app, long_text) == 0


def test_honeypot_filled_pretends_success_and_creates_nothing(app):
    client = guest(app)
    page = form_page(client)
    assert re.search(r'<div class="hp" aria-hidden="true">\s*<label for="website">', page)
    assert re.search(r'<input[^>]*name="website"[^>]*tabindex="-1"|<input[^>]*tabindex="-1"[^>]*name="website"', page)
    description = f"Cheap watches {uuid.uuid4().hex[:8]}"
    r = send(client, page, attr_SIZE="small", description=description, website="http://spam.example")
    assert r.status_code == 200 and "your report was received" in r.get_data(as_text=True)
    assert cases_described(app, description) == 0


def test_rate_limit_answers_429_with_the_form_and_a_message(app, monkeypatch):
    monkeypatch.setitem(app.extensions["civic"].plugin_config["intake"], "report_limit", 2)
    client = guest(app)
    page = form_page(client)
    for _ in range(2):
        send(client, page, description="")  # invalid, but each sending counts
    description = f"Third try {uuid.uuid4().hex[:8]}"
    r = send(client, page, attr_SIZE="small", description=description)
    assert r.status_code == 429
    body = r.get_data(as_text=True)
    assert "please wait a while" in body and description in body
    assert cases_described(app, description) == 0
    # Another client is not affected.
    other = guest(app)
    assert send(other, form_page(other), description="").status_code == 400  # the form again, not 429


def test_typed_address_that_matches_the_address_list_gets_its_point_and_zip(app):
    street = f"{uuid.uuid4().hex[:6].upper()} Testing Pkwy"
    where = spot()
    add_addresses(app, [(f"14 {street}", where[0], where[1], "32164", "SECRETNAME", f"UA-{uuid.uuid4().hex[:10]}")])
    client = guest(app)
    page = form_page(client)
    description = f"Hole at a listed address {uuid.uuid4().hex[:8]}"
    r = send(client, page, attr_SIZE="medium", description=description, address=f"  14   {street.lower()} ")
    reference = reference_of(r)
    with app.app_context():
        case = case_by_reference(reference)
        assert (case.lat, case.long) == where
        assert case.address == f"14 {street}" and case.zipcode == "32164" and case.zone == "Z7"


def test_address_suggestions_give_at_most_ten_addresses_and_no_names_or_account_numbers(app):
    street = f"{uuid.uuid4().hex[:6].upper()} Suggest Ct"
    where = spot()
    add_addresses(app, [(f"{n} {street}", where[0] + n / 10000, where[1], "32137", "HOLDERNAME", f"ACCT-{uuid.uuid4().hex[:10]}") for n in range(1, 13)])
    client = guest(app)
    r = client.get("/portal/addresses", query_string={"q": street.lower()})
    assert r.status_code == 200
    rows = r.json
    assert len(rows) == 10
    assert all(set(row) == {"address", "lat", "long"} for row in rows)
    assert "HOLDERNAME" not in r.get_data(as_text=True) and "ACCT-" not in r.get_data(as_text=True)
    assert client.get("/portal/addresses", query_string={"q": f"7 {street}"}).json[0]["address"] == f"7 {street}"


def test_is_this_it_shows_only_nearby_open_cases_of_the_same_service(app):
    here = spot()
    near = make_case(app, "POTHOLE", offset(here, north_m=60), address="near one")
    far = make_case(app, "POTHOLE", offset(here, east_m=1000))
    closed = make_case(app, "POTHOLE", offset(here, north_m=-40), status="closed")
    other = make_case(app, "STREETLIGHT", offset(here, east_m=30))

    client = guest(app)
    r = client.get("/portal/nearby", query_string={"service": "POTHOLE", "lat": here[0], "long": here[1]})
    assert r.status_code == 200
    refs = [c["reference"] for c in r.json["cases"]]
    assert refs == [near]
    assert set(r.json["cases"][0]) >= {"reference", "service", "status", "address", "created"}
    assert "contact" not in r.get_data(as_text=True)

    # Without the script: sending the form stops at "Is this it?" once, with a "me too" button.
    page = form_page(client)
    description = f"Another hole {uuid.uuid4().hex[:8]}"
    first = send(client, page, attr_SIZE="small", description=description, lat=str(here[0]), long=str(here[1]))
    assert first.status_code == 200
    body = first.get_data(as_text=True)
    assert "Is this it?" in body and near in body
    assert far not in body and closed not in body and other not in body
    assert f'formaction="/portal/cases/{near}/me-too"' in body
    assert cases_described(app, description) == 0
    # Not the same problem: sending again files the report.
    reference_of(send(client, body, attr_SIZE="small", description=description, lat=str(here[0]), long=str(here[1])))
    assert cases_described(app, description) == 1


def test_me_too_follows_the_case_and_adds_a_note_without_personal_data(app):
    from core.extensions import db
    from core.models import CaseEvent
    from plugins.intake.models import Follower

    here = spot()
    reference = make_case(app, "POTHOLE", here)
    client = guest(app)
    page = form_page(client)
    r = client.post(f"/portal/cases/{reference}/me-too", data={"csrf_token": csrf_token(page), "contact_email": "Neighbour@Example.org", "action": "me_too"})
    assert r.status_code == 302
    # Twice is once.
    client.post(f"/portal/cases/{reference}/me-too", data={"csrf_token": csrf_token(page), "contact_email": "neighbour@example.org"})
    with app.app_context():
        case = case_by_reference(reference)
        followers = db.session.scalars(sa.select(Follower).where(Follower.case_id == case.id)).all()
        assert [(f.email, f.reason) for f in followers] == [("neighbour@example.org", "me_too")]
        notes = db.session.scalars(sa.select(CaseEvent).where(CaseEvent.case_id == case.id, CaseEvent.kind == "internal_note")).all()
        assert [(n.body, n.public) for n in notes] == [("Another resident reported this too (web)", False)]
        assert "example" not in notes[0].body and notes[0].actor_id is None
        db.session.remove()
    # Without a CSRF token nothing happens.
    assert client.post(f"/portal/cases/{reference}/me-too", data={"contact_email": "x@example.org"}).status_code == 400


def test_search_finds_pothole_in_both_languages_whatever_the_case_and_accents(app):
    client = guest(app)
    for query in ("nid-de-poule", "pothole", "NID DE POULE", "chaussee", "Asphalt"):
        r = client.get("/portal/search", query_string={"q": query})
        assert r.status_code == 200
        assert 'href="/portal/report/POTHOLE"' in r.get_data(as_text=True), query
    nothing = client.get("/portal/search", query_string={"q": "zeppelin"}).get_data(as_text=True)
    assert "No service matches" in nothing and "/portal/report/" not in nothing
    french = guest(app, "fr").get("/portal/search", query_string={"q": "pothole"}).get_data(as_text=True)
    assert "Nid-de-poule" in french


def test_home_lists_groups_services_and_current_notices_not_expired_ones(app):
    from core.extensions import db
    from core.models.base import utcnow
    from plugins.intake.models import Notice

    tag = uuid.uuid4().hex[:8]
    with app.app_context():  # published just now: the newest of the notices other tests made, so on the home page
        now = utcnow()
        db.session.add_all([
            Notice(title=f"Debris pick-up starts Monday {tag}", body="Put branches at the curb.",
                   translations={"fr": {"title": f"Ramassage des débris lundi {tag}", "body": "Branches en bordure de rue."}},
                   published_at=now - timedelta(milliseconds=5), expires_at=now + timedelta(days=3)),
            Notice(title=f"Old storm warning {tag}", body="Over.", published_at=now - timedelta(days=5), expires_at=now - timedelta(days=1)),
            Notice(title=f"Next year's notice {tag}", body="Later.", published_at=now + timedelta(days=30)),
            Notice(title=f"Zone notice {tag}", body="Only section P.", zone="P", published_at=now),
        ])
        db.session.commit()
        db.session.remove()
    r = guest(app).get("/portal/")
    assert r.status_code == 200
    body = r.get_data(as_text=True)
    assert "Roads and sidewalks" in body and "Drainage" in body and 'href="/portal/report/POTHOLE"' in body
    assert f"Debris pick-up starts Monday {tag}" in body and f"Zone notice {tag}" in body
    assert f"Old storm warning {tag}" not in body and f"Next year's notice {tag}" not in body
    assert body.index(f"Zone notice {tag}") < body.index(f"Debris pick-up starts Monday {tag}")  # newest first
    french = guest(app, "fr-CA").get("/portal/").get_data(as_text=True)
    assert re.search(r'<html[^>]*lang="fr"', french)
    assert "Rues et trottoirs" in french and f"Ramassage des débris lundi {tag}" in french and "Nid-de-poule" in french


def test_report_form_in_french_with_french_errors(app):
    client = guest(app, "fr")
    page = form_page(client)
    assert re.search(r'<html[^>]*lang="fr"', page)
    assert "Quelle est la taille du nid-de-poule\u00a0?" in page and "(obligatoire)" in page
    assert "Plus petit qu’une assiette" in page
    r = send(client, page, description="Trou profond")
    assert r.status_code == 400
    body = r.get_data(as_text=True)
    assert "Ce champ est requis." in body and "This field is required." not in body
    assert "Trou profond" in body


def test_signed_in_resident_has_contact_details_prefilled_and_the_case_on_their_account(app):
    from core.extensions import db
    from core.models import Account
    from core.services.users import create_user

    username = f"res_{uuid.uuid4().hex[:8]}"
    with app.app_context():
        user = create_user(username, PASSWORD, "Resident", email=f"{username}@example.org")
        db.session.add(Account(name="Robin Resident", email=f"{username}@example.org", phone="386-555-0199", user_id=user.id))
        db.session.commit()
        db.session.remove()
    client = login(guest(app), username)
    assert client.get("/").headers["Location"].endswith("/portal/")  # a resident's home is the portal
    page = form_page(client)
    assert input_value(page, "contact_name") == "Robin Resident" and input_value(page, "contact_email") == f"{username}@example.org"
    description = f"Hole near my house {uuid.uuid4().hex[:8]}"
    here = spot()
    reference = reference_of(send(client, page, attr_SIZE="small", description=description, contact_name="Robin Resident",
                                  contact_email=f"{username}@example.org", lat=str(here[0]), long=str(here[1])))
    with app.app_context():
        case = case_by_reference(reference)
        assert case.account is not None and case.account.name == "Robin Resident"
        db.session.remove()


def test_a_refused_photo_is_named_and_the_others_are_stored(app):
    client = guest(app)
    page = form_page(client)
    here = spot()
    description = f"Two photos, one bad {uuid.uuid4().hex[:8]}"
    r = send(client, page, attr_SIZE="small", description=description, lat=str(here[0]), long=str(here[1]),
             files=[("good.png", plain_png()), ("notes.jpg", b"these are my notes, not a photo")])
    reference = reference_of(r)
    after = client.get(r.headers["Location"]).get_data(as_text=True)
    assert "notes.jpg" in after and "not a JPEG, PNG, GIF or WebP photo" in after
    with app.app_context():
        assert [a.original_name for a in case_by_reference(reference).attachments] == ["good.png"]


def test_site_root_sends_visitors_to_the_portal_and_staff_to_their_dashboard(app, client_for):
    r = guest(app).get("/")
    assert r.status_code == 302 and r.headers["Location"].endswith("/portal/")
    staff = client_for("dispatcher").get("/")
    assert staff.status_code == 200 and "/caseview/list/" in staff.get_data(as_text=True)


def test_the_map_library_is_served_from_its_python_package(app):
    client = guest(app)
    with client.get("/portal/leaflet/leaflet.js") as js:
        assert js.status_code == 200 and b"Leaflet" in js.data[:2000]
    assert client.get("/portal/leaflet/../../../../etc/passwd").status_code == 404
    page = form_page(client)
    assert 'src="/portal/leaflet/leaflet.js"' in page and 'id="report-map"' in page
    assert "unpkg" not in page and "cdn" not in page.lower()
