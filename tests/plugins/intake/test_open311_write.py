"""Open311 POST requests: an app files a case with its key, in XML or JSON, form-encoded or multipart;
every bad field is named; batch services answer a token that process-batch resolves.  Both backends."""
from __future__ import annotations

import http.server
import io
import threading

import pytest
import sqlalchemy as sa

from tests.plugins.intake.open311_helpers import (
    POTHOLE,
    case_by_reference,
    error_codes,
    error_texts,
    key,  # noqa: F401  (fixture)
    png_bytes,
    post,
    run_cli,
    tag,
)


def cases_with_email(app, email: str) -> int:
    from core.extensions import db
    from core.models import Case

    with app.app_context():
        count = db.session.scalar(sa.select(sa.func.count()).select_from(Case).where(Case.contact_email == email))
        db.session.remove()
    return count


# ---------------------------------------------------------------- a good report

def test_app_reports_a_pothole_in_json_and_gets_its_request_id(app, key):
    name, plain = key
    body = post(app.test_client(), "requests", {**POTHOLE, "api_key": plain, "description": "Deep hole by the curb",
                                                "address_string": "12 Palm Coast Pkwy", "device_id": "dev-1", "account_id": "acc-9"}, 201)
    assert isinstance(body, list) and len(body) == 1
    (answer,) = body
    assert list(answer) == ["service_request_id", "service_notice", "account_id"]
    assert answer["service_request_id"].startswith("PC-") and "token" not in answer
    assert "Public Works" in answer["service_notice"] and answer["account_id"] is None
    case, events = case_by_reference(app, answer["service_request_id"])
    assert case.channel == "open311" and case.status == "new" and case.description == "Deep hole by the curb"
    assert case.address == "12 Palm Coast Pkwy" and case.lat == 29.58 and case.long == -81.2
    assert case.attributes == {"SIZE": "small"}
    assert {e.actor_label for e in events} == {f"open311:{name}"}


def test_app_reports_in_xml_with_key_and_jurisdiction_in_the_body_like_fixmystreet(app, key):
    _name, plain = key
    root = post(app.test_client(), "requests", {**POTHOLE, "api_key": plain, "jurisdiction_id": "palmcoast.fl.us",
                                                "attribute[LANE]": "yes"}, 201, fmt="xml")
    assert root.tag == "service_requests"
    (request,) = root.findall("request")
    assert [e.tag for e in request] == ["service_request_id", "service_notice", "account_id"]
    assert request.findtext("service_request_id").startswith("PC-") and request.find("token") is None
    case, _ = case_by_reference(app, request.findtext("service_request_id"))
    assert case.attributes == {"SIZE": "small", "LANE": "yes"}


def test_reporter_contact_is_kept_on_the_case_and_follows_it_in_their_language(app, key):
    from core.extensions import db
    from core.models import OutboxMessage
    from plugins.intake.models import Follower

    _name, plain = key
    email = f"reporter.{tag()}@example.org"
    body = post(app.test_client(), "requests", {**POTHOLE, "api_key": plain, "email": email.upper(), "first_name": "Zoé",
                                                "last_name": "Martin", "phone": "386-555-0100", "locale": "fr"}, 201)
    case, _ = case_by_reference(app, body[0]["service_request_id"])
    assert (case.contact_name, case.contact_email, case.contact_phone) == ("Zoé Martin", email, "386-555-0100")
    assert "Travaux publics" in body[0]["service_notice"]  # the answer speaks the locale asked for
    with app.app_context():
        follower = db.session.scalar(sa.select(Follower).where(Follower.case_id == case.id))
        assert (follower.email, follower.reason, follower.locale) == (email, "reporter", "fr")
        received = db.session.scalars(sa.select(OutboxMessage).where(OutboxMessage.related == f"case:{case.id}")).all()
        assert [(m.recipient, m.kind, m.locale) for m in received] == [(email, "case_received", "fr")]
        db.session.remove()


