"""What the Open311 write-side tests share: keys, POSTs in both formats, reading the answers."""
from __future__ import annotations

import io
import json
import uuid
from xml.etree import ElementTree as ET

import pytest

XML = "text/xml; charset=utf-8"
JSON = "application/json; charset=utf-8"
POTHOLE = {"service_code": "POTHOLE", "lat": "29.58", "long": "-81.2", "attribute[SIZE]": "small"}


def tag() -> str:
    return uuid.uuid4().hex[:8]


def new_key(app, name: str | None = None, rate_limit: int | None = None) -> tuple[str, str]:
    """A fresh key: (its name, the plain key)."""
    from core.extensions import db
    from plugins.intake.open311.keys import create_key

    with app.app_context():
        key, plain = create_key(db.session, name or f"App {tag()}", rate_limit=rate_limit)
        name = key.name
        db.session.remove()
    return name, plain


@pytest.fixture
def key(app):
    """(name, plain key) of a key made for the test."""
    return new_key(app)


def parse(response, fmt: str):
    """The answer's body: a list/dict for JSON, the root element for XML (both checked for their content type)."""
    assert response.headers["Content-Type"] == (JSON if fmt == "json" else XML), response.headers["Content-Type"]
    if fmt == "json":
        return json.loads(response.data)
    text = response.get_data(as_text=True)
    assert text.startswith('<?xml version="1.0" encoding="utf-8"?>')
    return ET.fromstring(response.data)


def post(client, path: str, data: dict, status: int, fmt: str = "json", **kwargs):
    response = client.post(f"/open311/v2/{path}.{fmt}", data=data, **kwargs)
    assert response.status_code == status, response.get_data(as_text=True)
    return parse(response, fmt)


def error_texts(body, fmt: str = "json") -> list[str]:
    if fmt == "json":
        return [e["description"] for e in body]
    assert body.tag == "errors"
    return [e.findtext("description") for e in body.findall("error")]


def error_codes(body, fmt: str = "json") -> set[int]:
    if fmt == "json":
        return {e["code"] for e in body}
    return {int(e.findtext("code")) for e in body.findall("error")}


def png_bytes() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (24, 16), (200, 30, 30)).save(out, "PNG")
    return out.getvalue()


def case_by_reference(app, reference: str):
    """(case, its events) as plain values, read in a fresh session."""
    import sqlalchemy as sa

    from core.extensions import db
    from core.models import Case, CaseEvent

    with app.app_context():
        case = db.session.scalar(sa.select(Case).where(Case.reference == reference))
        assert case is not None, reference
        events = list(db.session.scalars(sa.select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.id)))
        db.session.expunge_all()
        db.session.remove()
    return case, events


def run_cli(app, *args) -> object:
    from core.cli import cli

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FLASK_RUN_FROM_CLI", "false")
        return app.test_cli_runner().invoke(cli, list(args))
