"""Open311 search extensions on GET requests: paging, updated_after/updated_before, lat/long/radius
and bbox, ``extensions=true`` (Chicago's extended_attributes and notes) and media_url, on both
backends.  Each test works in dates or places no other test uses."""
from __future__ import annotations

import math
from datetime import datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import sqlalchemy as sa

from tests.conftest import recorded_sql
from tests.plugins.intake.test_open311 import REQUEST_FIELDS, UTC, days_ago, get_json, get_xml, ids_of, jpeg, new_case

METRES_PER_DEGREE = 6_371_000 * math.pi / 180


def iso(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def meter_case(app, **kwargs) -> str:
    return new_case(app, service="METER", **kwargs)


def moved(lat: float, long: float, north_m: float = 0, east_m: float = 0) -> tuple[float, float]:
    """The point ``north_m`` metres north and ``east_m`` metres east of lat/long."""
    return lat + north_m / METRES_PER_DEGREE, long + east_m / (METRES_PER_DEGREE * math.cos(math.radians(lat)))


def case_id(app, reference: str) -> int:
    from core.extensions import db
    from core.models import Case

    with app.app_context():
        return db.session.scalar(sa.select(Case.id).where(Case.reference == reference))


# ------------------------------------------------------------------ paging

def test_an_app_pages_through_a_search_in_a_stable_order(app):
    c = app.test_client()
    base = datetime(2012, 5, 1, 8)
    refs = [meter_case(app, created_at=base + timedelta(hours=i)) for i in range(7)]
    twin = meter_case(app, created_at=base + timedelta(hours=3))  # same time as refs[3]: the newer id comes first
    window = "start_date=2012-05-01T00:00:00Z&end_date=2012-05-02T00:00:00Z"
    expected = [refs[6], refs[5], refs[4], twin, refs[3], refs[2], refs[1], refs[0]]
    assert ids_of(get_json(c, f"/open311/v2/requests.json?{window}")) == expected

    pages, links = [], []
    for page in (1, 2, 3, 4):
        r = c.get(f"/open311/v2/requests.json?{window}&page_size=3&page={page}")
        assert r.status_code == 200
        pages.append(ids_of(r.json))
        links.append(r.headers.get("Link"))
    assert pages == [expected[0:3], expected[3:6], expected[6:8], []]
    # a full page with more behind it says where the next one is; the last page does not
    assert links[2] is None and links[3] is None
    target, rel = links[0].split(";")
    assert rel.strip() == 'rel="next"' and target.startswith("<http://localhost/open311/v2/requests.json?")
    query = parse_qs(urlsplit(target.strip("<>")).query)
    assert query["page"] == ["2"] and query["page_size"] == ["3"] and query["start_date"] == ["2012-05-01T00:00:00Z"]
    assert ids_of(c.get(target.strip("<>").removeprefix("http://localhost")).json) == pages[1]
    # the same pages in XML
    root = get_xml(c, f"/open311/v2/requests.xml?{window}&page_size=3&page=2")
    assert [r.findtext("service_request_id") for r in root.findall("request")] == expected[3:6]


def test_page_size_defaults_to_50_and_page_to_1(app):
    from core.extensions import db
    from core.services.cases import create_case

    with app.app_context():
        refs = [create_case(db.session, service_code="METER", created_at=datetime(2012, 6, 1) + timedelta(minutes=i), commit=False).reference
                for i in range(55)]
        db.session.commit()
    c = app.test_client()
    window = "start_date=2012-06-01T00:00:00Z&end_date=2012-06-02T00:00:00Z"
    newest_first = list(reversed(refs))
    assert ids_of(get_json(c, f"/open311/v2/requests.json?{window}&page=1")) == newest_first[:50]
    assert ids_of(get_json(c, f"/open311/v2/requests.json?{window}&page=2")) == newest_first[50:]
    assert ids_of(get_json(c, f"/open311/v2/requests.json?{window}&page_size=20")) == newest_first[:20]
    assert len(get_json(c, f"/open311/v2/requests.json?{window}")) == 55  # no paging asked: the spec's default


# ------------------------------------------------------------------ updated_after / updated_before

def test_a_sync_client_finds_old_requests_updated_since_its_last_visit(app):
    from core.extensions import db
    from core.models import Case
    from core.services.cases import SYSTEM, add_note

    c = app.test_client()
    touched, untouched = meter_case(app, created_at=days_ago(200)), meter_case(app, created_at=days_ago(200))
    since = datetime.utcnow() - timedelta(minutes=5)
    with app.app_context():
        add_note(db.session, db.session.scalar(sa.select(Case).where(Case.reference == touched)), "Meter replaced.", SYSTEM, public=True)

    found = get_json(c, f"/open311/v2/requests.json?updated_after={iso(since)}")
    assert touched in ids_of(found) and untouched not in ids_of(found)
    assert all(r["updated_datetime"] >= iso(since) for r in found)
    assert touched not in ids_of(get_json(c, "/open311/v2/requests.json"))  # the default window is on requested_datetime
    # updated_before alone: the 90 days of updates before it
    before = ids_of(get_json(c, f"/open311/v2/requests.json?updated_before={iso(days_ago(150))}"))
    assert untouched in before and touched not in before
    assert untouched not in ids_of(get_json(c, f"/open311/v2/requests.json?updated_before={iso(since)}"))
    # with dates on requested_datetime too, both apply
    both = ids_of(get_json(c, f"/open311/v2/requests.json?start_date={iso(days_ago(201))}&end_date={iso(days_ago(199))}&updated_after={iso(since)}"))
    assert touched in both and untouched not in both
    ranged = ids_of(get_json(c, f"/open311/v2/requests.json?updated_after={iso(days_ago(201))}&updated_before={iso(days_ago(199))}"))
    assert untouched in ranged and touched not in ranged
    root = get_xml(c, f"/open311/v2/requests.xml?updated_after={iso(since)}")
    assert touched in [r.findtext("service_request_id") for r in root.findall("request")]


# ------------------------------------------------------------------ lat / long / radius and bbox

def test_requests_within_a_radius_of_a_point(app):
    from core.duplicates import distance_m

    c = app.test_client()
    centre = (45.0, 7.0)
    offsets = {"north 500": (500, 0), "east 990": (0, 990), "north-east 990": (700, 700), "north 999": (999, 0),
               "east 1010": (0, 1010), "south 1500": (-1500, 0), "west 3000": (0, -3000)}
    refs, distance = {}, {}
    for name, (north, east) in offsets.items():
        lat, long = moved(*centre, north_m=north, east_m=east)
        refs[name] = meter_case(app, lat=lat, long=long)
        distance[name] = distance_m(*centre, lat, long)

    def near(query: str) -> set[str]:
        return set(ids_of(get_json(c, f"/open311/v2/requests.json?lat={centre[0]}&long={centre[1]}{query}")))

    within_1000 = {refs[n] for n in refs if distance[n] <= 1000}
    assert within_1000 == {refs["north 500"], refs["east 990"], refs["north-east 990"], refs["north 999"]}
    assert near("") == within_1000  # the default radius is 1,000 m
    assert near("&radius=1000") == within_1000
    assert near("&radius=2000") == within_1000 | {refs["east 1010"], refs["south 1500"]}
    assert near("&radius=600") == {refs["north 500"]}
    assert near("&radius=1000&service_code=POTHOLE") == set()
    root = get_xml(c, f"/open311/v2/requests.xml?lat={centre[0]}&long={centre[1]}&radius=600")
    assert [r.findtext("service_request_id") for r in root.findall("request")] == [refs["north 500"]]


def test_a_radius_across_the_antimeridian(app):
    c = app.test_client()
    west_of_line = meter_case(app, lat=60.0, long=179.99)  # about 450 m from the centre
    east_of_line = meter_case(app, lat=60.0, long=-179.998)  # about 220 m, on the other side of 180°
    far = meter_case(app, lat=60.0, long=-179.97)  # about 1,450 m
    found = set(ids_of(get_json(c, "/open311/v2/requests.json?lat=60&long=179.998&radius=1000")))
    assert found == {west_of_line, east_of_line} and far not in found


def test_radius_search_on_an_sqlite_built_without_math_functions(app, monkeypatch):
    from core.extensions import db
    from plugins.intake.open311 import search

    with app.app_context():
        if db.engine.dialect.name != "sqlite":
            pytest.skip("PostgreSQL always has sin and cos")
    monkeypatch.setattr(search, "SQLITE_HAS_MATH", False)
    inside, outside = meter_case(app, lat=-33.0, long=151.0), meter_case(app, lat=-33.02, long=151.0)
    found = ids_of(get_json(app.test_client(), "/open311/v2/requests.json?lat=-33.001&long=151&radius=500"))
    assert found == [inside] and outside not in found


def test_requests_in_a_bounding_box(app):
    c = app.test_client()
    inside = meter_case(app, lat=-20.0, long=130.0)
    edge = meter_case(app, lat=-19.9, long=130.1)
    outside = meter_case(app, lat=-20.0, long=130.3)
    found = set(ids_of(get_json(c, "/open311/v2/requests.json?bbox=129.9,-20.1,130.1,-19.9")))  # min_long,min_lat,max_long,max_lat
    assert found == {inside, edge}
    assert set(ids_of(get_json(c, "/open311/v2/requests.json?bbox=129.9,-20.1,130.5,-19.95"))) == {inside, outside}
    # lat/long first is not our order: -20.1 is no longitude problem, but 129.9 is no latitude
    assert get_json(c, "/open311/v2/requests.json?bbox=-20.1,129.9,-19.9,130.1", status=400)[0]["description"].startswith("bbox")
    # a box and a radius: a request must be in both
    both = ids_of(get_json(c, "/open311/v2/requests.json?bbox=129.9,-20.1,130.5,-19.95&lat=-20&long=130&radius=5000"))
    assert both == [inside]
    root = get_xml(c, "/open311/v2/requests.xml?bbox=129.9,-20.1,130.1,-19.95")
    assert [r.findtext("service_request_id") for r in root.findall("request")] == [inside]


# ------------------------------------------------------------------ extensions=true, media_url

@pytest.fixture
def worked_cases(app):
    """A parent request with a photo, a recorded media_url and a public history; its duplicate; a child."""
    from core.extensions import db
    from core.models import Case, CaseEvent
    from core.services.attachments import store_attachment
    from core.services.cases import Actor, add_note, change_status, create_case, merge_into

    actor = Actor(label="open311:test")
    with app.app_context():
        s = db.session
        parent = create_case(s, service_code="METER", channel="phone", lat=41.0, long=-71.0)
        s.add(CaseEvent(case=parent, kind="attachment_added", public=True, body="", data={"media_url": "https://img.example/meter.jpg"}))
        s.commit()
        photo = store_attachment(s, parent, jpeg(), "meter.jpg", actor, public=True)
        store_attachment(s, parent, jpeg((0, 0, 200)), "inside.jpg", actor, public=False)
        change_status(s, parent, "in_progress", actor, note="A technician is on the way.")
        add_note(s, parent, "Crew notes: dog in yard", actor, public=False)
        add_note(s, parent, "The meter box lid was replaced.", actor, public=True)
        duplicate = create_case(s, service_code="METER", channel="open311", lat=41.0, long=-71.0)
        s.add(CaseEvent(case=duplicate, kind="attachment_added", public=True, body="", data={"media_url": "https://img.example/same.jpg"}))
        s.add(CaseEvent(case=duplicate, kind="attachment_added", public=False, body="", data={"media_url": "https://img.example/private.jpg"}))
        s.commit()
        merge_into(s, duplicate, parent, actor)
        change_status(s, parent, "resolved", actor, note="Fixed.")
        child = create_case(s, service_code="METER", channel="web")
        s.execute(sa.update(Case).where(Case.id == child.id).values(parent_id=parent.id))
        s.commit()
        refs = {"parent": parent.reference, "duplicate": duplicate.reference, "child": child.reference, "photo": photo.id}
        s.remove()
    return refs


def test_extensions_add_chicago_extended_attributes_and_notes(app, worked_cases):
    c = app.test_client()
    parent, duplicate, child = worked_cases["parent"], worked_cases["duplicate"], worked_cases["child"]
    found = {r["service_request_id"]: r for r in get_json(c, f"/open311/v2/requests.json?service_request_id={parent},{duplicate},{child}&extensions=true")}
    photo_url = f"http://127.0.0.1:8080/portal/photos/{worked_cases['photo']}"

    p = found[parent]
    assert list(p) == REQUEST_FIELDS + ["extended_attributes", "notes"]
    assert p["media_url"] == photo_url  # the public photo first, then what a client sent
    extended = p["extended_attributes"]
    assert list(extended) == ["channel", "duplicate", "parent_service_request_id", "photos"]
    assert extended["channel"] == "phone" and extended["duplicate"] is False and extended["parent_service_request_id"] == ""
    assert [photo["media_url"] for photo in extended["photos"]] == [photo_url, "https://img.example/meter.jpg"]
    assert all(list(photo) == ["media_url", "created_at"] and UTC.match(photo["created_at"]) for photo in extended["photos"])
    notes = p["notes"]
    assert all(list(n) == ["datetime", "summary", "type", "description"] and UTC.match(n["datetime"]) for n in notes)
    assert [(n["type"], n["summary"], n["description"]) for n in notes] == [
        ("opened", "Request opened", ""),
        ("activity", "In progress", "A technician is on the way."),
        ("activity", "Note from the city", "The meter box lid was replaced."),
        ("closed", "Resolved", "Fixed."),
    ]
    assert [n["datetime"] for n in notes] == sorted(n["datetime"] for n in notes)
    assert p["status_notes"] == "Fixed."

    d = found[duplicate]
    assert d["extended_attributes"]["duplicate"] is True and d["extended_attributes"]["parent_service_request_id"] == parent
    assert d["extended_attributes"]["channel"] == "open311"
    assert d["media_url"] == "https://img.example/same.jpg"  # no photo: the media_url the client sent, never a private one
    assert [photo["media_url"] for photo in d["extended_attributes"]["photos"]] == ["https://img.example/same.jpg"]
    assert [(n["type"], n["description"]) for n in d["notes"]] == [
        ("opened", ""), ("closed", f"Duplicate of {parent}"), ("activity", f"Resolved together with {parent}.")]

    k = found[child]
    assert k["extended_attributes"]["duplicate"] is False and k["extended_attributes"]["parent_service_request_id"] == parent
    assert k["media_url"] == "" and k["extended_attributes"]["photos"] == []
    # the photo link works for anyone
    r = c.get(photo_url.removeprefix("http://127.0.0.1:8080"))
    r.close()
    assert r.status_code == 200 and r.mimetype == "image/jpeg"
    # the texts follow the answer's locale
    (fr,) = get_json(c, f"/open311/v2/requests/{parent}.json?extensions=true&locale=fr")
    assert [n["summary"] for n in fr["notes"]][1:4:2] == ["En cours", "Résolu"]


def test_extensions_in_xml_use_photo_and_note_elements(app, worked_cases):
    c = app.test_client()
    (req,) = get_xml(c, f"/open311/v2/requests/{worked_cases['duplicate']}.xml?extensions=true").findall("request")
    assert [e.tag for e in req] == REQUEST_FIELDS + ["extended_attributes", "notes"]
    extended = req.find("extended_attributes")
    assert [e.tag for e in extended] == ["channel", "duplicate", "parent_service_request_id", "photos"]
    assert extended.findtext("duplicate") == "true" and extended.findtext("parent_service_request_id") == worked_cases["parent"]
    assert [[e.tag for e in photo] for photo in extended.find("photos")] == [["media_url", "created_at"]]
    assert {e.tag for e in req.find("notes")} == {"note"}
    assert [n.findtext("type") for n in req.findall("notes/note")] == ["opened", "closed", "activity"]
    assert [e.tag for e in req.find("notes/note")] == ["datetime", "summary", "type", "description"]
    (parent,) = get_xml(c, f"/open311/v2/requests/{worked_cases['parent']}.xml?extensions=true").findall("request")
    assert parent.findtext("extended_attributes/duplicate") == "false"
    assert len(parent.findall("extended_attributes/photos/photo")) == 2


def test_without_extensions_the_answer_has_exactly_the_spec_fields(app, worked_cases):
    c = app.test_client()
    parent = worked_cases["parent"]
    for query in ("", "?extensions=false", "?extensions=FALSE", "?extensions="):
        (one,) = get_json(c, f"/open311/v2/requests/{parent}.json{query}")
        assert list(one) == REQUEST_FIELDS, query
        assert one["media_url"] == f"http://127.0.0.1:8080/portal/photos/{worked_cases['photo']}"
        (req,) = get_xml(c, f"/open311/v2/requests/{parent}.xml{query}").findall("request")
        assert [e.tag for e in req] == REQUEST_FIELDS and all(len(e) == 0 for e in req)
    for r in get_json(c, "/open311/v2/requests.json"):
        assert list(r) == REQUEST_FIELDS
    assert list(get_json(c, f"/open311/v2/requests/{parent}.json?extensions=True")[0]) == REQUEST_FIELDS + ["extended_attributes", "notes"]


def test_a_page_of_requests_costs_the_same_queries_for_2_or_20_requests(app, worked_cases):
    c = app.test_client()
    small = [worked_cases["parent"], worked_cases["duplicate"]]
    large = small + [meter_case(app, lat=41.0, long=-71.0) for _ in range(18)]
    counts = []
    for refs in (small, large):
        with recorded_sql(app) as statements:
            found = get_json(c, f"/open311/v2/requests.json?service_request_id={','.join(refs)}&extensions=true")
        assert sorted(ids_of(found)) == sorted(refs)
        counts.append(len([s for s in statements if s.upper().startswith(("SELECT", "WITH"))]))
    assert counts[0] == counts[1], counts
    assert counts[0] <= 8, counts