def test_no_personal_data_in_any_get_answer_after_a_post(app, key):
    _name, plain = key
    t = tag()
    secrets = {"email": f"secret.{t}@private.example", "first_name": f"Quentin{t}", "last_name": f"Hidden{t}", "phone": f"386-{t}"}
    c = app.test_client()
    ref = post(c, "requests", {**POTHOLE, "api_key": plain, "description": f"my neighbour {t}", **secrets}, 201)[0]["service_request_id"]
    post(c, "servicerequestupdates", {"api_key": plain, "service_request_id": ref, "description": "Still there",
                                      "email": secrets["email"], "first_name": secrets["first_name"], "last_name": secrets["last_name"]}, 201)
    for url in (f"requests/{ref}.json", f"requests/{ref}.xml", "requests.json", "requests.xml", f"servicerequestupdates.json?service_request_id={ref}",
                "servicerequestupdates.xml", f"requests.json?service_request_id={ref}&extensions=true"):
        response = c.get(f"/open311/v2/{url}")
        assert response.status_code == 200, url
        text = response.get_data(as_text=True)
        for value in (*secrets.values(), t, "private.example"):
            assert value not in text, (url, value)
    assert ref in c.get(f"/open311/v2/requests/{ref}.json").get_data(as_text=True)


def test_api_posts_need_no_csrf_token(app, key):
    assert app.config["WTF_CSRF_ENABLED"] is True
    _name, plain = key
    post(app.test_client(), "requests", {**POTHOLE, "api_key": plain}, 201)


# ---------------------------------------------------------------- errors

@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_unknown_jurisdiction_is_404_in_body_or_query(app, key, fmt):
    _name, plain = key
    c = app.test_client()
    body = post(c, "requests", {**POTHOLE, "api_key": plain, "jurisdiction_id": "elsewhere.example"}, 404, fmt=fmt)
    assert error_codes(body, fmt) == {404} and "jurisdiction_id" in error_texts(body, fmt)[0]
    response = c.post(f"/open311/v2/requests.{fmt}?jurisdiction_id=elsewhere.example", data={**POTHOLE, "api_key": plain})
    assert response.status_code == 404
    post(c, "requests", {**POTHOLE, "api_key": plain, "jurisdiction_id": ""}, 201, fmt=fmt)  # empty = missing


def test_unknown_format_is_404_in_json(app, key):
    _name, plain = key
    response = app.test_client().post("/open311/v2/requests.csv", data={**POTHOLE, "api_key": plain})
    assert response.status_code == 404 and response.json[0]["code"] == 404


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_missing_service_code_is_400_and_unknown_service_404(app, key, fmt):
    _name, plain = key
    c = app.test_client()
    body = post(c, "requests", {"api_key": plain, "lat": "29.5", "long": "-81.2", "service_code": ""}, 400, fmt=fmt)
    assert error_texts(body, fmt) == ["service_code: is required"] and error_codes(body, fmt) == {400}
    body = post(c, "requests", {"api_key": plain, "lat": "29.5", "long": "-81.2", "service_code": "BADGER"}, 404, fmt=fmt)
    assert error_texts(body, fmt) == ["service_code: unknown service 'BADGER'"]


def test_staff_only_service_cannot_be_reported_through_open311(app, key):
    from core.extensions import db
    from core.models import Department, ServiceType

    with app.app_context():
        if db.session.scalar(sa.select(ServiceType).where(ServiceType.code == "O311_STAFF_ONLY")) is None:
            pw = db.session.scalar(sa.select(Department).where(Department.code == "PW"))
            db.session.add(ServiceType(code="O311_STAFF_ONLY", name="Internal inspection", department=pw, public=False))
            db.session.commit()
        db.session.remove()
    _name, plain = key
    body = post(app.test_client(), "requests", {"api_key": plain, "service_code": "O311_STAFF_ONLY", "address_string": "City Hall"}, 404)
    assert "O311_STAFF_ONLY" in body[0]["description"]


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_missing_required_attribute_and_bad_list_value_are_named(app, key, fmt):
    _name, plain = key
    c = app.test_client()
    body = post(c, "requests", {"api_key": plain, "service_code": "POTHOLE", "lat": "29.5", "long": "-81.2"}, 400, fmt=fmt)
    assert error_texts(body, fmt) == ["attribute[SIZE]: Missing data for required field."]
    body = post(c, "requests", {**POTHOLE, "api_key": plain, "attribute[SIZE]": "enormous"}, 400, fmt=fmt)
    assert error_texts(body, fmt) == ["attribute[SIZE]: must be one of: small, medium, large"]


