"""Open311 GeoReport v2, read side: discovery, services, service definitions, request search and
one request, in XML and JSON, through real HTTP on both backends."""
from __future__ import annotations

import io
import json
import re
import uuid
from datetime import datetime, timedelta
from xml.etree import ElementTree as ET

import pytest
import sqlalchemy as sa

XML = "text/xml; charset=utf-8"
JSON = "application/json; charset=utf-8"
REQUEST_FIELDS = [
    "service_request_id", "status", "status_notes", "service_name", "service_code", "description",
    "agency_responsible", "service_notice", "requested_datetime", "updated_datetime", "expected_datetime",
    "address", "address_id", "zipcode", "lat", "long", "media_url",
]
UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def jpeg(color=(200, 30, 30)) -> io.BytesIO:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (64, 48), color).save(out, "JPEG")
    out.seek(0)
    return out


def new_case(app, service="POTHOLE", status=None, note="", created_at=None, **kwargs):
    from core.extensions import db
    from core.services.cases import SYSTEM, change_status, create_case

    attributes = {"SIZE": "small"} if service == "POTHOLE" else {}
    with app.app_context():
        case = create_case(db.session, service_code=service, attributes=attributes, created_at=created_at, **kwargs)
        if status:
            change_status(db.session, case, status, SYSTEM, note=note)
        return case.reference


def get_xml(client, url, status=200):
    r = client.get(url)
    assert r.status_code == status, r.get_data(as_text=True)
    assert r.headers["Content-Type"] == XML
    text = r.get_data(as_text=True)
    assert text.startswith('<?xml version="1.0" encoding="utf-8"?>')
    return ET.fromstring(r.data)  # well formed, or this raises


def get_json(client, url, status=200, **kw):
    r = client.get(url, **kw)
    assert r.status_code == status, r.get_data(as_text=True)
    assert r.headers["Content-Type"] == JSON
    return json.loads(r.data)


