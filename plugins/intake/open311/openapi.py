"""An OpenAPI 3 description of our Open311 GeoReport v2 API, served at ``/open311/v2/openapi.json`` (public GET).

JSON only: the XML answers have the same fields (see docs/open311.md).  The description is what the server
does, not only what the spec allows: every answer listed with its status, request objects closed
(``additionalProperties: false``: a field such as the reporter's e-mail appearing in an answer is a schema
violation), the limits of each parameter.  ``tests/plugins/intake/test_open311_schemathesis.py`` holds the
server to it with Schemathesis.

Writing needs an API key: the description names it as a bearer token (``Authorization: Bearer <key>``); the
form field and query parameter ``api_key`` work too.
"""
from __future__ import annotations

from typing import Any

from flask import jsonify, url_for
from flask_babel import gettext

from plugins.intake.open311 import open311
from plugins.intake.open311.search import MAX_PAGE, MAX_PAGE_SIZE
from plugins.intake.open311.views import CHANGESET

JSON = "application/json"
# A path segment: anything but a slash (the routes take no slash; an encoded one never reaches them).
SEGMENT = {"type": "string", "minLength": 1, "pattern": "^[^/]+$"}
TEXT = {"type": "string"}
NULLABLE_TEXT = {"type": "string", "nullable": True}
DATETIME = {"type": "string", "format": "date-time"}
NULLABLE_DATETIME = {"type": "string", "format": "date-time", "nullable": True}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _closed(properties: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    """An object with exactly these properties (``required``: all of them unless told)."""
    return {"type": "object", "properties": properties, "required": list(properties) if required is None else required,
            "additionalProperties": False}


def _list(item: dict[str, Any]) -> dict[str, Any]:
    return {"type": "array", "items": item}


def _schemas() -> dict[str, Any]:
    photo = _closed({"media_url": TEXT, "created_at": DATETIME})
    note = _closed({"datetime": DATETIME, "summary": TEXT, "type": {"type": "string", "enum": ["opened", "activity", "closed"]},
                    "description": TEXT})
    request_fields = {
        "service_request_id": TEXT,
        "status": {"type": "string", "enum": ["open", "closed"]},
        "status_notes": TEXT,
        "service_name": TEXT,
        "service_code": TEXT,
        "description": TEXT,
        "agency_responsible": TEXT,
        "service_notice": TEXT,
        "requested_datetime": DATETIME,
        "updated_datetime": NULLABLE_DATETIME,
        "expected_datetime": NULLABLE_DATETIME,
        "address": TEXT,
        "address_id": TEXT,
        "zipcode": TEXT,
        "lat": {"type": "number", "nullable": True},
        "long": {"type": "number", "nullable": True},
        "media_url": TEXT,
    }
    extended = _closed({"channel": TEXT, "duplicate": {"type": "boolean"}, "parent_service_request_id": TEXT, "photos": _list(photo)})
    endpoint = _closed({"specification": TEXT, "url": TEXT, "changeset": TEXT, "type": TEXT, "formats": _list(TEXT)})
    value = _closed({"key": TEXT, "name": TEXT})
    attribute = _closed({
        "variable": {"type": "boolean"}, "code": TEXT, "datatype": {"type": "string", "enum": [
            "string", "number", "datetime", "text", "singlevaluelist", "multivaluelist"]},
        "required": {"type": "boolean"}, "datatype_description": TEXT, "order": {"type": "integer", "minimum": 1},
        "description": TEXT, "values": _list(value),
    })
    return {
        "Error": _closed({"code": {"type": "integer"}, "description": TEXT}),
        "Errors": _list(_ref("Error")),
        "Discovery": _closed({"changeset": TEXT, "contact": TEXT, "key_service": TEXT, "endpoints": _list(endpoint)}),
        "Service": _closed({"service_code": TEXT, "service_name": TEXT, "description": TEXT, "metadata": {"type": "boolean"},
                            "type": {"type": "string", "enum": ["realtime", "batch", "blackbox"]}, "keywords": TEXT, "group": TEXT}),
        "ServiceDefinition": _closed({"service_code": TEXT, "attributes": _list(attribute)}),
        "Request": _closed({**request_fields, "extended_attributes": extended, "notes": _list(note)}, required=list(request_fields)),
        "Created": _closed({"service_request_id": TEXT, "token": TEXT, "service_notice": TEXT, "account_id": NULLABLE_TEXT},
                           required=["service_notice", "account_id"]),
        "TokenStatus": _closed({"service_request_id": TEXT, "token": TEXT}),
        "Update": _closed({"update_id": TEXT, "service_request_id": TEXT, "status": {"type": "string", "enum": ["open", "closed"]},
                           "updated_datetime": DATETIME, "description": TEXT, "media_url": TEXT}),
        "UpdateId": _closed({"update_id": TEXT}),
    }


def _answer(description: str, schema: dict[str, Any], headers: dict[str, Any] | None = None) -> dict[str, Any]:
    answer: dict[str, Any] = {"description": description, "content": {JSON: {"schema": schema}}}
    if headers:
        answer["headers"] = headers
    return answer


def _errors(*statuses: int) -> dict[str, Any]:
    why = {
        400: gettext("A bad parameter: each error names it."),
        403: gettext("No valid API key."),
        404: gettext("Unknown jurisdiction, service, request or token."),
        413: gettext("The request is larger than the server takes."),
        429: gettext("Over the key's rate limit: try again after Retry-After seconds."),
        503: gettext("The database is busy: try again after Retry-After seconds."),
    }
    retry = {"Retry-After": {"schema": {"type": "integer"}}}
    return {str(s): _answer(why[s], _ref("Errors"), retry if s in (429, 503) else None) for s in statuses}


def _query(name: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema or TEXT}


def _path(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": SEGMENT}


COMMON = [_query("jurisdiction_id"), _query("locale")]
FLAG = {"type": "string", "enum": ["true", "false"]}


def _form(properties: dict[str, Any], required: list[str], multipart: dict[str, Any] | None = None) -> dict[str, Any]:
    form = {"type": "object", "properties": properties, "required": required}
    content: dict[str, Any] = {"application/x-www-form-urlencoded": {"schema": form}}
    if multipart:
        content["multipart/form-data"] = {"schema": {**form, "properties": {**properties, **multipart}}}
    return {"required": True, "content": content}


def _paths() -> dict[str, Any]:
    keyed = [{"api_key": []}]
    request_form = {
        "service_code": TEXT, "lat": {"type": "number"}, "long": {"type": "number"}, "address_string": TEXT,
        "address_id": TEXT, "email": TEXT, "device_id": TEXT, "account_id": TEXT, "first_name": TEXT, "last_name": TEXT,
        "phone": TEXT, "description": {"type": "string", "maxLength": 4000}, "media_url": {"type": "string", "maxLength": 1000},
        "jurisdiction_id": TEXT, "locale": TEXT,
    }
    update_form = {
        "service_request_id": TEXT, "description": {"type": "string", "maxLength": 4000}, "status": TEXT,
        "update_id": {"type": "string", "maxLength": 100}, "updated_datetime": TEXT,
        "media_url": {"type": "string", "maxLength": 1000}, "email": TEXT, "first_name": TEXT, "last_name": TEXT,
        "jurisdiction_id": TEXT,
    }
    search = [
        _query("service_request_id"), _query("service_code"), _query("start_date"), _query("end_date"), _query("status"),
        _query("page", {"type": "integer", "minimum": 1, "maximum": MAX_PAGE}),
        _query("page_size", {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE}),
        _query("updated_after"), _query("updated_before"),
        _query("lat", {"type": "number", "minimum": -90, "maximum": 90}),
        _query("long", {"type": "number", "minimum": -180, "maximum": 180}),
        _query("radius", {"type": "number", "minimum": 0, "maximum": 50000}),
        _query("bbox"), _query("extensions", FLAG),
    ]
    next_page = {"Link": {"description": gettext("The next page, when paging and there is one."), "schema": TEXT}}
    return {
        "/discovery.json": {"get": {
            "summary": gettext("Discovery: the endpoints of this server and the extensions it speaks"),
            "parameters": COMMON, "responses": {"200": _answer(gettext("Discovery"), _ref("Discovery")), **_errors(404)}}},
        "/services.json": {"get": {
            "summary": gettext("The public services"),
            "parameters": COMMON, "responses": {"200": _answer(gettext("Services"), _list(_ref("Service"))), **_errors(404)}}},
        "/services/{service_code}.json": {"get": {
            "summary": gettext("A service's attributes"),
            "parameters": [_path("service_code"), *COMMON],
            "responses": {"200": _answer(gettext("Service definition"), _ref("ServiceDefinition")), **_errors(404)}}},
        "/requests.json": {
            "get": {
                "summary": gettext("Search requests"),
                "parameters": [*search, *COMMON],
                "responses": {"200": _answer(gettext("Requests"), _list(_ref("Request")), next_page), **_errors(400, 404)}},
            "post": {
                "summary": gettext("Report a request (API key)"),
                "security": keyed, "parameters": COMMON,
                "requestBody": _form(request_form, ["service_code"], {"media": {"type": "string", "format": "binary"}}),
                "responses": {"201": _answer(gettext("The new request, or a token"), _list(_ref("Created"))),
                              **_errors(400, 403, 404, 413, 429, 503)}},
        },
        "/requests/{service_request_id}.json": {"get": {
            "summary": gettext("One request"),
            "parameters": [_path("service_request_id"), _query("extensions", FLAG), *COMMON],
            "responses": {"200": _answer(gettext("The request"), _list(_ref("Request"))), **_errors(400, 404)}}},
        "/tokens/{token}.json": {"get": {
            "summary": gettext("The request made from a batch submission's token"),
            "parameters": [_path("token"), *COMMON],
            "responses": {"200": _answer(gettext("The token's request id (empty until processed)"), _list(_ref("TokenStatus"))),
                          **_errors(404)}}},
        "/servicerequestupdates.json": {
            "get": {
                "summary": gettext("Public updates of requests (FixMyStreet)"),
                "parameters": [_query("start_date"), _query("end_date"), _query("service_request_id"), *COMMON],
                "responses": {"200": _answer(gettext("Updates"), _list(_ref("Update"))), **_errors(400, 404)}},
            "post": {
                "summary": gettext("Send an update on a request (FixMyStreet, API key)"),
                "security": keyed, "parameters": COMMON,
                "requestBody": _form(update_form, ["service_request_id"]),
                "responses": {"201": _answer(gettext("The new update"), _list(_ref("UpdateId"))),
                              "200": _answer(gettext("The same update_id sent again: the first update"), _list(_ref("UpdateId"))),
                              **_errors(400, 403, 404, 413, 429, 503)}},
        },
    }


def openapi_document() -> dict[str, Any]:
    """The description, with this server's own address (as discovery gives it)."""
    base = url_for("open311.discovery", fmt="json", _external=True).rsplit("/", 1)[0]
    return {
        "openapi": "3.0.3",
        "info": {
            "title": gettext("Open311 GeoReport v2"),
            "version": CHANGESET,
            "description": gettext("The city's Open311 API (JSON; every method answers XML too with the .xml suffix)."),
        },
        "servers": [{"url": base}],
        "paths": _paths(),
        "components": {
            "schemas": _schemas(),
            "securitySchemes": {"api_key": {"type": "http", "scheme": "bearer",
                                            "description": gettext("An API key from the city, as a bearer token.")}},
        },
    }


@open311.route("/openapi.json")
def openapi():
    return jsonify(openapi_document())