def test_empty_optional_single_value_list_is_fine(app, key):
    _name, plain = key
    body = post(app.test_client(), "requests", {**POTHOLE, "api_key": plain, "attribute[LANE]": "", "email": "", "phone": "",
                                                "media_url": "", "description": ""}, 201)
    case, _ = case_by_reference(app, body[0]["service_request_id"])
    assert case.attributes == {"SIZE": "small"} and case.contact_email is None


def test_multivaluelist_takes_the_bracket_form_and_the_plain_repeated_form(app, key):
    _name, plain = key
    c = app.test_client()
    base = {"api_key": plain, "service_code": "TREE_DOWN", "address_string": "4 Belle Terre Pkwy"}
    one = post(c, "requests", {**base, "attribute[BLOCKING][]": ["road", "sidewalk"]}, 201)
    two = post(c, "requests", {**base, "attribute[BLOCKING]": ["road", "power"]}, 201)
    three = post(c, "requests", {**base, "attribute[BLOCKING]": "nothing"}, 201)
    assert case_by_reference(app, one[0]["service_request_id"])[0].attributes == {"BLOCKING": ["road", "sidewalk"]}
    assert case_by_reference(app, two[0]["service_request_id"])[0].attributes == {"BLOCKING": ["road", "power"]}
    assert case_by_reference(app, three[0]["service_request_id"])[0].attributes == {"BLOCKING": ["nothing"]}
    body = post(c, "requests", {**base, "attribute[BLOCKING][]": ["road", "moon"]}, 400)
    assert error_texts(body) == ["attribute[BLOCKING]: value 'moon': must be one of: road, sidewalk, power, nothing"]
    body = post(c, "requests", {**base, "attribute[BLOCKING][]": ["", ""]}, 400)  # required: empty values are missing
    assert error_texts(body) == ["attribute[BLOCKING]: Missing data for required field."]


def test_a_single_value_attribute_sent_twice_is_refused(app, key):
    _name, plain = key
    body = post(app.test_client(), "requests", {**POTHOLE, "api_key": plain, "attribute[SIZE]": ["small", "large"]}, 400)
    assert error_texts(body) == ["attribute[SIZE]: takes one value, not 2"]


def test_attributes_the_service_does_not_define_are_ignored(app, key):
    _name, plain = key
    body = post(app.test_client(), "requests", {**POTHOLE, "api_key": plain, "attribute[fixmystreet_id]": "1234",
                                                "attribute[easting]": "1"}, 201)
    assert case_by_reference(app, body[0]["service_request_id"])[0].attributes == {"SIZE": "small"}


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_bad_or_missing_location_is_named(app, key, fmt):
    _name, plain = key
    c = app.test_client()
    body = post(c, "requests", {**POTHOLE, "api_key": plain, "lat": "95"}, 400, fmt=fmt)
    assert error_texts(body, fmt) == ["lat: must be a number between -90 and 90"]
    body = post(c, "requests", {**POTHOLE, "api_key": plain, "lat": "north"}, 400, fmt=fmt)
    assert error_texts(body, fmt) == ["lat: must be a number between -90 and 90"]
    body = post(c, "requests", {**POTHOLE, "api_key": plain, "long": ""}, 400, fmt=fmt)
    assert "long: lat and long go together" in error_texts(body, fmt)
    assert all(text.startswith("long: ") for text in error_texts(body, fmt))
    body = post(c, "requests", {"api_key": plain, "service_code": "POTHOLE", "attribute[SIZE]": "small"}, 400, fmt=fmt)
    assert error_texts(body, fmt) == ["lat: a location is required: send lat and long, address_string or address_id"]
    ok = post(c, "requests", {"api_key": plain, "service_code": "POTHOLE", "attribute[SIZE]": "small", "address_id": "A-1"}, 201, fmt=fmt)
    assert ok is not None


