"""Open311 GeoReport v2 rendering: one tree of dicts and lists, written as XML or JSON.

XML: ``<?xml version="1.0" encoding="utf-8"?>``, no namespace; a list is a container element whose
children are named by ``CHILD`` (``services`` -> ``service``); an empty value is written
``<zipcode></zipcode>``, as in the spec's examples.  JSON: the same shape with the root
dropped; a container of repeated children is an array.  Booleans are ``true``/``false``; ``None`` is
an empty element in XML and ``null`` in JSON.
"""
from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from typing import Any
from xml.etree import ElementTree as ET

from flask import Response

FORMATS = {"xml": "text/xml; charset=utf-8", "json": "application/json; charset=utf-8"}
CHILD = {
    "services": "service",
    "service_requests": "request",
    "attributes": "attribute",
    "values": "value",
    "endpoints": "endpoint",
    "formats": "format",
    "errors": "error",
    "photos": "photo",  # extensions=true
    "notes": "note",
    "service_request_updates": "request_update",  # FixMyStreet's servicerequestupdates
}


def utc(value: datetime | None) -> str | None:
    """A naive-UTC (or aware) datetime as ``YYYY-MM-DDThh:mm:ssZ``."""
    if value is None:
        return None
    if value.tzinfo is not None:
        value = value.astimezone(timezone.utc).replace(tzinfo=None)
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


# Characters XML 1.0 cannot carry at all (not even as &#...;): control characters but tab, line feed and carriage
# return, lone surrogates, U+FFFE and U+FFFF.  Stored text may hold them (JSON carries them); XML drops them.
NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return NOT_XML.sub("", str(value))


def _build(parent: ET.Element, tag: str, value: Any) -> None:
    element = ET.SubElement(parent, tag)
    _fill(element, tag, value)


def _fill(element: ET.Element, tag: str, value: Any) -> None:
    if isinstance(value, dict):
        for key, child in value.items():
            _build(element, key, child)
    elif isinstance(value, list):
        child_tag = CHILD.get(tag, "item")
        for child in value:
            _build(element, child_tag, child)
    else:
        element.text = _text(value)


def to_xml(root: str, value: Any) -> str:
    element = ET.Element(root)
    _fill(element, root, value)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(element, encoding="unicode", short_empty_elements=False)


def render(fmt: str, root: str, value: Any, status: int = 200) -> Response:
    """``value`` under ``root`` in XML, or ``value`` alone (root dropped) in JSON."""
    if fmt == "xml":
        body = to_xml(root, value)
    else:
        body = json.dumps(value, ensure_ascii=False)
    return Response(body, status=status, content_type=FORMATS[fmt])


def errors(fmt: str, status: int, descriptions: list[str]) -> Response:
    """Open311 errors: ``<errors><error><code/><description/></error></errors>`` or ``[{code, description}]``."""
    return render(fmt, "errors", [{"code": status, "description": d} for d in descriptions], status=status)
