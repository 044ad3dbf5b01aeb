"""The crew's phone view over HTTP: a crew member sees their sweep, sends their queued check-offs in a batch
(re-sent ones are recognised), another department's crew is refused, and photos are checked by content."""
from __future__ import annotations

import io
import re
import uuid

import pytest
import sqlalchemy as sa
from PIL import Image

from tests.conftest import PASSWORD
from tests.plugins.fieldservice.conftest import BASE_LAT, BASE_LONG


@pytest.fixture
def crew_sweep(app, session, tiny_network):
    """An active sweep: the west zone driven by a PW crew with the ``crew`` user in it, the east zone by nobody."""
    from core.models import Crew, Department, User
    from core.services.cases import Actor
    from plugins.fieldservice import sweeps

    pw = session.scalar(sa.select(Department).where(Department.code == "PW"))
    crew = Crew(name=f"PW sweep crew {tiny_network.tag}", department=pw,
                members=[session.scalar(sa.select(User).where(User.username == "crew"))])
    session.add(crew)
    session.commit()
    dispatcher = Actor.of(session.scalar(sa.select(User).where(User.username == "dispatcher")))
    sweep = sweeps.create_sweep(session, name=f"Crew pass {tiny_network.tag}", sweep_type="debris", zone_codes=tiny_network.zones,
                                actor=dispatcher, crews_by_zone={tiny_network.zones[0]: crew})
    sweeps.start_sweep(session, sweep, dispatcher)
    return sweep


def sweep_segment_ids(session, sweep, net) -> dict[str, int]:
    from plugins.fieldservice.models import SweepSegment

    rows = session.execute(sa.select(SweepSegment.segment_id, SweepSegment.id).where(SweepSegment.sweep_id == sweep.id)).all()
    by_segment = dict(rows)
    return {key: by_segment[sid] for key, sid in net.segments.items()}


def page_token(client) -> str:
    html = client.get("/fieldservice/crew/").get_data(as_text=True)
    return re.search(r'<meta name="csrf-token" content="([^"]+)"', html).group(1)


def util_crew_member(session, tag: str):
    """A field crew member of Utilities, in a Utilities crew (another department)."""
    from core.models import Crew, Department
    from core.services.users import create_user

    util = session.scalar(sa.select(Department).where(Department.code == "UTIL"))
    user = create_user(f"util_crew_{tag}", PASSWORD, "Field crew", email=f"util_crew_{tag}@palmcoast.example.gov", departments=[util])
    session.add(Crew(name=f"UTIL crew {tag}", department=util, members=[user]))
    session.commit()
    return user.username


def test_crew_member_sees_their_sweep_nearest_streets_first(session, client_for, crew_sweep, tiny_network):
    client = client_for("crew")
    page = client.get("/fieldservice/crew/")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and crew_sweep.name in html
    assert 'name="viewport"' in html and "crew.js" in html
    assert not re.search(r'(src|href)="https?://', html)  # no CDN
    r = client.get(f"/fieldservice/crew/api/sweep/{crew_sweep.id}/segments?lat={BASE_LAT + 0.0031}&long={BASE_LONG + 0.0051}")
    assert r.status_code == 200, r.get_data(as_text=True)
    data = r.json
    # Both zones: the west one is the crew's, the east one is given to no crew.
    assert {s["zone"] for s in data["segments"]} == set(tiny_network.zones)
    assert data["segments"][0]["street"] == "Test W1 Street"
    distances = [s["distance_m"] for s in data["segments"]]
    assert distances == sorted(distances)
    assert data["progress"]["total"] == 6 and data["statuses"][0]["code"] == "not_checked"
    by_name = client.get(f"/fieldservice/crew/api/sweep/{crew_sweep.id}/segments").json["segments"]
    assert [s["street"] for s in by_name] == sorted(s["street"] for s in by_name)
    bad = client.get(f"/fieldservice/crew/api/sweep/{crew_sweep.id}/segments?lat=north&long=1")
    assert bad.status_code == 400 and "lat" in bad.get_data(as_text=True)


def test_another_departments_crew_cannot_open_or_check_the_sweep(session, client_for, crew_sweep, tiny_network):
    username = util_crew_member(session, tiny_network.tag)
    client = client_for(username)
    assert crew_sweep.name not in client.get("/fieldservice/crew/").get_data(as_text=True)
    assert client.get(f"/fieldservice/crew/api/sweep/{crew_sweep.id}/segments").status_code == 403
    ids = sweep_segment_ids(session, crew_sweep, tiny_network)
    r = client.post("/fieldservice/crew/api/checks", headers={"X-CSRFToken": page_token(client)},
                    json={"checks": [{"client_id": str(uuid.uuid4()), "sweep_segment_id": ids[f"{tiny_network.tag}-w0"], "status": "clear"}]})
    assert r.status_code == 200 and r.json["results"][0]["code"] == 403


@pytest.mark.parametrize("username,status", [("resident", 403), ("pw_staff", 403), (None, 401)])
def test_residents_office_staff_and_visitors_have_no_crew_view(client_for, crew_sweep, username, status):
    # (one signed-in client per test: the test's app context is shared by the requests)
    assert client_for(username).get(f"/fieldservice/crew/api/sweep/{crew_sweep.id}/segments").status_code == status


