"""Open311 GeoReport v2, read side: discovery, services, service definitions, request search and
one request, in XML and JSON, through real HTTP on both backends."""
from __future__ import annotations

import json
import re
import uuid
from datetime import datetime, timedelta
from xml.etree import ElementTree as ET

import pytest

XML = "text/xml; charset=utf-8"
JSON = "application/json; charset=utf-8"
REQUEST_FIELDS = [
    "service_request_id", "status", "status_notes", "service_name", "service_code", "description",
    "agency_responsible", "service_notice", "requested_datetime", "updated_datetime", "expected_datetime",
    "address", "address_id", "zipcode", "lat", "long", "media_url",
]
UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


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
    assert set(d) == {"changeset", "contact", "key_service", "endpoints"}
    assert UTC.match(d["changeset"])
    (ep,) = d["endpoints"]
    assert ep["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert ep["type"] == "production" and ep["formats"] == ["text/xml", "application/json"]
    assert ep["url"].endswith("/open311/v2") and UTC.match(ep["changeset"])
    root = get_xml(c, "/open311/v2/discovery.xml")
    assert root.tag == "discovery" and root.tag.find("}") < 0
    assert [e.tag for e in root] == ["changeset", "contact", "key_service", "endpoints"]
    endpoint = root.find("endpoints/endpoint")
    assert endpoint.findtext("specification") == "http://wiki.open311.org/GeoReport_v2"
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
