"""A real Open311 client, unchanged, against the API served over real HTTP.

The client is PyPI's ``georeport`` (GET methods, JSON or XML, ``requests/{id}`` read as a list of
one).  An app finds the endpoint the way the spec says: it reads ``discovery.json`` and takes the
GeoReport v2 production endpoint.  (PyPI's ``open311`` 1.1 installs but cannot be imported on
Python 3: it is Python 2 code.)
"""
from __future__ import annotations

import threading
from datetime import datetime, timedelta

import pytest
import requests
from georeport import GeoReport
from werkzeug.serving import make_server

from tests.plugins.intake.test_open311 import new_case

SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"


@pytest.fixture
def served(app, monkeypatch):
    """The app on 127.0.0.1, on a free port, in a thread: its base URL."""
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


def discovered_endpoint(base: str) -> str:
    """What an app does first: read discovery, keep the GeoReport v2 production endpoint."""
    r = requests.get(f"{base}/open311/v2/discovery.json", timeout=10)
    r.raise_for_status()
    endpoints = [e for e in r.json()["endpoints"] if e["specification"] == SPECIFICATION and e["type"] == "production"]
    assert len(endpoints) == 1 and "application/json" in endpoints[0]["formats"]
    return endpoints[0]["url"]


@pytest.mark.parametrize("output_format", ["json", "xml"])
def test_georeport_client_reads_services_and_requests_unchanged(app, served, output_format):
    created = datetime.utcnow().replace(microsecond=0) - timedelta(days=2)
    ref = new_case(app, created_at=created, address="2 Palm Harbor Pkwy", lat=29.55, long=-81.22, status="in_progress",
                   note="Crew scheduled.")
    url = discovered_endpoint(served)
    assert url == f"{served}/open311/v2"
    client = GeoReport(url, jurisdiction="palmcoast.fl.us", output_format=output_format)

    services = client.get_service_list()
    pothole = next(s for s in services if s["service_code"] == "POTHOLE")
    assert pothole["service_name"] == "Pothole" and str(pothole["metadata"]).lower() == "true"

    definition = client.get_service_definition("POTHOLE")
    assert definition["service_code"] == "POTHOLE"
    attributes = definition["attributes"] if output_format == "json" else definition["attributes"]["attribute"]
    attributes = attributes if isinstance(attributes, list) else [attributes]
    size = next(a for a in attributes if a["code"] == "SIZE")
    assert str(size["required"]).lower() == "true" and size["datatype"] == "singlevaluelist"

    start = (created - timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    end = (created + timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    found = client.get_service_requests(service_code="POTHOLE", status="open", start_date=start, end_date=end)
    found = found if isinstance(found, list) else [found]  # xmltodict gives a dict for a single <request>
    mine = next(r for r in found if r["service_request_id"] == ref)
    assert mine["status"] == "open" and mine["status_notes"] == "Crew scheduled."
    assert mine["requested_datetime"] == created.strftime("%Y-%m-%dT%H:%M:%SZ")

    one = client.get_service_request(ref)
    assert one["service_request_id"] == ref and one["address"] == "2 Palm Harbor Pkwy"
    assert float(one["lat"]) == 29.55 and float(one["long"]) == -81.22
    assert client.get_service_requests(service_request_id=ref) == ([one] if output_format == "json" else one)


def test_georeport_client_sees_http_errors_for_unknown_things(app, served):
    client = GeoReport(discovered_endpoint(served), output_format="xml")
    with pytest.raises(requests.HTTPError) as excinfo:
        client.get_service_request("PC-0000-NOPE")
    assert excinfo.value.response.status_code == 404
    assert excinfo.value.response.headers["Content-Type"] == "text/xml; charset=utf-8"
    assert b"<errors><error><code>404</code>" in excinfo.value.response.content
    elsewhere = GeoReport(discovered_endpoint(served), jurisdiction="elsewhere.example.gov")
    with pytest.raises(requests.HTTPError) as excinfo:
        elsewhere.get_service_list()
    assert excinfo.value.response.status_code == 404 and excinfo.value.response.json()[0]["code"] == 404