def test_description_too_long_is_refused_and_html_is_removed(app, key):
    _name, plain = key
    c = app.test_client()
    body = post(c, "requests", {**POTHOLE, "api_key": plain, "description": "x" * 4001}, 400)
    assert error_texts(body) == ["description: is 4001 characters long; the limit is 4000"]
    text = "<p>Hole is <b>deep</b></p><script>alert(1)</script><!-- c -->; depth < 2 ft & wide"
    body = post(c, "requests", {**POTHOLE, "api_key": plain, "description": text}, 201)
    case, _ = case_by_reference(app, body[0]["service_request_id"])
    assert case.description == "Hole is deep; depth < 2 ft & wide"


def test_several_bad_fields_are_reported_together_and_nothing_is_created(app, key):
    _name, plain = key
    email = f"bad.{tag()}@example.org"
    body = post(app.test_client(), "requests", {
        "api_key": plain, "service_code": "POTHOLE", "lat": "200", "long": "-81.2", "attribute[SIZE]": "huge",
        "media_url": "ftp://example.org/a.jpg", "email": email, "phone": "9" * 41, "first_name": "x" * 101,
    }, 400)
    texts = error_texts(body)
    assert "attribute[SIZE]: must be one of: small, medium, large" in texts
    assert "lat: must be a number between -90 and 90" in texts
    assert "media_url: must be an http or https address" in texts
    assert "phone: is 41 characters long; the limit is 40" in texts
    assert "first_name: is 101 characters long; the limit is 100" in texts
    assert len(texts) == 5
    assert cases_with_email(app, email) == 0
    body = post(app.test_client(), "requests", {**POTHOLE, "api_key": plain, "email": "not-an-address"}, 400)
    assert error_texts(body) == ["email: is not a valid e-mail address"]


# ---------------------------------------------------------------- media

def test_media_file_is_stored_as_a_public_photo(app, key):
    from core.extensions import db
    from core.models import Attachment

    _name, plain = key
    c = app.test_client()
    body = post(c, "requests", {**POTHOLE, "api_key": plain, "media": (io.BytesIO(png_bytes()), "hole.png")}, 201,
                content_type="multipart/form-data")
    ref = body[0]["service_request_id"]
    case, events = case_by_reference(app, ref)
    with app.app_context():
        (attachment,) = db.session.scalars(sa.select(Attachment).where(Attachment.case_id == case.id)).all()
        assert attachment.public and attachment.content_type == "image/png" and attachment.original_name == "hole.png"
        db.session.remove()
    assert "attachment_added" in [e.kind for e in events]
    media_url = c.get(f"/open311/v2/requests/{ref}.json").json[0]["media_url"]
    assert media_url.startswith("http") and str(attachment.id) in media_url


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_a_bad_media_file_is_named_and_nothing_is_created(app, key, fmt):
    _name, plain = key
    c = app.test_client()
    email = f"media.{tag()}@example.org"
    body = post(c, "requests", {**POTHOLE, "api_key": plain, "email": email, "media": (io.BytesIO(b"MZ\x90\x00 not a photo"), "virus.exe")},
                400, fmt=fmt, content_type="multipart/form-data")
    assert error_texts(body, fmt) == ["media: 'virus.exe' is not a supported file: send a JPEG, PNG, GIF or WebP photo, or a PDF document"]
    # starts like a PNG but is not one: refused by store_attachment after the case was built, rolled back
    body = post(c, "requests", {**POTHOLE, "api_key": plain, "email": email, "media": (io.BytesIO(b"\x89PNG\r\n\x1a\n" + b"0" * 50), "fake.png")},
                400, fmt=fmt, content_type="multipart/form-data")
    assert error_texts(body, fmt)[0].startswith("media: 'fake.png' starts like a PNG file but is damaged")
    body = post(c, "requests", {**POTHOLE, "api_key": plain, "email": email, "media": (io.BytesIO(b""), "empty.jpg")},
                400, fmt=fmt, content_type="multipart/form-data")
    assert error_texts(body, fmt) == ["media: is empty"]
    assert cases_with_email(app, email) == 0
    # an empty file field is no media at all
    post(c, "requests", {**POTHOLE, "api_key": plain, "email": email, "media": (io.BytesIO(b""), "")}, 201, fmt=fmt,
         content_type="multipart/form-data")
    assert cases_with_email(app, email) == 1


