"""Photos and documents on a case: checked by content, cleaned of location data, served only to those who see the case."""
from __future__ import annotations

import io
import random
import re
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa
from PIL import ExifTags, Image

from tests.conftest import csrf_token

PDF_BYTES = b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
GENERATED = re.compile(r"^[0-9a-f]{32}\.(jpg|png|gif|webp|pdf)$")


# ---- real files, made with Pillow -------------------------------------------------------------

def phone_photo(width: int = 800, height: int = 600) -> bytes:
    """A JPEG as a phone takes it: sideways pixels + an Orientation tag, the GPS of the resident's home, the camera."""
    img = Image.new("RGB", (width, height), (220, 20, 20))
    img.paste((20, 20, 220), (width // 2, 0, width, height))  # left half red, right half blue
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6  # "rotate 90 degrees clockwise to display"
    exif[ExifTags.Base.Make] = "SecretCamera"
    exif[ExifTags.IFD.GPSInfo] = {
        ExifTags.GPS.GPSLatitudeRef: "N", ExifTags.GPS.GPSLatitude: (29.0, 35.0, 12.5),
        ExifTags.GPS.GPSLongitudeRef: "W", ExifTags.GPS.GPSLongitude: (81.0, 12.0, 30.0),
    }
    out = io.BytesIO()
    img.save(out, "JPEG", exif=exif.tobytes(), comment=b"home of J. Resident")
    return out.getvalue()


def png_with_transparency(size: int = 400) -> bytes:
    img = Image.new("RGBA", (size, size // 2), (0, 128, 0, 128))
    out = io.BytesIO()
    img.save(out, "PNG")
    return out.getvalue()


def noisy_png(side: int) -> bytes:
    """A PNG that does not compress: about 3 * side * side bytes."""
    img = Image.frombytes("RGB", (side, side), random.Random(side).randbytes(3 * side * side))
    out = io.BytesIO()
    img.save(out, "PNG")
    return out.getvalue()


def decompression_bomb() -> bytes:
    """A tiny PNG that would decode to more pixels than Pillow's MAX_IMAGE_PIXELS."""
    side = int(Image.MAX_IMAGE_PIXELS**0.5) + 100
    out = io.BytesIO()
    Image.new("1", (side, side)).save(out, "PNG")
    return out.getvalue()


class Upload(io.BytesIO):
    """What the browser sends: bytes, a name and a Content-Type (the shape of werkzeug's FileStorage)."""

    def __init__(self, data: bytes, filename: str, mimetype: str = "application/octet-stream"):
        super().__init__(data)
        self.stream, self.filename, self.mimetype = self, filename, mimetype


class EndlessStream(io.RawIOBase):
    """A JPEG header followed by zeros forever; counts what was read."""

    def __init__(self):
        self.read_bytes = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        n = len(buffer)
        chunk = (b"\xff\xd8\xff\xe0" + bytes(n))[:n] if self.read_bytes == 0 else bytes(n)
        buffer[:n] = chunk
        self.read_bytes += n
        return n


# ---- fixtures and helpers --------------------------------------------------------------------

def new_case(session, service: str = "STREETLIGHT"):
    from core.services.cases import create_case

    return create_case(session, service_code=service, description=f"attachment test {uuid.uuid4().hex[:8]}", address="1 Palm Coast Pkwy")


def user(session, username: str):
    from core.models import User

    return session.scalar(sa.select(User).where(User.username == username))


def actor(session, username: str):
    from core.services.cases import Actor

    return Actor.of(user(session, username))


def stored_files(app) -> set[Path]:
    root = Path(app.config["CIVIC_UPLOAD_DIR"])
    return {p for p in root.rglob("*") if p.is_file()} if root.exists() else set()


def attachments_of(session, case_id: int):
    from core.models import Attachment

    session.expire_all()
    return session.scalars(sa.select(Attachment).where(Attachment.case_id == case_id).order_by(Attachment.id)).all()


def form_token(client, case_id: int) -> str:
    """The CSRF token of the signed-in user's session, from the case page (where the upload form lives).

    While the case page is being built elsewhere, any page of the session with a form gives the same token.
    """
    for url in (f"/caseview/show/{case_id}", f"/caseview/edit/{case_id}", "/userinfoeditview/form"):
        response = client.get(url)
        html = response.get_data(as_text=True)
        if response.status_code == 200 and 'name="csrf_token"' in html:
            return csrf_token(html)
    raise AssertionError(f"no page with a CSRF token for case {case_id}")


def post_file(client, case_id: int, data: bytes, filename: str, content_type: str, token: str | None = "page", **fields):
    form = {"file": (io.BytesIO(data), filename, content_type), **fields}
    if token == "page":
        token = form_token(client, case_id)
    if token is not None:
        form["csrf_token"] = token
    return client.post(f"/attachments/case/{case_id}", data=form, content_type="multipart/form-data")


def fetch(client, url: str):
    """GET a file and close the response (send_file keeps the stored file open until then)."""
    response = client.get(url)
    response.get_data()
    response.close()
    return response


def flashes(client) -> list[tuple[str, str]]:
    with client.session_transaction() as sess:
        return list(sess.get("_flashes", []))


# ---- uploading through the case page -----------------------------------------------------------

def test_department_staff_attaches_a_phone_photo_without_its_location(app, session, client_for):
    from core.models import CaseEvent
    from core.services.attachments import stored_path, thumbnail_path

    case = new_case(session)
    client = client_for("pw_staff")
    before = stored_files(app)

    r = post_file(client, case.id, phone_photo(), "IMG_0001.jpg", "image/jpeg")

    assert r.status_code == 302
    assert r.headers["Location"].endswith(f"/caseview/show/{case.id}")
    assert any(cat == "success" and "IMG_0001.jpg" in msg for cat, msg in flashes(client))
    [att] = attachments_of(session, case.id)
    assert GENERATED.match(att.stored_name) and att.stored_name.endswith(".jpg")
    assert "IMG_0001" not in att.stored_name
    assert att.original_name == "IMG_0001.jpg"
    assert att.content_type == "image/jpeg"
    assert att.uploaded_by_id == user(session, "pw_staff").id
    assert not att.public

    # Stored under the upload folder (outside the web root), in its two-character shard.
    path = stored_path(att.stored_name)
    upload_root = Path(app.config["CIVIC_UPLOAD_DIR"]).resolve()
    assert path.resolve().parent == upload_root / att.stored_name[:2]
    assert not path.resolve().is_relative_to(Path(app.static_folder).resolve())
    assert stored_files(app) - before == {path, thumbnail_path(att.stored_name)}

    # The stored file is what the record says, and it carries no EXIF: no GPS, no camera, no comment.
    data = path.read_bytes()
    import hashlib

    assert att.sha256 == hashlib.sha256(data).hexdigest() and att.size == len(data)
    assert b"Exif\x00\x00" not in data and b"SecretCamera" not in data and b"J. Resident" not in data
    with Image.open(path) as stored:
        assert not stored.getexif().get_ifd(ExifTags.IFD.GPSInfo)
        assert ExifTags.Base.Orientation not in stored.getexif()
        # The orientation was honoured: the sideways 800x600 photo is now upright, red on top.
        assert stored.size == (600, 800) == (att.width, att.height)
        top, bottom = stored.convert("RGB").getpixel((300, 100)), stored.convert("RGB").getpixel((300, 700))
        assert top[0] > 150 > top[2] and bottom[2] > 150 > bottom[0]

    assert att.has_thumbnail
    with Image.open(thumbnail_path(att.stored_name)) as thumb:
        assert thumb.format == "JPEG" and thumb.size == (240, 320)
        assert not thumb.getexif()

    events = session.scalars(sa.select(CaseEvent).where(CaseEvent.case_id == case.id, CaseEvent.kind == "attachment_added")).all()
    assert [(e.data["attachment_id"], e.actor_label, e.public) for e in events] == [(att.id, "pw_staff", False)]


def test_a_public_photo_shows_on_the_residents_timeline(app, session, client_for):
    from core.models import CaseEvent

    case = new_case(session)
    r = post_file(client_for("pw_staff"), case.id, png_with_transparency(), "repaired.png", "image/png", public="y")
    assert r.status_code == 302
    [att] = attachments_of(session, case.id)
    assert att.public
    event = session.scalar(sa.select(CaseEvent).where(CaseEvent.case_id == case.id, CaseEvent.kind == "attachment_added"))
    assert event.public and event.body == "repaired.png"


def test_a_text_file_named_like_a_jpeg_is_refused_and_nothing_is_stored(app, session, client_for):
    case = new_case(session)
    client = client_for("pw_staff")
    before = stored_files(app)

    r = post_file(client, case.id, b"this is not a photo\n" * 50, "photo.jpg", "image/jpeg")

    assert r.status_code == 302
    [(category, message)] = flashes(client)
    assert category == "danger"
    assert message.startswith("File:") and "photo.jpg" in message and "JPEG" in message
    assert attachments_of(session, case.id) == []
    assert stored_files(app) == before


@pytest.mark.parametrize(
    "data, filename, content_type, words",
    [
        (b"this is not a photo", "photo.jpg", "image/jpeg", "says it is a JPEG"),
        (b"#!/bin/sh\nrm -rf /\n", "run.sh", "text/x-shellscript", "not a supported file"),
        (b"<html><script>alert(1)</script></html>", "page.html", "text/html", "not a supported file"),
        (b"\xff\xd8\xff\xe0 broken jpeg body", "broken.jpg", "image/jpeg", "damaged"),
        ("png", "photo.jpg", "image/jpeg", "its content is PNG"),
    ],
)
def test_files_are_judged_by_their_content_not_their_name(app, session, data, filename, content_type, words):
    from core.services.attachments import store_attachment
    from core.services.cases import CaseError

    case = new_case(session)
    before = stored_files(app)
    data = png_with_transparency() if data == "png" else data
    with pytest.raises(CaseError) as refused:
        store_attachment(session, case, Upload(data, filename, content_type), filename, actor(session, "pw_staff"))
    assert list(refused.value.errors) == ["file"]
    assert words in refused.value.errors["file"][0]
    assert attachments_of(session, case.id) == []
    assert stored_files(app) == before


def test_a_photo_that_would_explode_in_memory_is_refused(app, session):
    from core.services.attachments import store_attachment
    from core.services.cases import CaseError

    case = new_case(session)
    before = stored_files(app)
    with pytest.raises(CaseError) as refused:
        store_attachment(session, case, Upload(decompression_bomb(), "bomb.png", "image/png"), "bomb.png", actor(session, "pw_staff"))
    assert "too many pixels" in refused.value.errors["file"][0]
    assert stored_files(app) == before


def test_a_png_and_a_pdf_are_accepted(app, session, client_for):
    from core.services.attachments import stored_path

    case = new_case(session)
    client = client_for("pw_staff")
    assert post_file(client, case.id, png_with_transparency(), "map.png", "image/png").status_code == 302
    assert post_file(client, case.id, PDF_BYTES, "permit.pdf", "application/pdf").status_code == 302

    png, pdf = attachments_of(session, case.id)
    assert (png.content_type, png.width, png.height, png.has_thumbnail) == ("image/png", 400, 200, True)
    assert png.stored_name.endswith(".png")
    assert (pdf.content_type, pdf.width, pdf.has_thumbnail) == ("application/pdf", None, False)
    assert pdf.stored_name.endswith(".pdf") and stored_path(pdf.stored_name).read_bytes() == PDF_BYTES

    r = fetch(client, f"/attachments/{pdf.id}")
    assert r.status_code == 200 and r.data == PDF_BYTES
    assert r.headers["Content-Type"] == "application/pdf"
    assert r.headers["Content-Disposition"].startswith("attachment;") and "permit.pdf" in r.headers["Content-Disposition"]
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert fetch(client, f"/attachments/{pdf.id}/thumbnail").status_code == 404

    r = fetch(client, f"/attachments/{png.id}/thumbnail")
    assert r.status_code == 200 and r.headers["Content-Type"] == "image/jpeg"
    with Image.open(io.BytesIO(r.data)) as thumb:
        assert thumb.size == (320, 160)


def test_an_empty_file_is_refused(app, session, client_for):
    case = new_case(session)
    client = client_for("pw_staff")
    post_file(client, case.id, b"", "empty.jpg", "image/jpeg")
    assert any(m.startswith("File:") and "empty" in m for _, m in flashes(client))
    assert attachments_of(session, case.id) == []


def test_the_size_limit_holds(app, session, client_for, monkeypatch):
    monkeypatch.setitem(app.config, "CIVIC_UPLOAD_MAX_BYTES", 100 * 1024)
    case = new_case(session)
    client = client_for("pw_staff")
    big = noisy_png(256)  # about 200 KB, a valid PNG
    assert len(big) > 100 * 1024
    before = stored_files(app)

    post_file(client, case.id, big, "big.png", "image/png")

    assert any(m.startswith("File:") and "100 KB" in m for _, m in flashes(client))
    assert attachments_of(session, case.id) == []
    assert stored_files(app) == before
    # Just under the limit is fine.
    assert post_file(client, case.id, noisy_png(128), "small.png", "image/png").status_code == 302
    assert len(attachments_of(session, case.id)) == 1


def test_an_endless_upload_is_cut_off_at_the_limit(app, session):
    from core.services.attachments import CHUNK, store_attachment
    from core.services.cases import CaseError

    case = new_case(session)
    stream = EndlessStream()
    with pytest.raises(CaseError) as refused:
        store_attachment(session, case, io.BufferedReader(stream), "endless.jpg", actor(session, "pw_staff"))
    assert "larger than the limit of 10 MB" in refused.value.errors["file"][0]
    assert stream.read_bytes <= app.config["CIVIC_UPLOAD_MAX_BYTES"] + 2 * CHUNK


def test_path_traversal_in_the_filename_is_harmless(app, session, client_for):
    from core.services.attachments import stored_path

    case = new_case(session)
    client = client_for("pw_staff")
    upload_root = Path(app.config["CIVIC_UPLOAD_DIR"]).resolve()
    for name in ("../../../../tmp/evil.png", "..\\..\\windows\\evil.png", "/etc/cron.d/evil.png"):
        assert post_file(client, case.id, png_with_transparency(64), name, "image/png").status_code == 302
    attachments = attachments_of(session, case.id)
    assert len(attachments) == 3
    for att in attachments:  # only the last part survives, as display text
        assert att.original_name.endswith("evil.png") and not set("/\\") & set(att.original_name)
    for att in attachments:
        assert GENERATED.match(att.stored_name)
        assert stored_path(att.stored_name).resolve().is_relative_to(upload_root)
        r = fetch(client, f"/attachments/{att.id}")
        assert r.status_code == 200
        assert "/" not in r.headers["Content-Disposition"] and "\\" not in r.headers["Content-Disposition"]
    assert not Path("/tmp/evil.png").exists() and not Path("/etc/cron.d/evil.png").exists()


def test_a_filename_with_control_characters_and_quotes_is_only_display_text(app, session):
    from core.services.attachments import clean_filename

    assert clean_filename('a"b\r\nX-Evil: <b>\x00.png') == "a_bX-Evil_ _b_.png"
    assert clean_filename("..\\..\\windows\\evil.png") == "evil.png"
    assert clean_filename("../../etc/passwd") == "passwd"
    assert clean_filename("....") == "attachment"
    assert clean_filename(None) == "attachment"
    assert len(clean_filename("x" * 400 + ".jpeg")) == 255 and clean_filename("x" * 400 + ".jpeg").endswith(".jpeg")


# ---- who gets the files ----------------------------------------------------------------------

@pytest.fixture
def util_photo(app, session):
    """A photo on a Utilities case, uploaded by Utilities staff."""
    from core.services.attachments import store_attachment

    case = new_case(session, "METER")
    assert case.department.code == "UTIL"
    att = store_attachment(session, case, Upload(phone_photo(), "meter.jpg", "image/jpeg"), "meter.jpg", actor(session, "util_staff"))
    return case.id, att.id


def test_staff_of_the_department_download_the_photo_inline(client_for, util_photo):
    _, att_id = util_photo
    r = fetch(client_for("util_staff"), f"/attachments/{att_id}")
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "image/jpeg"
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["Content-Disposition"].startswith("inline;") and "meter.jpg" in r.headers["Content-Disposition"]
    with Image.open(io.BytesIO(r.data)) as img:
        assert img.format == "JPEG" and not img.getexif()


def test_dispatcher_sees_every_departments_photos(client_for, util_photo):
    _, att_id = util_photo
    assert fetch(client_for("dispatcher"), f"/attachments/{att_id}/thumbnail").status_code == 200


def test_department_staff_cannot_download_another_departments_photo(client_for, util_photo):
    _, att_id = util_photo
    client = client_for("pw_staff")
    assert fetch(client, f"/attachments/{att_id}").status_code == 404
    assert fetch(client, f"/attachments/{att_id}/thumbnail").status_code == 404


def test_department_staff_cannot_attach_to_another_departments_case(app, session, client_for, util_photo):
    case_id, _ = util_photo
    client = client_for("pw_staff")
    own = new_case(session)
    r = post_file(client, case_id, png_with_transparency(), "x.png", "image/png", token=form_token(client, own.id))
    assert r.status_code == 404
    assert len(attachments_of(session, case_id)) == 1


def test_an_unknown_attachment_is_not_found(client_for):
    assert client_for("admin").get("/attachments/987654321").status_code == 404
    assert client_for("admin").get("/attachments/987654321/thumbnail").status_code == 404


def test_anonymous_visitors_are_sent_to_the_login_page(session, client_for, util_photo):
    case_id, att_id = util_photo
    client = client_for(None)
    for url in (f"/attachments/{att_id}", f"/attachments/{att_id}/thumbnail"):
        r = client.get(url)
        assert r.status_code == 302 and "/login/" in r.headers["Location"]
    token = csrf_token(client.get("/login/").get_data(as_text=True))
    r = post_file(client, case_id, phone_photo(), "a.jpg", "image/jpeg", token=token)
    assert r.status_code == 302 and "/login/" in r.headers["Location"]
    assert len(attachments_of(session, case_id)) == 1


def test_residents_never_get_staff_files(client_for, util_photo):
    _, att_id = util_photo
    client = client_for("resident")
    assert fetch(client, f"/attachments/{att_id}").status_code == 403
    assert fetch(client, f"/attachments/{att_id}/thumbnail").status_code == 403


def test_an_upload_without_the_csrf_token_is_refused(app, session, client_for):
    case = new_case(session)
    client = client_for("pw_staff")
    before = stored_files(app)
    r = post_file(client, case.id, phone_photo(), "a.jpg", "image/jpeg", token=None)
    assert r.status_code == 400
    r = post_file(client, case.id, phone_photo(), "a.jpg", "image/jpeg", token="forged")
    assert r.status_code == 400
    assert attachments_of(session, case.id) == []
    assert stored_files(app) == before


# ---- the service's promises: disk and database agree -----------------------------------------

def test_when_the_database_refuses_the_row_the_files_are_removed(app, session):
    """Someone else saves the case while the photo is on its way (cases are never deleted: the database refuses
    it): the stale commit fails, and no orphan file stays behind."""
    from core.extensions import db
    from core.services.attachments import store_attachment

    case = new_case(session)
    case_id = case.id
    before = stored_files(app)
    with db.engine.begin() as other_connection:
        other_connection.execute(sa.text('UPDATE "case" SET version = version + 1 WHERE id = :id'), {"id": case_id})

    with pytest.raises(sa.exc.SQLAlchemyError):
        store_attachment(session, case, Upload(phone_photo(), "late.jpg", "image/jpeg"), "late.jpg", actor(session, "pw_staff"))
    assert stored_files(app) == before
    assert attachments_of(session, case_id) == []


def test_when_the_disk_refuses_the_file_nothing_is_committed(app, session, client_for, monkeypatch, tmp_path):
    """The upload folder cannot be written (here: it is a file): the user is told, the case is unchanged."""
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("")
    monkeypatch.setitem(app.config, "CIVIC_UPLOAD_DIR", str(blocked))
    case = new_case(session)
    version = case.version
    client = client_for("pw_staff")

    r = post_file(client, case.id, phone_photo(), "a.jpg", "image/jpeg")

    assert r.status_code == 302
    assert any(m.startswith("File:") and "could not be stored" in m for _, m in flashes(client))
    assert attachments_of(session, case.id) == []
    session.refresh(case)
    assert case.version == version and not [e for e in case.events if e.kind == "attachment_added"]


def test_the_case_page_lists_attachments_with_an_upload_form(app, session, client_for):
    from flask import render_template
    from flask_login import login_user

    from core.services.attachments import store_attachment

    case = new_case(session)
    store_attachment(session, case, Upload(phone_photo(), "pothole.jpg", "image/jpeg"), "pothole.jpg", actor(session, "pw_staff"))
    store_attachment(session, case, Upload(PDF_BYTES, "report.pdf"), "report.pdf", actor(session, "pw_staff"))
    with app.test_request_context(f"/caseview/show/{case.id}"):
        login_user(user(session, "pw_staff"))
        app.preprocess_request()  # what every request does first: FAB puts the user on g
        html = render_template("civic/case_attachments.html", case=case, appbuilder=app.appbuilder)
    assert "pothole.jpg" in html and "report.pdf" in html and "600&times;800" in html
    assert 'name="csrf_token"' in html and 'name="file"' in html and 'enctype="multipart/form-data"' in html
    assert f'action="/attachments/case/{case.id}"' in html
    assert "up to 10 MB" in html
