"""The map's layers as GeoJSON: bounded by box and zoom, counts when zoomed out, kept to their roles, and
nothing personal in them."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from tests.plugins.fieldservice.gis_files import long_of, new_tag, place

LAYER = "/fieldservice/map/layer/{code}.geojson"


def box(tag: str, south: float, west: float, north: float, east: float) -> str:
    """A bbox parameter around fixture coordinates (longitudes as written in the fixtures: 10.0xxx)."""
    return f"{long_of(tag, west)},{south},{long_of(tag, east)},{north}"


@pytest.fixture
def layers_config(app, monkeypatch):
    """``layers_config([...])`` declares the city's layers for one test."""
    section = app.extensions["civic"].plugin_config["fieldservice"]

    def declare(layers):
        monkeypatch.setitem(section, "layers", layers)

    return declare


def meters_at(session, tag: str, count: int, lat: float = 45.0, long: float = 10.0) -> None:
    from plugins.fieldservice.models import Meter

    for i in range(count):
        session.add(Meter(meter_number=f"{tag}-{i}", account_number=f"A-{tag}-{i}", kind="water",
                          lat=lat + 0.0001 * (i % 10), long=long_of(tag, long + 0.0001 * (i // 10))))
    session.commit()


def test_zoomed_in_the_streets_layer_sends_only_the_streets_in_the_map_box(app, session, client_for, tmp_path):
    from plugins.fieldservice.importer import import_streets, import_zones

    tag = new_tag()
    import_zones(session, place("zones.geojson", tag, tmp_path))
    import_streets(session, place("streets.geojson", tag, tmp_path))

    r = client_for("dispatcher").get(LAYER.format(code="streets"), query_string={"bbox": box(tag, 45.0015, 10.0, 45.0025, 10.01), "zoom": 16})

    assert r.status_code == 200, r.get_data(as_text=True)
    collection = r.get_json()
    assert collection["type"] == "FeatureCollection"
    assert collection["properties"]["mode"] == "features" and collection["properties"]["truncated"] is False
    ours = [f for f in collection["features"] if f["properties"]["segment"].startswith(tag)]
    assert [f["properties"]["segment"] for f in ours] == [f"{tag}-1"], "Via Milano, further north, is outside the box"
    props = ours[0]["properties"]
    assert props["street"] == "Via Roma" and props["zone"] == f"{tag}-Z" and props["length_m"] > 300
    assert ours[0]["geometry"]["type"] == "LineString"


def test_zoomed_out_a_layer_sends_counts_per_grid_cell_and_zoomed_in_each_meter(app, session, client_for):
    import math

    from plugins.fieldservice.geo import cell_degrees

    tag = new_tag()
    # The tag shifts the meters east by its own strip; put them in the middle of a zoom-11 cell, not astride an edge.
    cell = cell_degrees(11)
    middle = (math.floor((long_of(tag, 10.0) + 180.0) / cell) + 0.5) * cell - 180.0
    west = 10.0 + (middle - long_of(tag, 10.0))
    meters_at(session, tag, 30, long=west)
    client = client_for("dispatcher")
    bbox = box(tag, 44.99, west - 0.01, 45.01, west + 0.01)

    far = client.get(LAYER.format(code="meters"), query_string={"bbox": bbox, "zoom": 11}).get_json()
    near = client.get(LAYER.format(code="meters"), query_string={"bbox": bbox, "zoom": 17}).get_json()

    assert far["properties"]["mode"] == "cells"
    assert sum(f["properties"]["count"] for f in far["features"]) == 30
    assert len(far["features"]) == 1, "30 meters 30 m apart are one cell at zoom 11"
    assert far["features"][0]["geometry"]["type"] == "Point"
    assert near["properties"]["mode"] == "features"
    assert len(near["features"]) == 30
    assert set(near["features"][0]["properties"]) == {"meter_number", "account_number", "kind", "zone"}


def test_counting_cells_is_one_grouped_query(app, session, client_for):
    from tests.conftest import recorded_sql

    tag = new_tag()
    meters_at(session, tag, 12)
    client = client_for("dispatcher")
    with recorded_sql(app) as statements:
        r = client.get(LAYER.format(code="meters"), query_string={"bbox": box(tag, 44.99, 9.99, 45.01, 10.01), "zoom": 12})
    assert r.status_code == 200
    on_meters = [s for s in statements if "fieldservice_meter" in s]
    assert len(on_meters) == 1 and "GROUP BY" in on_meters[0] and "LIMIT" in on_meters[0]


@pytest.mark.parametrize("params, field", [
    ({"bbox": "-81.3,29.4,-81.1", "zoom": "16"}, "bbox"),
    ({"bbox": "west,29.4,-81.1,29.6", "zoom": "16"}, "bbox"),
    ({"bbox": "-81.1,29.4,-81.3,29.6", "zoom": "16"}, "bbox"),
    ({"bbox": "-81.3,29.4,-81.1,29.6", "zoom": "99"}, "zoom"),
    ({"bbox": "-81.3,29.4,-81.1,29.6", "zoom": "-1"}, "zoom"),
    ({"zoom": "16"}, "bbox"),
    ({"bbox": "-81.3,29.4,-81.1,29.6", "zoom": "16", "sweep": "one"}, "sweep"),
    ({"bbox": "-81.3,29.4,-81.1,29.6", "zoom": "16", "sweep": "999999"}, "sweep"),
])
def test_a_bad_map_parameter_is_a_400_naming_it(app, client_for, params, field):
    r = client_for("dispatcher").get(LAYER.format(code="streets"), query_string=params)
    assert r.status_code == 400
    body = r.get_json()
    assert list(body["errors"]) == [field]
    assert body["message"].startswith(f"{field}: ")


def test_an_unknown_status_filter_is_a_400_and_an_unknown_layer_a_404(app, client_for):
    client = client_for("dispatcher")
    r = client.get(LAYER.format(code="cases"), query_string={"bbox": "-81.3,29.4,-81.1,29.6", "zoom": "16", "status": "lost"})
    assert r.status_code == 400 and list(r.get_json()["errors"]) == ["status"]
    assert client.get(LAYER.format(code="nothing_here"), query_string={"zoom": 16}).status_code == 404


def test_cases_layer_shows_open_cases_by_status_with_no_contact_details(app, session, client_for):
    from core.services.cases import SYSTEM, change_status, create_case

    tag = new_tag()
    lat, long = 45.0031, long_of(tag, 10.0031)
    contact = {"contact_name": "Maria Lopez", "contact_email": "maria.lopez@example.org", "contact_phone": "386-555-0199",
               "address": "12 Via Segreta"}
    open_case = create_case(session, service_code="POTHOLE", description=f"hole {tag}", lat=lat, long=long,
                            attributes={"SIZE": "small"}, **contact)
    closed = create_case(session, service_code="POTHOLE", description=f"fixed {tag}", lat=lat, long=long, attributes={"SIZE": "small"})
    change_status(session, closed, "closed", SYSTEM, note="Filled.")
    session.commit()
    client = client_for("dispatcher")
    bbox = box(tag, 45.0, 10.0, 45.01, 10.01)

    r = client.get(LAYER.format(code="cases"), query_string={"bbox": bbox, "zoom": 17})

    assert r.status_code == 200
    text = r.get_data(as_text=True)
    for secret in contact.values():
        assert secret not in text
    features = r.get_json()["features"]
    assert [f["properties"]["reference"] for f in features] == [open_case.reference], "closed cases are left out by default"
    props = features[0]["properties"]
    assert set(props) == {"reference", "service", "service_code", "status", "status_label", "color", "created", "url"}
    assert props["status"] == "new" and props["color"].startswith("#")
    assert props["url"] == f"/caseview/show/{open_case.id}"
    assert client.get(props["url"]).status_code == 200, "the popup's link opens the case page"

    every = client.get(LAYER.format(code="cases"), query_string={"bbox": bbox, "zoom": 17, "status": "all"}).get_json()
    assert len(every["features"]) == 2
    cells = client.get(LAYER.format(code="cases"), query_string={"bbox": bbox, "zoom": 10, "status": "new,closed"}).get_json()
    assert cells["properties"]["mode"] == "cells"
    assert cells["features"][0]["properties"]["statuses"] == {"new": 1, "closed": 1}
    assert "Maria" not in str(cells)


def test_department_staff_see_only_their_departments_cases_on_the_map(app, client_for):
    from core.extensions import db
    from core.services.cases import create_case

    tag = new_tag()
    with app.app_context():  # each user's requests then run in an app context of their own
        reference = create_case(db.session, service_code="POTHOLE", description=f"hole {tag}", lat=45.0033,
                                long=long_of(tag, 10.0033), attributes={"SIZE": "small"}).reference
    bbox = box(tag, 45.0, 10.0, 45.01, 10.01)
    seen = {}
    for user in ("pw_staff", "util_staff"):
        r = client_for(user).get(LAYER.format(code="cases"), query_string={"bbox": bbox, "zoom": 17})
        seen[user] = [f["properties"]["reference"] for f in r.get_json()["features"]]
    assert seen == {"pw_staff": [reference], "util_staff": []}


def test_a_layer_kept_to_some_roles_is_refused_to_the_others(app, client_for, layers_config):
    from core.extensions import db

    tag = new_tag()
    with app.app_context():
        meters_at(db.session, tag, 2)
    layers_config([{"code": "streets", "source": "streets"},
                   {"code": "crew_meters", "source": "meters", "name": "Crew meters", "roles": ["Field crew"]}])
    params = {"bbox": box(tag, 44.99, 9.99, 45.01, 10.01), "zoom": 17}

    assert client_for("dispatcher").get(LAYER.format(code="crew_meters"), query_string=params).status_code == 403
    assert client_for("crew").get(LAYER.format(code="crew_meters"), query_string=params).status_code == 200
    assert client_for("admin").get(LAYER.format(code="crew_meters"), query_string=params).status_code == 200
    page = client_for("dispatcher").get("/fieldservice/map/").get_data(as_text=True)
    assert "crew_meters" not in page, "the switcher lists only the layers the user may see"
    assert "crew_meters" in client_for("crew").get("/fieldservice/map/").get_data(as_text=True)


def test_the_json_endpoint_refuses_a_resident_and_a_visitor(app, client_for):
    params = {"bbox": "-81.3,29.4,-81.1,29.6", "zoom": "12"}
    assert client_for("resident").get(LAYER.format(code="streets"), query_string=params).status_code in (401, 403)
    assert client_for(None).get(LAYER.format(code="streets"), query_string=params).status_code in (401, 403)


def test_a_file_layer_shows_only_its_popup_fields(app, session, client_for, layers_config, tmp_path):
    from plugins.fieldservice.importer import import_layer
    from plugins.fieldservice.settings import layer

    tag = new_tag()
    code = f"hydrants_{tag}"
    path = place("hydrants.geojson", tag, tmp_path)
    layers_config([{"code": code, "source": "file", "file": str(path), "geometry": "point", "name": "Hydrants",
                    "popup": ["HYDRANT_ID", "FLOW_GPM"], "style": {"color": "#c62828", "radius": 4}}])
    with app.test_request_context():
        report = import_layer(session, layer(code), path)
        again = import_layer(session, layer(code), path)
    assert report.added == 2 and again.added == 2
    assert report.problems == ["feature 3: wrong geometry type LineString (expected Point / MultiPoint)"]

    r = client_for("dispatcher").get(LAYER.format(code=code), query_string={"bbox": box(tag, 45.0, 10.0, 45.01, 10.01), "zoom": 16})

    features = r.get_json()["features"]
    assert len(features) == 2, "importing again replaced the layer's features"
    assert {f["properties"]["HYDRANT_ID"] for f in features} == {"H-1", "H-2"}
    assert all(set(f["properties"]) == {"key", "HYDRANT_ID", "FLOW_GPM"} for f in features)
    assert "386-555" not in r.get_data(as_text=True)


def test_cli_load_layers_loads_every_file_layer_and_exits_1_when_one_is_unreadable(app, session, layers_config, tmp_path):
    from core.cli import cli
    from plugins.fieldservice.models import LayerFeature

    tag = new_tag()
    good = place("hydrants.geojson", tag, tmp_path)
    broken = tmp_path / "broken.geojson"
    broken.write_text("{not json", encoding="utf-8")
    layers_config([{"code": f"h_{tag}", "source": "file", "file": str(good), "geometry": "point"},
                   {"code": f"b_{tag}", "source": "file", "file": str(broken), "geometry": "point"}])
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FLASK_RUN_FROM_CLI", "false")
        result = app.test_cli_runner().invoke(cli, ["fieldservice", "load-layers"])
    assert result.exit_code == 1
    assert f"h_{tag}: 2 added, 0 updated, 1 not read." in result.output
    assert "broken.geojson: not a GeoJSON file" in result.output
    assert session.scalar(sa.select(sa.func.count()).where(LayerFeature.layer == f"h_{tag}")) == 2


def test_a_table_layer_reads_the_declared_columns_of_a_city_table(app, session, client_for, layers_config):
    tag = new_tag()
    table = f"shelters_{tag}"
    session.execute(sa.text(f"CREATE TABLE {table} (id INTEGER PRIMARY KEY, name VARCHAR(80), lat FLOAT, long FLOAT, "
                            "manager_phone VARCHAR(20), outline TEXT)"))
    session.execute(sa.text(f"INSERT INTO {table} (id, name, lat, long, manager_phone, outline) VALUES "
                            "(1, 'Shelter A', 45.002, :a, '386-555-0150', :line), (2, 'Shelter B', 45.003, :b, '386-555-0151', NULL), "
                            "(3, 'Far away', 46.5, :b, NULL, NULL)"),
                    {"a": long_of(tag, 10.002), "b": long_of(tag, 10.003),
                     "line": '{"type": "LineString", "coordinates": [[%s, 45.002], [%s, 45.002]]}' % (long_of(tag, 10.002), long_of(tag, 10.004))})
    session.commit()
    try:
        layers_config([{"code": "shelters", "source": "table", "table": table, "lat_column": "lat", "long_column": "long",
                        "key_column": "id", "popup": ["name"]},
                       {"code": "outlines", "source": "table", "table": table, "geometry_column": "outline", "geometry": "line",
                        "key_column": "id", "popup": ["name"]}])
        client = client_for("dispatcher")
        bbox = box(tag, 45.0, 10.0, 45.01, 10.01)

        raw = client.get(LAYER.format(code="shelters"), query_string={"bbox": bbox, "zoom": 16})
        cells = client.get(LAYER.format(code="shelters"), query_string={"bbox": bbox, "zoom": 9}).get_json()
        lines = client.get(LAYER.format(code="outlines"), query_string={"bbox": bbox, "zoom": 16}).get_json()

        assert raw.status_code == 200, raw.get_data(as_text=True)
        features = raw.get_json()["features"]
        assert [f["properties"] for f in features] == [{"key": 1, "name": "Shelter A"}, {"key": 2, "name": "Shelter B"}]
        assert "386-555" not in raw.get_data(as_text=True)
        assert sum(f["properties"]["count"] for f in cells["features"]) == 2
        assert [f["geometry"]["type"] for f in lines["features"]] == ["LineString"]
    finally:
        session.rollback()
        session.execute(sa.text(f"DROP TABLE {table}"))
        session.commit()


def test_streets_in_a_sweep_carry_their_status_and_colour(app, session, client_for, tmp_path):
    from plugins.fieldservice.importer import import_streets
    from plugins.fieldservice.models import SweepCampaign, SweepSegment

    tag = new_tag()
    import_streets(session, place("streets.geojson", tag, tmp_path))
    sweep = SweepCampaign(name=f"Pass {tag}", sweep_type="debris", state="active")
    session.add(sweep)
    session.flush()
    from plugins.fieldservice.models import StreetSegment

    roma = session.scalar(sa.select(StreetSegment).where(StreetSegment.segment_key == f"{tag}-1"))
    session.add(SweepSegment(sweep_id=sweep.id, segment_id=roma.id, zone_code=roma.zone_code, status="blocked"))
    session.commit()
    client = client_for("dispatcher")
    bbox = box(tag, 45.0, 10.0, 45.01, 10.01)

    raw = client.get(LAYER.format(code="streets"), query_string={"bbox": bbox, "zoom": 16, "sweep": sweep.id}).get_json()
    cells = client.get(LAYER.format(code="streets"), query_string={"bbox": bbox, "zoom": 10, "sweep": sweep.id}).get_json()

    by_key = {f["properties"]["segment"]: f["properties"] for f in raw["features"] if f["properties"]["segment"].startswith(tag)}
    assert by_key[f"{tag}-1"]["status"] == "blocked"
    assert by_key[f"{tag}-1"]["color"] == "#c62828"
    assert by_key[f"{tag}-1"]["status_label"] == "Blocked"
    assert by_key[f"{tag}-2"]["status"] is None, "a street outside the sweep has no status"
    assert [f["properties"]["statuses"] for f in cells["features"]] == [{"blocked": 1}]