def test_a_request_over_the_size_limit_is_413_naming_media(app, key, monkeypatch):
    _name, plain = key
    # (kept under 500 KB: the test client spools bigger bodies to a temporary file it never closes)
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 100 * 1024)
    big = io.BytesIO(b"\xff\xd8\xff" + b"0" * (200 * 1024))
    body = post(app.test_client(), "requests", {**POTHOLE, "api_key": plain, "media": (big, "big.jpg")}, 413, content_type="multipart/form-data")
    assert error_texts(body) == ["media: the request is larger than the limit of 100 KB"]


class _Counter(http.server.BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self):  # noqa: N802
        _Counter.hits.append(self.path)
        self.send_response(200)
        self.end_headers()

    do_HEAD = do_GET

    def log_message(self, *args):
        pass


@pytest.fixture
def watched_server():
    """A real HTTP server on 127.0.0.1 that records every request it gets."""
    _Counter.hits = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Counter)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join()


def test_media_url_is_recorded_publicly_and_never_fetched(app, key, watched_server):
    import urllib.request

    _name, plain = key
    url = f"{watched_server}/photos/{tag()}.jpg"
    c = app.test_client()
    body = post(c, "requests", {**POTHOLE, "api_key": plain, "media_url": url}, 201)
    ref = body[0]["service_request_id"]
    _case, events = case_by_reference(app, ref)
    (media,) = [e for e in events if e.kind == "attachment_added"]
    assert media.public and media.body == "" and media.data == {"media_url": url}
    c.get(f"/open311/v2/requests/{ref}.json")
    c.get("/open311/v2/requests.xml")
    assert _Counter.hits == []  # nothing asked our watched server for the photo
    urllib.request.urlopen(f"{watched_server}/check").close()  # the server does count what reaches it
    assert _Counter.hits == ["/check"]
    for bad in ("javascript:alert(1)", "file:///etc/passwd", "http://", "https://x.example/" + "a" * 1000):
        texts = error_texts(post(c, "requests", {**POTHOLE, "api_key": plain, "media_url": bad}, 400))
        assert len(texts) == 1 and texts[0].startswith("media_url: "), bad


# ---------------------------------------------------------------- batch services

def submission(app, token: str):
    from core.extensions import db
    from plugins.intake.models import BatchSubmission

    with app.app_context():
        row = db.session.scalar(sa.select(BatchSubmission).where(BatchSubmission.token == token))
        values = (row.processed_at, row.case_id, row.error, row.payload)
        db.session.remove()
    return values


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_batch_service_answers_a_token_that_process_batch_turns_into_a_request_id(app, key, fmt):
    name, plain = key
    c = app.test_client()
    email = f"records.{tag()}@example.org"
    body = post(c, "requests", {"api_key": plain, "service_code": "PUBLIC_RECORDS", "address_string": "160 Lake Ave",
                                "description": "Minutes of the May meeting", "email": email, "first_name": "Ada"}, 201, fmt=fmt)
    if fmt == "json":
        (answer,) = body
        assert list(answer) == ["token", "service_notice", "account_id"] and "service_request_id" not in answer
        token = answer["token"]
    else:
        (request,) = body.findall("request")
        assert request.find("service_request_id") is None
        token = request.findtext("token")
    assert len(token) >= 32
    assert cases_with_email(app, email) == 0
    pending = post_free_get(c, f"tokens/{token}", fmt)
    assert pending == [{"service_request_id": "", "token": token}]
    assert submission(app, token)[3]["fields"]["contact_email"] == email

    result = run_cli(app, "open311", "process-batch")
    assert result.exit_code == 0, result.output
    assert "cases created" in result.output
    done = post_free_get(c, f"tokens/{token}", fmt)
    reference = done[0]["service_request_id"]
    assert reference.startswith("PC-") and done[0]["token"] == token
    case, events = case_by_reference(app, reference)
    assert case.contact_email == email and case.channel == "open311" and case.description == "Minutes of the May meeting"
    assert {e.actor_label for e in events} == {f"open311:{name}"}
    processed_at, case_id, error, payload = submission(app, token)
    assert processed_at is not None and case_id == case.id and error == ""
    assert "contact_email" not in payload["fields"] and payload["email"] is None  # the contact now lives on the case only
    # a second run makes nothing new
    again = run_cli(app, "open311", "process-batch")
    assert again.exit_code == 0 and cases_with_email(app, email) == 1
    assert post_free_get(c, f"tokens/{token}", fmt)[0]["service_request_id"] == reference