def test_phone_sends_its_queue_with_a_resent_item_and_a_bad_status(session, client_for, crew_sweep, tiny_network):
    from plugins.fieldservice.models import SweepCheck, SweepSegment

    client = client_for("crew")
    token = page_token(client)
    ids = sweep_segment_ids(session, crew_sweep, tiny_network)
    tag = tiny_network.tag
    first, second, bad = (str(uuid.uuid4()) for _ in range(3))
    batch = [
        {"client_id": first, "sweep_segment_id": ids[f"{tag}-w0"], "status": "clear", "checked_at": "2099-01-01T00:00:00Z",
         "lat": BASE_LAT + 0.001, "long": BASE_LONG + 0.005},
        {"client_id": second, "sweep_segment_id": ids[f"{tag}-e1"], "status": "debris", "note": "Branches"},
    ]
    r = client.post("/fieldservice/crew/api/checks", json={"checks": batch}, headers={"X-CSRFToken": token})
    assert [a["result"] for a in r.json["results"]] == ["ok", "ok"]
    # The answer was lost on the way: the phone sends the same items again, with a new one that is wrong.
    again = batch + [{"client_id": bad, "sweep_segment_id": ids[f"{tag}-w1"], "status": "sunny"}]
    r = client.post("/fieldservice/crew/api/checks", json={"checks": again}, headers={"X-CSRFToken": token})
    results = r.json["results"]
    assert [a["client_id"] for a in results] == [first, second, bad]
    assert [a["result"] for a in results] == ["duplicate", "duplicate", "error"]
    assert results[2]["code"] == 400 and "status" in results[2]["errors"]
    session.expire_all()
    assert session.scalar(sa.select(sa.func.count()).select_from(SweepCheck).where(SweepCheck.client_id.in_([first, second, bad]))) == 2
    statuses = dict(session.execute(sa.select(SweepSegment.id, SweepSegment.status).where(SweepSegment.sweep_id == crew_sweep.id)).all())
    assert statuses[ids[f"{tag}-w0"]] == "clear" and statuses[ids[f"{tag}-e1"]] == "debris"


def test_a_batch_needs_the_csrf_token(client_for, crew_sweep, session, tiny_network):
    client = client_for("crew")
    ids = sweep_segment_ids(session, crew_sweep, tiny_network)
    r = client.post("/fieldservice/crew/api/checks",
                    json={"checks": [{"client_id": str(uuid.uuid4()), "sweep_segment_id": ids[f"{tiny_network.tag}-w0"], "status": "clear"}]})
    assert r.status_code == 400
    r = client.post("/fieldservice/crew/api/checks", json={"checks": "everything"}, headers={"X-CSRFToken": page_token(client)})
    assert r.status_code == 400 and "checks" in r.json["errors"]


def jpeg(color="orange") -> bytes:
    out = io.BytesIO()
    img = Image.new("RGB", (64, 48), color)
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make: must not survive
    img.save(out, "JPEG", exif=exif)
    return out.getvalue()


def test_a_check_off_with_a_photo_is_stored_once_and_checked_by_content(app, session, client_for, crew_sweep, tiny_network):
    from plugins.fieldservice.models import FieldPhoto, SweepCheck

    client = client_for("crew")
    token = page_token(client)
    ids = sweep_segment_ids(session, crew_sweep, tiny_network)
    client_id = str(uuid.uuid4())
    fields = {"client_id": client_id, "sweep_segment_id": str(ids[f"{tiny_network.tag}-w2"]), "status": "blocked", "note": "Tree across"}

    def send(data: bytes, name="street.jpg"):
        return client.post("/fieldservice/crew/api/photo", data={**fields, "photo": (io.BytesIO(data), name, "image/jpeg")},
                           headers={"X-CSRFToken": token}, content_type="multipart/form-data")

    before = session.scalar(sa.select(sa.func.count()).select_from(FieldPhoto))
    fake = send(b"<?php system($_GET['x']); ?>", "street.jpg")
    assert fake.status_code == 400 and "photo" in fake.json["results"][0]["errors"]
    r = send(jpeg())
    assert r.status_code == 200 and r.json["results"][0]["result"] == "ok", r.get_data(as_text=True)
    photo_id = r.json["results"][0]["photo_id"]
    assert send(jpeg()).json["results"][0] == {"client_id": client_id, "result": "duplicate", "check_id": r.json["results"][0]["check_id"],
                                              "photo_id": photo_id}
    session.expire_all()
    assert session.scalar(sa.select(sa.func.count()).select_from(FieldPhoto)) == before + 1
    assert session.scalar(sa.select(SweepCheck.photo_id).where(SweepCheck.client_id == client_id)) == photo_id


@pytest.fixture
def field_photo(session):
    from core.services.cases import Actor
    from plugins.fieldservice.photos import save_photo

    photo = save_photo(session, io.BytesIO(jpeg()), Actor())
    session.commit()
    return photo.id


@pytest.mark.parametrize("username,status", [("dispatcher", 200), ("crew", 200), ("resident", 403)])
def test_field_photos_are_shown_to_field_staff_without_exif(client_for, field_photo, username, status):
    shown = client_for(username).get(f"/fieldservice/photos/{field_photo}")
    shown.get_data()
    shown.close()  # send_file keeps the stored file open until then
    assert shown.status_code == status
    if status == 200:
        assert shown.mimetype == "image/jpeg" and b"PhoneMaker" not in shown.data
        assert Image.open(io.BytesIO(shown.data)).getexif().get(0x010F) is None


def test_the_service_worker_is_served_under_the_crew_page(client_for):
    r = client_for("crew").get("/fieldservice/crew/sw.js")
    assert r.status_code == 200 and "javascript" in r.mimetype and b"caches" in r.data
