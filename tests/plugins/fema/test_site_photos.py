"""Photos of a damage inventory site: the coordinator uploads a real photo from the site's page, a fake image is
refused naming the file, and the thumbnails are served only to those who may see sites."""
from __future__ import annotations

import io
import re

from tests.conftest import csrf_token
from tests.plugins.fema.test_export import coordinator, make_disaster  # noqa: F401
from tests.plugins.fema.test_pdf import photo_bytes


def make_site(app, name="Lehigh Trail bridge"):
    from core.extensions import db
    from plugins.fema.models import Site

    with app.app_context():
        d = make_disaster(db.session)
        site = Site(disaster_id=d.id, name=name, category="C", address="Lehigh Trail")
        db.session.add(site)
        db.session.commit()
        return site.id


def status(client, url) -> int:
    """GET ``url`` and close the response (a served file stays open until then)."""
    response = client.get(url)
    response.close()
    return response.status_code


def upload(client, site_id, data: bytes, filename: str, caption=""):
    page = client.get(f"/fema/sites/{site_id}/photos").get_data(as_text=True)
    return client.post(f"/fema/sites/{site_id}/photos", content_type="multipart/form-data",
                       data={"csrf_token": csrf_token(page), "caption": caption, "file": (io.BytesIO(data), filename)})


def test_coordinator_adds_a_photo_from_the_site_page_and_sees_its_thumbnail(app, coordinator):  # noqa: F811
    site_id = make_site(app)
    show = coordinator.get(f"/siteview/show/{site_id}").get_data(as_text=True)
    assert f"/fema/sites/{site_id}/photos" in show
    for data, name in ((photo_bytes("PNG"), "abutment.png"), (photo_bytes("JPEG"), "trail.jpg")):
        response = upload(coordinator, site_id, data, name, caption="East abutment")
        assert response.status_code == 303, response.get_data(as_text=True)
    page = coordinator.get(f"/fema/sites/{site_id}/photos").get_data(as_text=True)
    thumbs = re.findall(r'src="(/fema/sites/photo/\d+/thumbnail)"', page)
    assert len(thumbs) == 2 and "East abutment" in page
    thumb = coordinator.get(thumbs[0])
    assert thumb.status_code == 200 and thumb.mimetype == "image/jpeg" and thumb.get_data()[:3] == b"\xff\xd8\xff"
    assert thumb.headers["X-Content-Type-Options"] == "nosniff"
    thumb.close()


def test_a_text_file_named_jpg_is_refused_naming_the_file(app, coordinator):  # noqa: F811
    from core.extensions import db
    from plugins.fema.models import SitePhoto

    site_id = make_site(app)
    response = upload(coordinator, site_id, b"just some text, not a photo\n", "photo.jpg")
    assert response.status_code == 400 and "File:" in response.get_data(as_text=True)
    too_long = upload(coordinator, site_id, photo_bytes(), "ok.png", caption="x" * 301)
    assert too_long.status_code == 400 and "Caption:" in too_long.get_data(as_text=True)
    with app.app_context():
        assert db.session.query(SitePhoto).filter_by(site_id=site_id).count() == 0


def test_thumbnails_are_served_only_to_those_who_may_see_sites(app, coordinator, client_for):  # noqa: F811
    site_id = make_site(app)
    assert upload(coordinator, site_id, photo_bytes(), "a.png").status_code == 303
    thumb = re.search(r'src="(/fema/sites/photo/\d+/thumbnail)"',
                      coordinator.get(f"/fema/sites/{site_id}/photos").get_data(as_text=True)).group(1)
    original = thumb.rsplit("/", 1)[0]
    for reader in ("dispatcher", "pw_staff"):
        client = client_for(reader)
        assert status(client, thumb) == 200, reader
        assert status(client, original) == 200, reader
        page = client.get(f"/fema/sites/{site_id}/photos").get_data(as_text=True)
        assert "fema-site-photo-form" not in page, reader  # readers do not upload
        refused = client.post(f"/fema/sites/{site_id}/photos", content_type="multipart/form-data",
                              data={"csrf_token": csrf_token(client.get("/resetmypassword/form").get_data(as_text=True)),
                                    "file": (io.BytesIO(photo_bytes()), "b.png")})
        assert refused.status_code == 403, reader
    for outsider in ("crew", "resident"):
        assert status(client_for(outsider), thumb) == 403, outsider
    assert status(client_for(None), thumb) in (302, 401)
    assert status(coordinator, "/fema/sites/photo/999999999/thumbnail") == 404