def post_free_get(client, path: str, fmt: str):
    """A GET that needs no key, as a list of dicts whatever the format."""
    response = client.get(f"/open311/v2/{path}.{fmt}")
    assert response.status_code == 200, response.get_data(as_text=True)
    if fmt == "json":
        return response.json
    from xml.etree import ElementTree as ET

    root = ET.fromstring(response.data)
    assert root.tag == "service_requests"
    return [{child.tag: child.text or "" for child in request} for request in root.findall("request")]


def test_batch_service_is_validated_at_once_and_refuses_files(app, key):
    _name, plain = key
    c = app.test_client()
    body = post(c, "requests", {"api_key": plain, "service_code": "PUBLIC_RECORDS"}, 400)
    assert error_texts(body) == ["lat: a location is required: send lat and long, address_string or address_id"]
    body = post(c, "requests", {"api_key": plain, "service_code": "PUBLIC_RECORDS", "address_string": "1 Main", "lat": "91", "long": "0"}, 400)
    assert error_texts(body) == ["lat: must be a number between -90 and 90"]
    body = post(c, "requests", {"api_key": plain, "service_code": "PUBLIC_RECORDS", "address_string": "1 Main",
                                "media": (io.BytesIO(png_bytes()), "a.png")}, 400, content_type="multipart/form-data")
    assert error_texts(body) == ["media: files are not taken for this service (it is processed later): send media_url"]


def test_unknown_token_is_404(app):
    c = app.test_client()
    response = c.get("/open311/v2/tokens/not-a-token.json")
    assert response.status_code == 404 and "token" in response.json[0]["description"]
    assert c.get("/open311/v2/tokens/not-a-token.xml").status_code == 404


def test_a_submission_that_no_longer_validates_keeps_its_error_and_is_not_retried(app, key):
    from core.extensions import db
    from core.models import ServiceType

    _name, plain = key
    c = app.test_client()
    token = post(c, "requests", {"api_key": plain, "service_code": "PUBLIC_RECORDS", "address_string": "1 Main"}, 201)[0]["token"]

    def set_active(value: bool) -> None:
        with app.app_context():
            db.session.execute(sa.update(ServiceType).where(ServiceType.code == "PUBLIC_RECORDS").values(active=value))
            db.session.commit()
            db.session.remove()

    set_active(False)  # the city withdrew the service before the cron ran
    try:
        result = run_cli(app, "open311", "process-batch")
    finally:
        set_active(True)
    assert result.exit_code == 0, result.output
    assert "unknown service 'PUBLIC_RECORDS'" in result.output
    processed_at, case_id, error, _payload = submission(app, token)
    assert processed_at is not None and case_id is None and error == "service_code: unknown service 'PUBLIC_RECORDS'"
    run_cli(app, "open311", "process-batch")
    assert submission(app, token)[1] is None  # not tried again now that the service is back
    assert post_free_get(c, f"tokens/{token}", "json") == [{"service_request_id": "", "token": token}]


def test_process_batch_claims_each_submission_once(app, key):
    """Two runs over the same pending submission (cron overlapping): one case."""
    from core.extensions import db
    from plugins.intake.models import BatchSubmission
    from plugins.intake.open311.write import _claim, process_batch

    _name, plain = key
    token = post(app.test_client(), "requests", {"api_key": plain, "service_code": "PUBLIC_RECORDS", "address_string": "2 Main"}, 201)[0]["token"]
    with app.app_context():
        submission_id = db.session.scalar(sa.select(BatchSubmission.id).where(BatchSubmission.token == token))
        assert _claim(db.session, submission_id)  # another run holds it...
        db.session.commit()
        report = process_batch(db.session)  # ...so this one skips it
        assert submission_id not in [i for i, _error in report.refused]
        assert db.session.get(BatchSubmission, submission_id).case_id is None
        db.session.remove()