def test_discovery_both_formats(app):
    c = app.test_client()
    d = get_json(c, "/open311/v2/discovery.json")
    assert list(d) == ["changeset", "contact", "key_service", "endpoints"]
    assert UTC.match(d["changeset"])
    ep, *extensions = d["endpoints"]
    # the GeoReport v2 endpoint comes first, exactly as the spec describes it
    assert list(ep) == ["specification", "url", "changeset", "type", "formats"]
    assert ep["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert ep["type"] == "production" and ep["formats"] == ["text/xml", "application/json"]
    assert ep["url"].endswith("/open311/v2") and UTC.match(ep["changeset"])
    # then one endpoint per extension: same shape, same url; only the specification names the extension
    names = [e["specification"].removeprefix("http://wiki.open311.org/GeoReport_v2/Extensions#") for e in extensions]
    assert names == ["pagination", "extended-attributes", "update-history", "updated-datetime-search",
                     "location-search", "media-handling", "service-request-updates"]
    assert all({**e, "specification": ep["specification"]} == ep for e in extensions)
    root = get_xml(c, "/open311/v2/discovery.xml")
    assert root.tag == "discovery" and root.tag.find("}") < 0
    assert [e.tag for e in root] == ["changeset", "contact", "key_service", "endpoints"]
    endpoints = root.findall("endpoints/endpoint")
    assert len(endpoints) == 1 + len(names) and {child.tag for child in root.find("endpoints")} == {"endpoint"}
    assert endpoints[0].findtext("specification") == "http://wiki.open311.org/GeoReport_v2"
    for endpoint in endpoints:
        assert [e.tag for e in endpoint] == ["specification", "url", "changeset", "type", "formats"]
        assert [f.text for f in endpoint.findall("formats/format")] == ["text/xml", "application/json"]


def test_services_both_formats_and_french(app):
    c = app.test_client()
    services = get_json(c, "/open311/v2/services.json")
    pothole = next(s for s in services if s["service_code"] == "POTHOLE")
    assert list(pothole) == ["service_code", "service_name", "description", "metadata", "type", "keywords", "group"]
    assert pothole["service_name"] == "Pothole" and pothole["metadata"] is True and pothole["type"] == "realtime"
    assert pothole["keywords"] == "pothole,hole,road,asphalt" and pothole["group"] == "Roads and sidewalks"
    root = get_xml(c, "/open311/v2/services.xml")
    assert root.tag == "services"
    xml_pothole = next(s for s in root.findall("service") if s.findtext("service_code") == "POTHOLE")
    assert xml_pothole.findtext("metadata") == "true" and xml_pothole.findtext("service_name") == "Pothole"
    assert len(root.findall("service")) == len(services)
    # French by parameter, and by Accept-Language narrowed to the city's locales
    fr = next(s for s in get_json(c, "/open311/v2/services.json?locale=fr") if s["service_code"] == "POTHOLE")
    assert fr["service_name"] == "Nid-de-poule" and fr["group"] == "Rues et trottoirs" and "trou" in fr["keywords"]
    fr2 = get_json(c, "/open311/v2/services.json", headers={"Accept-Language": "fr-CA,fr;q=0.8"})
    assert next(s for s in fr2 if s["service_code"] == "POTHOLE")["service_name"] == "Nid-de-poule"
    de = get_json(c, "/open311/v2/services.json", headers={"Accept-Language": "de"})
    assert next(s for s in de if s["service_code"] == "POTHOLE")["service_name"] == "Pothole"
    frx = get_xml(c, "/open311/v2/services.xml?locale=fr")
    assert "Nid-de-poule" in [s.findtext("service_name") for s in frx.findall("service")]


def test_service_definition(app):
    c = app.test_client()
    d = get_json(c, "/open311/v2/services/POTHOLE.json")
    assert list(d) == ["service_code", "attributes"] and d["service_code"] == "POTHOLE"
    size = d["attributes"][0]
    assert list(size) == ["variable", "code", "datatype", "required", "datatype_description", "order", "description", "values"]
    assert size["code"] == "SIZE" and size["datatype"] == "singlevaluelist" and size["required"] is True
    assert [a["order"] for a in d["attributes"]] == list(range(1, len(d["attributes"]) + 1))
    assert size["values"][0] == {"key": "small", "name": "Smaller than a dinner plate"}
    fr = get_json(c, "/open311/v2/services/POTHOLE.json?locale=fr")
    assert fr["attributes"][0]["description"].startswith("Quelle est la taille du nid-de-poule")
    root = get_xml(c, "/open311/v2/services/POTHOLE.xml")
    assert root.tag == "service_definition" and root.findtext("service_code") == "POTHOLE"
    attr = root.find("attributes/attribute")
    assert attr.findtext("code") == "SIZE" and attr.findtext("required") == "true" and attr.findtext("order") == "1"
    assert attr.find("values/value").findtext("key") == "small"
    # unknown service: 404 in the error format
    errs = get_json(c, "/open311/v2/services/NOPE.json", status=404)
    assert errs[0]["code"] == 404 and "NOPE" in errs[0]["description"]
    root = get_xml(c, "/open311/v2/services/NOPE.xml", status=404)
    assert root.tag == "errors" and root.findtext("error/code") == "404"


def test_requests_search_and_one(app):
    c = app.test_client()
    ref = new_case(app, address="12 Palm Coast Pkwy", zipcode="32137", lat=29.58, long=-81.2)
    items = get_json(c, "/open311/v2/requests.json")
    mine = next(r for r in items if r["service_request_id"] == ref)
    assert list(mine) == REQUEST_FIELDS
    assert mine["status"] == "open" and mine["service_code"] == "POTHOLE" and mine["service_name"] == "Pothole"
    assert mine["agency_responsible"] == "Public Works - Streets"
    fr = get_json(c, f"/open311/v2/requests/{ref}.json?locale=fr")[0]
    assert fr["agency_responsible"] == "Travaux publics – Voirie" and fr["service_name"] == "Nid-de-poule"
    assert mine["address"] == "12 Palm Coast Pkwy" and mine["zipcode"] == "32137" and mine["lat"] == 29.58
    assert mine["description"] == ""
    for field in ("requested_datetime", "updated_datetime"):
        assert UTC.match(mine[field]), mine[field]
    one = get_json(c, f"/open311/v2/requests/{ref}.json")
    assert isinstance(one, list) and len(one) == 1 and one[0]["service_request_id"] == ref
    root = get_xml(c, f"/open311/v2/requests/{ref}.xml")
    assert root.tag == "service_requests"
    (req,) = root.findall("request")
    assert [e.tag for e in req] == REQUEST_FIELDS and req.findtext("status") == "open"
    assert req.findtext("requested_datetime").endswith("Z")
    root = get_xml(c, "/open311/v2/requests.xml")
    assert ref in [r.findtext("service_request_id") for r in root.findall("request")]
    # unknown request: 404 in both formats
    assert get_json(c, "/open311/v2/requests/PC-0000-NOPE.json", status=404)[0]["code"] == 404
    assert get_xml(c, "/open311/v2/requests/PC-0000-NOPE.xml", status=404).findtext("error/code") == "404"


def test_status_notes_and_status_filter(app):
    c = app.test_client()
    closed = new_case(app, status="resolved", note="Filled on Tuesday.")
    opened = new_case(app)
    only_closed = get_json(c, "/open311/v2/requests.json?status=closed")
    ids = [r["service_request_id"] for r in only_closed]
    assert closed in ids and opened not in ids and all(r["status"] == "closed" for r in only_closed)
    only_open = [r["service_request_id"] for r in get_json(c, "/open311/v2/requests.json?status=open")]
    assert opened in only_open and closed not in only_open
    both = [r["service_request_id"] for r in get_json(c, "/open311/v2/requests.json?status=open,closed")]
    assert opened in both and closed in both
    note = get_json(c, f"/open311/v2/requests/{closed}.json")[0]["status_notes"]
    assert note == "Filled on Tuesday."
    errs = get_json(c, "/open311/v2/requests.json?status=pending", status=400)
    assert "status" in errs[0]["description"]


def test_service_request_id_overrides_other_filters(app):
    c = app.test_client()
    old = new_case(app, created_at=datetime.utcnow() - timedelta(days=200))
    meter = new_case(app, service="METER")
    # the old case is outside the default 90 days, and neither matches these filters
    assert old not in [r["service_request_id"] for r in get_json(c, "/open311/v2/requests.json")]
    url = f"/open311/v2/requests.json?service_request_id={old},{meter}&service_code=GRAFFITI&status=closed&start_date=2030-01-01T00:00:00Z"
    assert sorted(r["service_request_id"] for r in get_json(c, url)) == sorted([old, meter])
    assert meter in [r["service_request_id"] for r in get_json(c, "/open311/v2/requests.json?service_code=METER&service_request_id=")]
    codes = {r["service_code"] for r in get_json(c, "/open311/v2/requests.json?service_code=METER")}
    assert codes == {"METER"}


def test_date_filters(app):
    c = app.test_client()
    when = datetime.utcnow() - timedelta(days=120)
    ref = new_case(app, created_at=when)
    start = (when - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    end = (when + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    inside = get_json(c, f"/open311/v2/requests.json?start_date={start}&end_date={end}")
    assert ref in [r["service_request_id"] for r in inside]
    assert all(start <= r["requested_datetime"] <= end for r in inside)
    later = (when + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert ref not in [r["service_request_id"] for r in get_json(c, f"/open311/v2/requests.json?start_date={later}")]
    # offsets are converted to UTC; empty parameters are missing ones
    local = (when - timedelta(hours=5, minutes=30)).strftime("%Y-%m-%dT%H:%M:%S-05:00")
    assert ref in [r["service_request_id"] for r in get_json(c, f"/open311/v2/requests.json?start_date={local}&end_date={end}&status=&service_code=")]
    errs = get_json(c, "/open311/v2/requests.json?start_date=yesterday", status=400)
    assert errs == [{"code": 400, "description": errs[0]["description"]}] and "start_date" in errs[0]["description"]
    root = get_xml(c, "/open311/v2/requests.xml?end_date=2026-13-45", status=400)
    assert root.findtext("error/code") == "400" and "end_date" in root.findtext("error/description")
    assert get_json(c, f"/open311/v2/requests.json?start_date={end}&end_date={start}", status=400)[0]["code"] == 400


def test_jurisdiction_and_format(app):
    c = app.test_client()
    assert get_json(c, "/open311/v2/services.json?jurisdiction_id=palmcoast.fl.us")
    assert get_json(c, "/open311/v2/services.json?jurisdiction_id=")
    errs = get_json(c, "/open311/v2/services.json?jurisdiction_id=elsewhere.example.gov", status=404)
    assert errs[0]["code"] == 404 and "jurisdiction_id" in errs[0]["description"]
    assert get_xml(c, "/open311/v2/requests.xml?jurisdiction_id=elsewhere", status=404).tag == "errors"
    r = c.get("/open311/v2/services.csv")
    assert r.status_code == 404 and json.loads(r.data)[0]["code"] == 404
    assert c.get("/open311/v2/discovery.html").status_code == 404


def test_no_personal_data(app):
    c = app.test_client()
    tag = uuid.uuid4().hex[:8]
    name, email, phone = f"Zebulon Quackenbush{tag}", f"zq{tag}@private.example", "386-555-0199"
    description = f"My neighbour Ms Secret{tag} parks here"
    ref = new_case(app, contact_name=name, contact_email=email, contact_phone=phone, description=description)
    urls = [
        "/open311/v2/requests.json", "/open311/v2/requests.xml",
        f"/open311/v2/requests/{ref}.json", f"/open311/v2/requests/{ref}.xml",
        f"/open311/v2/requests.json?service_request_id={ref}", "/open311/v2/services.json", "/open311/v2/discovery.xml",
    ]
    for url in urls:
        r = c.get(url)
        assert r.status_code == 200
        body = r.get_data(as_text=True)
        for secret in (name, email, phone, f"Secret{tag}", "private.example"):
            assert secret not in body, (url, secret)
    assert ref in c.get("/open311/v2/requests.json").get_data(as_text=True)


# ------------------------------------------------------------------ conformance: every rule of OPEN311.md, GET side

def days_ago(days: float) -> datetime:
    return datetime.utcnow() - timedelta(days=days)


def ids_of(items) -> list[str]:
    return [r["service_request_id"] for r in items]


def test_every_answer_is_utf8_xml_or_json_with_the_spec_content_type(app):
    c = app.test_client()
    ref = new_case(app)
    paths = ["discovery", "services", "services/POTHOLE", "requests", f"requests/{ref}", "services/NOPE",
             "requests/PC-0000-NOPE", "requests?status=pending", "requests?jurisdiction_id=elsewhere"]
    for path in paths:
        base, _, query = path.partition("?")
        for fmt in ("xml", "json"):
            r = c.get(f"/open311/v2/{base}.{fmt}" + (f"?{query}" if query else ""))
            assert r.headers["Content-Type"] == (XML if fmt == "xml" else JSON), path
            if fmt == "xml":
                assert r.data.startswith(b'<?xml version="1.0" encoding="utf-8"?>\n<'), path
                root = ET.fromstring(r.data)
                assert all("}" not in e.tag and not e.attrib for e in root.iter()), path  # no namespace, no attribute
            else:
                json.loads(r.data.decode("utf-8"))


def test_json_is_the_xml_shape_with_arrays_strings_for_codes_and_true_false(app):
    c = app.test_client()
    ref = new_case(app, lat=29.5, long=-81.2)
    services = get_json(c, "/open311/v2/services.json")
    assert isinstance(services, list) and services
    assert all(isinstance(s["service_code"], str) and isinstance(s["metadata"], bool) for s in services)
    xml_services = get_xml(c, "/open311/v2/services.xml")
    assert {s.findtext("metadata") for s in xml_services.findall("service")} == {"true", "false"}
    definition = get_json(c, "/open311/v2/services/POTHOLE.json")
    assert isinstance(definition, dict) and isinstance(definition["attributes"], list)
    for attribute in definition["attributes"]:
        assert isinstance(attribute["variable"], bool) and isinstance(attribute["required"], bool)
        assert isinstance(attribute["code"], str) and isinstance(attribute["order"], int)
        assert all(isinstance(v["key"], str) and isinstance(v["name"], str) for v in attribute["values"])
    xml_definition = get_xml(c, "/open311/v2/services/POTHOLE.xml")
    for tag in ("variable", "required"):
        assert {a.findtext(tag) for a in xml_definition.findall("attributes/attribute")} <= {"true", "false"}
    (one,) = get_json(c, f"/open311/v2/requests/{ref}.json")
    assert isinstance(one["service_request_id"], str) and isinstance(one["service_code"], str)
    assert isinstance(one["lat"], float) and isinstance(one["long"], float)
    assert isinstance(get_json(c, "/open311/v2/requests.json?service_code=NOPE"), list)
    assert get_xml(c, "/open311/v2/requests.xml?service_code=NOPE").tag == "service_requests"
    errs = get_json(c, "/open311/v2/requests.json?status=x", status=400)
    assert isinstance(errs, list) and isinstance(errs[0]["code"], int)


def test_datetimes_are_utc_with_a_z(app):
    c = app.test_client()
    created = datetime.utcnow().replace(microsecond=0) - timedelta(days=3, hours=5)
    ref = new_case(app, created_at=created)
    (one,) = get_json(c, f"/open311/v2/requests/{ref}.json")
    assert one["requested_datetime"] == created.strftime("%Y-%m-%dT%H:%M:%SZ")
    for field in ("requested_datetime", "updated_datetime", "expected_datetime"):
        assert UTC.match(one[field]), (field, one[field])  # POTHOLE has an SLA: expected_datetime is set
    req = get_xml(c, f"/open311/v2/requests/{ref}.xml").find("request")
    assert req.findtext("requested_datetime") == one["requested_datetime"]
    assert UTC.match(get_json(c, "/open311/v2/discovery.json")["changeset"])


def test_default_search_is_the_last_90_days(app):
    c = app.test_client()
    inside, outside = new_case(app, created_at=days_ago(89)), new_case(app, created_at=days_ago(91))
    for url in ("/open311/v2/requests.json", "/open311/v2/requests.json?status=open",
                "/open311/v2/requests.json?service_code=POTHOLE"):
        found = ids_of(get_json(c, url))
        assert inside in found and outside not in found, url
    # end_date alone: the 90 days before it
    end = days_ago(60).strftime("%Y-%m-%dT%H:%M:%SZ")
    found = ids_of(get_json(c, f"/open311/v2/requests.json?end_date={end}"))
    assert inside in found and outside in found


@pytest.fixture(scope="module")
def thousand_and_one(app):
    """1,001 requests, one a minute on 2003-03-01 (far from every other test's dates)."""
    from core.extensions import db
    from core.services.cases import create_case

    with app.app_context():
        refs = [
            create_case(db.session, service_code="METER", created_at=datetime(2003, 3, 1) + timedelta(minutes=i), commit=False).reference
            for i in range(1001)
        ]
        db.session.commit()
        db.session.remove()
    return refs


def test_a_search_answers_the_first_1000_requests_newest_first(app, thousand_and_one):
    c = app.test_client()
    url = "/open311/v2/requests.json?start_date=2003-03-01T00:00:00Z&end_date=2003-03-02T00:00:00Z"
    found = get_json(c, url)
    assert len(found) == 1000
    assert ids_of(found) == list(reversed(thousand_and_one))[:1000]  # newest first: the oldest one is left out
    assert [r["requested_datetime"] for r in found] == sorted((r["requested_datetime"] for r in found), reverse=True)
    assert len(get_xml(c, url.replace(".json", ".xml")).findall("request")) == 1000
    # paging goes past the cap: the 1,001st request is on page 3 of 500
    assert ids_of(get_json(c, url + "&page=3&page_size=500")) == [thousand_and_one[0]]


ERROR_CASES = [
    # (path and query, status, word the description must contain)
    ("requests?jurisdiction_id=elsewhere.example.gov", 404, "jurisdiction_id"),
    ("services?jurisdiction_id=elsewhere.example.gov", 404, "jurisdiction_id"),
    ("services/NOPE", 404, "NOPE"),
    ("requests/PC-0000-NOPE", 404, "PC-0000-NOPE"),
    ("requests?start_date=yesterday", 400, "start_date"),
    ("requests?end_date=2026-02-30T00:00:00Z", 400, "end_date"),
    ("requests?start_date=2026-02-01T00:00:00Z&end_date=2026-01-01T00:00:00Z", 400, "start_date"),
    ("requests?updated_after=soon", 400, "updated_after"),
    ("requests?updated_after=2026-02-01T00:00:00Z&updated_before=2026-01-01T00:00:00Z", 400, "updated_after"),
    ("requests?status=pending", 400, "status"),
    ("requests?page=0", 400, "page"),
    ("requests?page=two", 400, "page"),
    ("requests?page_size=501", 400, "page_size"),
    ("requests?page_size=-5", 400, "page_size"),
    ("requests?lat=91&long=0", 400, "lat"),
    ("requests?lat=29.5", 400, "long"),
    ("requests?long=-81.2&radius=10", 400, "lat"),
    ("requests?radius=500", 400, "radius"),
    ("requests?lat=29.5&long=-81.2&radius=50001", 400, "radius"),
    ("requests?lat=29.5&long=-81.2&radius=nan", 400, "radius"),
    ("requests?bbox=-81.3,29.4,-81.1", 400, "bbox"),
    ("requests?bbox=-81.1,29.4,-81.3,29.6", 400, "bbox"),
    ("requests?bbox=a,b,c,d", 400, "bbox"),
    ("requests?extensions=yes", 400, "extensions"),
    ("requests/PC-0000-NOPE?extensions=yes", 400, "extensions"),
]


@pytest.mark.parametrize(("path", "status", "word"), ERROR_CASES)
def test_bad_parameters_answer_the_open311_error_document(app, path, status, word):
    c = app.test_client()
    base, _, query = path.partition("?")
    errs = get_json(c, f"/open311/v2/{base}.json?{query}", status=status)
    assert errs and all(list(e) == ["code", "description"] and e["code"] == status for e in errs)
    assert any(word in e["description"] for e in errs), errs
    root = get_xml(c, f"/open311/v2/{base}.xml?{query}", status=status)
    assert root.tag == "errors" and {e.tag for e in root} == {"error"}
    assert [[child.tag for child in e] for e in root] == [["code", "description"]] * len(root)
    assert root.findtext("error/code") == str(status)


def test_dates_at_the_ends_of_the_calendar_are_answered_not_crashed(app):
    c = app.test_client()
    for query in ("end_date=0001-01-02T00:00:00Z", "updated_before=0001-01-02T00:00:00Z",
                  "start_date=9999-12-31T23:59:59Z", "start_date=0001-01-01&end_date=0001-02-01"):
        assert get_json(c, f"/open311/v2/requests.json?{query}") == [], query
    for name, value in (("start_date", "9999-12-31T23:59:59-05:00"), ("end_date", "0001-01-01T00:00:00%2B05:00")):
        errs = get_json(c, f"/open311/v2/requests.json?{name}={value}", status=400)
        assert errs[0]["description"].startswith(name)


def test_several_bad_parameters_are_reported_together(app):
    errs = get_json(app.test_client(), "/open311/v2/requests.json?status=pending&page=0&bbox=1&extensions=maybe", status=400)
    described = " ".join(e["description"] for e in errs)
    assert len(errs) == 4 and all(w in described for w in ("status", "page", "bbox", "extensions"))


def test_unknown_format_is_a_404_in_json(app):
    c = app.test_client()
    for path in ("services.csv", "requests.html", "discovery.txt", "requests/PC-1.yaml", "services/POTHOLE.rss"):
        r = c.get(f"/open311/v2/{path}")
        assert r.status_code == 404 and r.headers["Content-Type"] == JSON
        assert json.loads(r.data)[0]["code"] == 404


def test_our_jurisdiction_or_an_empty_one_is_fine_everywhere(app):
    c = app.test_client()
    ref = new_case(app)
    for path in ("discovery", "services", "services/POTHOLE", "requests", f"requests/{ref}"):
        for jurisdiction in ("palmcoast.fl.us", "", "%20"):
            assert c.get(f"/open311/v2/{path}.xml?jurisdiction_id={jurisdiction}").status_code == 200, (path, jurisdiction)


def test_empty_optional_parameters_are_the_same_as_missing_ones(app):
    c = app.test_client()
    new_case(app)
    empty = "&".join(f"{name}=" for name in (
        "jurisdiction_id", "service_request_id", "service_code", "start_date", "end_date", "status", "page", "page_size",
        "updated_after", "updated_before", "lat", "long", "radius", "bbox", "extensions", "locale"))
    for path in ("requests.json", "requests.xml", "services.json", "services/POTHOLE.xml", "discovery.json"):
        plain, with_empty = c.get(f"/open311/v2/{path}"), c.get(f"/open311/v2/{path}?{empty}")
        assert plain.status_code == with_empty.status_code == 200
        assert plain.data == with_empty.data, path


def test_service_request_id_overrides_filters_paging_and_location(app):
    c = app.test_client()
    old = new_case(app, created_at=days_ago(400), lat=10.0, long=10.0)
    meter = new_case(app, service="METER")
    ignored = ("service_code=GRAFFITI&status=closed&start_date=2030-01-01T00:00:00Z&updated_after=2030-01-01T00:00:00Z"
               "&lat=-45&long=100&radius=5&bbox=0,0,1,1&page=2&page_size=1")
    found = get_json(c, f"/open311/v2/requests.json?service_request_id={old},{meter}&{ignored}")
    assert sorted(ids_of(found)) == sorted([old, meter])
    # even broken filters are ignored, since they are overridden
    found = get_json(c, f"/open311/v2/requests.json?service_request_id={meter}&page=zero&bbox=x&status=maybe")
    assert ids_of(found) == [meter]
    root = get_xml(c, f"/open311/v2/requests.xml?service_request_id={old}&page_size=0")
    assert [r.findtext("service_request_id") for r in root.findall("request")] == [old]
    assert get_json(c, "/open311/v2/requests.json?service_request_id=PC-0000-NOPE") == []


def test_requests_of_a_service_the_city_keeps_private_are_never_shown(app):
    from core.extensions import db
    from core.models import ServiceType

    c = app.test_client()
    ref = new_case(app, service="WEBSITE")

    def set_public(value: bool) -> None:
        with app.app_context():
            db.session.execute(sa.update(ServiceType).where(ServiceType.code == "WEBSITE").values(public=value))
            db.session.commit()

    set_public(False)
    try:
        assert "WEBSITE" not in [s["service_code"] for s in get_json(c, "/open311/v2/services.json")]
        assert get_json(c, "/open311/v2/services/WEBSITE.json", status=404)[0]["code"] == 404
        assert ref not in ids_of(get_json(c, "/open311/v2/requests.json"))
        assert get_json(c, f"/open311/v2/requests.json?service_request_id={ref}") == []
        assert get_json(c, f"/open311/v2/requests/{ref}.json", status=404)[0]["code"] == 404
    finally:
        set_public(True)
    assert ids_of(get_json(c, f"/open311/v2/requests/{ref}.json")) == [ref]


def test_no_personal_data_in_any_get_answer_even_with_extensions(app):
    """A case with a reporter, an account, a staff member, internal notes and a private photo."""
    from core.extensions import db
    from core.models import Account
    from core.services.attachments import store_attachment
    from core.services.cases import Actor, add_note, assign, change_status, create_case
    from core.services.users import create_user

    tag = uuid.uuid4().hex[:8]
    with app.app_context():
        staff = create_user(f"pw_{tag}", "correct-horse-battery", "Department staff", first_name="Ottoline", last_name=f"Crewlead{tag}")
        account = Account(name=f"Xanthippe Holder{tag}", email=f"xh{tag}@private.example", phone="+1 386 555 0142")
        db.session.add(account)
        db.session.commit()
        case = create_case(
            db.session, service_code="POTHOLE", attributes={"SIZE": "small"}, description=f"Ms Secret{tag} hit it",
            lat=29.6, long=-81.21, address="1 Main St", account=account, channel="open311",
            contact_name=f"Zebulon Quackenbush{tag}", contact_email=f"zq{tag}@private.example", contact_phone="386-555-0199",
            actor=Actor(label=f"open311:App{tag}"),
        )
        actor = Actor(staff.id, staff.username)
        assign(db.session, case, staff, actor)
        add_note(db.session, case, f"INTERNAL gate code {tag}", actor, public=False)
        change_status(db.session, case, "in_progress", actor, note="A crew is scheduled.")
        store_attachment(db.session, case, jpeg(), f"zebulon-{tag}-house.jpg", actor, public=False)
        ref = case.reference
        db.session.remove()
    secrets = [f"Zebulon Quackenbush{tag}", f"zq{tag}", "386-555-0199", "555 0142", f"Xanthippe Holder{tag}", f"xh{tag}",
               "private.example", f"Secret{tag}", f"Crewlead{tag}", "Ottoline", f"pw_{tag}", f"INTERNAL gate code {tag}",
               f"zebulon-{tag}", f"App{tag}"]
    c = app.test_client()
    queries = ["", "?extensions=true", f"?service_request_id={ref}&extensions=true", "?page=1&page_size=500&extensions=true",
               "?lat=29.6&long=-81.21&radius=100&extensions=true", "?bbox=-81.3,29.5,-81.1,29.7&extensions=true"]
    bodies = []
    for fmt in ("json", "xml"):
        bodies += [c.get(f"/open311/v2/requests.{fmt}{q}") for q in queries]
        bodies += [c.get(f"/open311/v2/requests/{ref}.{fmt}{q}") for q in ("", "?extensions=true")]
        bodies += [c.get(f"/open311/v2/{path}.{fmt}") for path in ("discovery", "services", "services/POTHOLE")]
    for r in bodies:
        assert r.status_code == 200
        text = r.get_data(as_text=True)
        for secret in secrets:
            assert secret not in text, (r.request.url, secret)
    assert all(ref in r.get_data(as_text=True) for r in bodies[: len(queries) + 2])
    (mine,) = get_json(c, f"/open311/v2/requests/{ref}.json?extensions=true")
    assert mine["status_notes"] == "A crew is scheduled." and mine["media_url"] == "" and mine["extended_attributes"]["photos"] == []
