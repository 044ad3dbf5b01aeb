"""Hostile uploads: a file is judged by its bytes, cleaned, bounded, stored under a name of ours and never served
back as something a browser would run.  Each story goes through the channels a stranger can reach: the staff
case page, the REST task photo and Open311's ``media``.
"""
from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from tests.core.test_attachments import GENERATED, PDF_BYTES, attachments_of, fetch, flashes, new_case, post_file, stored_files
from tests.core.test_task_api import TASKS, tree_case
from tests.plugins.intake.open311_helpers import error_texts, new_key

HTML_PAGE = b"<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>"
SVG = b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script><circle r="5"/></svg>'
PAYLOAD = b"<script>alert(1)</script>"


def jpeg(comment: bytes = b"") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (30, 120, 200)).save(out, "JPEG", comment=comment)
    return out.getvalue()


def open311_media(app, data: bytes, filename: str, content_type: str):
    """POST requests.json with a ``media`` file, as an Open311 app does."""
    _name, key = new_key(app)
    form = {"api_key": key, "service_code": "SIDEWALK", "lat": "29.58", "long": "-81.2",
            "media": (io.BytesIO(data), filename, content_type)}
    return app.test_client().post("/open311/v2/requests.json", data=form, content_type="multipart/form-data")


def task_photo(api, username: str, task_id: int, data: bytes, filename: str, content_type: str = "image/jpeg"):
    return api(username).post(f"{TASKS}{task_id}/photo", data={"file": (io.BytesIO(data), filename, content_type)},
                              content_type="multipart/form-data")


# ---- the type is what the bytes say ---------------------------------------------------------------------------

def test_an_html_page_renamed_jpg_is_refused_on_every_channel(app, session, client_for, api):
    case = new_case(session)
    before = stored_files(app)

    staff = client_for("pw_staff")
    assert post_file(staff, case.id, HTML_PAGE, "holiday.jpg", "image/jpeg").status_code == 302
    assert any(cat == "danger" and "holiday.jpg" in msg and "JPEG" in msg for cat, msg in flashes(staff))
    assert attachments_of(session, case.id) == []

    answer = open311_media(app, HTML_PAGE, "holiday.jpg", "image/jpeg")
    assert answer.status_code == 400, answer.get_data(as_text=True)
    assert any(text.startswith("media:") for text in error_texts(answer.json))

    _case, tasks = tree_case(api)
    answer = task_photo(api, "pw_staff", tasks["PW"]["id"], HTML_PAGE, "holiday.jpg")
    assert answer.status_code == 400, answer.get_data(as_text=True)
    assert list(answer.json["message"]) == ["file"]

    assert stored_files(app) == before


@pytest.mark.parametrize("filename, content_type", [("logo.svg", "image/svg+xml"), ("logo.jpg", "image/jpeg"), ("logo.png", "image/png")])
def test_an_svg_is_refused_whatever_it_is_called(app, session, client_for, filename, content_type):
    case = new_case(session)
    staff = client_for("pw_staff")
    post_file(staff, case.id, SVG, filename, content_type)
    assert any(cat == "danger" and filename in msg for cat, msg in flashes(staff))
    assert attachments_of(session, case.id) == []
    answer = open311_media(app, SVG, filename, content_type)
    assert answer.status_code == 400 and any(text.startswith("media:") for text in error_texts(answer.json))


@pytest.mark.parametrize("where", ["appended", "in a comment"])
def test_a_jpeg_carrying_a_script_is_re_encoded_and_the_script_is_gone(app, session, client_for, where):
    """A polyglot: a real JPEG that is also an HTML page.  Pillow decodes the pixels and writes a new file."""
    from core.services.attachments import stored_path

    upload = jpeg() + b"<html>" + PAYLOAD + b"</html>" if where == "appended" else jpeg(comment=b"<html>" + PAYLOAD)
    assert PAYLOAD in upload
    case = new_case(session)
    post_file(client_for("pw_staff"), case.id, upload, "photo.jpg", "image/jpeg")
    [attachment] = attachments_of(session, case.id)
    stored = stored_path(attachment.stored_name).read_bytes()
    assert stored != upload
    assert PAYLOAD not in stored and b"<html" not in stored
    with Image.open(io.BytesIO(stored)) as image:
        assert image.format == "JPEG" and image.size == (64, 48)


