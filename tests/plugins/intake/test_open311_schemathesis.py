"""Hostile input on the Open311 API: Schemathesis reads our own description (``/open311/v2/openapi.json``) and
sends every method what it allows and what it does not; every answer must be a non-5xx that matches the
description (statuses, content type, fields: a request answer with one field more, such as a reporter's
e-mail, fails).  POSTs carry a real API key.

The run is bounded and repeatable (see tests/fuzzing.py) and uses a city of its own on each engine: the POSTs
make cases and updates at random.
"""
from __future__ import annotations

import os

import pytest
import schemathesis

from tests.fuzzing import fuzz, own_city
from tests.plugins.intake.open311_helpers import JSON, POTHOLE, new_key, post

# Inputs per method and kind; CIVIC_FUZZ_EXAMPLES=200 for a deeper run by hand (same seed, more inputs).
EXAMPLES = int(os.environ.get("CIVIC_FUZZ_EXAMPLES", "15"))
# Each POST may make a case (and e-mails in the outbox): fewer by default.
POST_EXAMPLES = int(os.environ.get("CIVIC_FUZZ_EXAMPLES", "10"))
# Known schema deviations of the Open311 API (method -> why).  Mirrored in docs/open311.md.
KNOWN_DEVIATIONS: dict[str, str] = {}


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def city(request, tmp_path_factory):
    """A city with requests to find (one with a media_url), a batch token, and a key with room to fuzz."""
    with own_city(request.param, tmp_path_factory) as application:
        _name, key = new_key(application, rate_limit=100_000)
        client = application.test_client()
        references = [post(client, "requests", {**POTHOLE, "api_key": key, **extra}, 201)[0]["service_request_id"]
                      for extra in ({}, {"media_url": "https://example.org/pothole.jpg", "address_string": "1 Palm Coast Pkwy"})]
        token = post(client, "requests", {"service_code": "BULK", "address_string": "2 Palm Coast Pkwy", "api_key": key}, 201)[0]["token"]
        yield application, key, {"reference": references[-1], "token": token}


def seeded(spec: dict, known: dict) -> dict:
    """Our description plus examples from this city (sent first, as they are): a real service, request and token,
    and POSTs that succeed (one carrying markup), so the fuzz also walks the happy paths."""
    paths = spec["paths"]
    paths["/services/{service_code}.json"]["get"]["parameters"][0]["example"] = "POTHOLE"
    paths["/requests/{service_request_id}.json"]["get"]["parameters"][0]["example"] = known["reference"]
    paths["/tokens/{token}.json"]["get"]["parameters"][0]["example"] = known["token"]
    new_request = {"service_code": "SIDEWALK", "lat": 29.58, "long": -81.2, "description": "<script>alert(1)</script> cracked slab",
                   "email": "resident@example.org", "first_name": "Ann", "last_name": "=HYPERLINK(\"http://evil\",\"x\")"}
    paths["/requests.json"]["post"]["requestBody"]["content"]["application/x-www-form-urlencoded"]["example"] = new_request
    update = {"service_request_id": known["reference"], "description": "Still there <b>today</b>", "update_id": "fuzz-1"}
    paths["/servicerequestupdates.json"]["post"]["requestBody"]["content"]["application/x-www-form-urlencoded"]["example"] = update
    return spec


def test_open311_description_is_public_and_names_every_method(city):
    application, _key, _known = city
    answer = application.test_client().get("/open311/v2/openapi.json")
    assert answer.status_code == 200
    assert answer.headers["Content-Type"].startswith("application/json")
    spec = answer.json
    assert spec["openapi"].startswith("3.")
    assert spec["servers"][0]["url"].endswith("/open311/v2")
    methods = {(m.upper(), p) for p, item in spec["paths"].items() for m in item}
    assert methods == {
        ("GET", "/discovery.json"), ("GET", "/services.json"), ("GET", "/services/{service_code}.json"),
        ("GET", "/requests.json"), ("POST", "/requests.json"), ("GET", "/requests/{service_request_id}.json"),
        ("GET", "/tokens/{token}.json"), ("GET", "/servicerequestupdates.json"), ("POST", "/servicerequestupdates.json"),
    }


def test_open311_answers_hostile_input_as_described(city):
    application, key, known = city
    schema = schemathesis.openapi.from_dict(seeded(application.test_client().get("/open311/v2/openapi.json").json, known))
    schema.app = application  # calls go to the app in-process (WSGI)
    bearer = {"Authorization": f"Bearer {key}"}

    def call(case, checks):
        case.call_and_validate(headers=bearer if case.method == "POST" else None, checks=checks)

    labels = {op.ok().label: op.ok().method for op in schema.get_all_operations()}
    posts = {label for label, method in labels.items() if method == "post"}
    failures = fuzz(schema, call, EXAMPLES, skip=posts) + fuzz(schema, call, POST_EXAMPLES, skip=set(labels) - posts)
    assert not failures, "\n\n".join(failures)


def test_the_fuzzed_description_matches_the_real_answers(city):
    """The description is not vacuous: a real search answer validates, and one with a reporter's e-mail added
    does not (requests are closed objects)."""
    import jsonschema

    application, _key, _known = city
    client = application.test_client()
    spec = client.get("/open311/v2/openapi.json").json
    found = client.get("/open311/v2/requests.json")
    assert found.headers["Content-Type"] == JSON
    request_schema = {**spec["components"]["schemas"]["Request"], "components": spec["components"]}
    validator = jsonschema.Draft4Validator(_openapi_nullable(request_schema))
    requests = found.json
    assert requests, "the city's requests are found"
    for item in requests:
        validator.validate(item)
    with pytest.raises(jsonschema.ValidationError):
        validator.validate({**requests[0], "email": "resident@example.org"})


def _openapi_nullable(schema):
    """OpenAPI 3.0's ``nullable: true`` as JSON Schema's type list, and local ``$ref``s kept resolvable."""
    if isinstance(schema, dict):
        out = {k: _openapi_nullable(v) for k, v in schema.items() if k != "nullable"}
        if schema.get("nullable") and "type" in schema:
            out["type"] = [schema["type"], "null"]
        return out
    if isinstance(schema, list):
        return [_openapi_nullable(v) for v in schema]
    return schema
