"""The EOC board at a storm's scale: the hot-spot map travels gzip-compressed to a board that accepts it (the same
GeoJSON once decompressed), and its count of open cases is answered from the map's covering index.

Both database backends; the cases sit at a spot of their own (tests/plugins/fieldservice/test_eoc.py's helpers).
"""
from __future__ import annotations

import gzip
import json

import sqlalchemy as sa

from tests.plugins.fieldservice.test_eoc import box, lonely_spot, new_case, setup


def _without_clock(geojson: dict) -> dict:
    """The answer minus the moment it was made (``since`` moves with the clock between two requests)."""
    return {**geojson, "properties": {k: v for k, v in geojson["properties"].items() if k != "since"}}


def test_the_hot_spot_map_is_gzipped_for_a_board_that_accepts_it_and_decompresses_to_the_same_geojson(app, client_for):
    with setup(app) as session:
        lat, long = lonely_spot()
        for i in range(40):  # forty cells of a street zoom, one case each: a few kilobytes of GeoJSON
            new_case(session, lat=lat + (i // 8) * 0.004, long=long + (i % 8) * 0.005)
    client = client_for("dispatcher")
    url = f"/fieldservice/eoc/api/hotspots.geojson?bbox={box(lat, long, 0.05)}&zoom=15&window=24h"

    packed = client.get(url, headers={"Accept-Encoding": "gzip, deflate, br"})
    plain = client.get(url)
    assert packed.status_code == 200 and packed.headers["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in packed.headers["Vary"] and packed.mimetype == "application/geo+json"
    assert int(packed.headers["Content-Length"]) == len(packed.data) < len(plain.data) / 3
    assert "Content-Encoding" not in plain.headers and "Accept-Encoding" in plain.headers["Vary"]

    unpacked = json.loads(gzip.decompress(packed.data))
    assert _without_clock(unpacked) == _without_clock(plain.json)
    assert len(unpacked["features"]) == 40 and sum(f["properties"]["count"] for f in unpacked["features"]) == 40

    # A board that only takes identity, or says gzip;q=0, gets plain JSON.
    for refusal in ("identity", "gzip;q=0"):
        answer = client.get(url, headers={"Accept-Encoding": refusal})
        assert "Content-Encoding" not in answer.headers and answer.json["features"]


def test_a_small_answer_and_an_error_go_uncompressed(app, client_for):
    client = client_for("dispatcher")
    lat, long = lonely_spot()
    empty = client.get(f"/fieldservice/eoc/api/hotspots.geojson?bbox={box(lat, long)}&zoom=15", headers={"Accept-Encoding": "gzip"})
    assert empty.status_code == 200 and "Content-Encoding" not in empty.headers and empty.json["features"] == []
    bad = client.get("/fieldservice/eoc/api/hotspots.geojson?bbox=1,2,3", headers={"Accept-Encoding": "gzip"})
    assert bad.status_code == 400 and "Content-Encoding" not in bad.headers and "bbox" in bad.json["message"]


def test_the_summary_is_gzipped_too(app, client_for):
    answer = client_for("dispatcher").get("/fieldservice/eoc/api/summary?window=storm", headers={"Accept-Encoding": "gzip"})
    assert answer.status_code == 200
    body = gzip.decompress(answer.data) if answer.headers.get("Content-Encoding") == "gzip" else answer.data
    assert "open_total" in json.loads(body)["cases"]


def test_the_open_case_map_index_exists_on_the_case_table(app):
    """Core migration 0008 made it, and the model declares it (autogenerate stays clean)."""
    from core.extensions import db
    from core.models import Case

    with app.app_context():
        found = {ix["name"]: ix["column_names"] for ix in sa.inspect(db.engine).get_indexes("case")}
    assert found["ix_case_open_map"] == ["status", "created_at", "lat", "long", "priority"]
    assert "ix_case_open_map" in {ix.name for ix in Case.__table__.indexes}