# ---- bounded: size and count ----------------------------------------------------------------------------------

def test_a_file_over_the_size_limit_is_refused_naming_the_field(app, api, monkeypatch):
    big = jpeg() + bytes(4096)
    monkeypatch.setitem(app.config, "CIVIC_UPLOAD_MAX_BYTES", 2048)
    _case, tasks = tree_case(api)
    answer = task_photo(api, "pw_staff", tasks["PW"]["id"], big, "big.jpg")
    assert answer.status_code == 400, answer.get_data(as_text=True)
    assert "limit" in answer.json["message"]["file"][0]

    # Open311: a body over the server's limit is a 413 naming media, not a dropped connection or a 500.
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 2048)
    answer = open311_media(app, big, "big.jpg", "image/jpeg")
    assert answer.status_code == 413, answer.get_data(as_text=True)
    assert error_texts(answer.json)[0].startswith("media:")


def test_a_case_takes_a_bounded_number_of_files(app, session, api, monkeypatch):
    monkeypatch.setitem(app.config, "CIVIC_UPLOAD_MAX_PER_CASE", 2)
    case, tasks = tree_case(api)
    for n in (1, 2):
        assert task_photo(api, "pw_staff", tasks["PW"]["id"], jpeg(), f"cut{n}.jpg").status_code == 201
    before = stored_files(app)
    answer = task_photo(api, "pw_staff", tasks["PW"]["id"], jpeg(), "cut3.jpg")
    assert answer.status_code == 400, answer.get_data(as_text=True)
    assert "2 files" in answer.json["message"]["file"][0]
    assert len(attachments_of(session, case["id"])) == 2
    assert stored_files(app) == before


# ---- stored under our name, outside the web root --------------------------------------------------------------

def test_a_stored_file_is_named_by_a_generated_id_outside_the_web_root(app, session, client_for):
    from core.services.attachments import stored_path

    case = new_case(session)
    post_file(client_for("pw_staff"), case.id, jpeg(), "../../static/<img src=x onerror=alert(1)>.html.jpg", "image/jpeg")
    [attachment] = attachments_of(session, case.id)
    assert GENERATED.match(attachment.stored_name)
    path = stored_path(attachment.stored_name).resolve()
    assert path.is_relative_to(Path(app.config["CIVIC_UPLOAD_DIR"]).resolve())
    assert not path.is_relative_to(Path(app.static_folder).resolve())
    assert "static" not in path.name and "<" not in str(path)
    # The resident's name is display text only, without the folders.
    assert "/" not in attachment.original_name and "<" not in attachment.original_name


# ---- never served as a page -----------------------------------------------------------------------------------

def test_downloads_are_inert_images_inline_documents_as_attachments(app, session, client_for):
    case = new_case(session)
    staff = client_for("pw_staff")
    post_file(staff, case.id, jpeg(), "photo.jpg", "image/jpeg", public="y")
    post_file(staff, case.id, PDF_BYTES, "letter.pdf", "application/pdf")
    photo, pdf = attachments_of(session, case.id)

    served = {
        "image": fetch(staff, f"/attachments/{photo.id}"),
        "thumbnail": fetch(staff, f"/attachments/{photo.id}/thumbnail"),
        "public photo": fetch(app.test_client(), f"/portal/photos/{photo.id}"),
        "pdf": fetch(staff, f"/attachments/{pdf.id}"),
    }
    for what, response in served.items():
        assert response.status_code == 200, what
        assert response.headers["X-Content-Type-Options"] == "nosniff", what
        csp = response.headers["Content-Security-Policy"]
        assert "default-src 'none'" in csp and "sandbox" in csp and "script-src" not in csp, what
    for what in ("image", "thumbnail", "public photo"):
        assert served[what].mimetype == "image/jpeg", what
        assert not served[what].headers.get("Content-Disposition", "inline").startswith("attachment"), what
    assert served["pdf"].mimetype == "application/pdf"
    assert served["pdf"].headers["Content-Disposition"].startswith("attachment;")
    assert 'filename=letter.pdf' in served["pdf"].headers["Content-Disposition"]
