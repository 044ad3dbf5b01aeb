"""The worked example of docs/fieldservice.md, as an IT admin does it: a fire hydrant layer and a "flood
survey" sweep type added by editing the city config only (no code), then used by dispatchers, crews and
the EOC board.  Each run builds its own app from its own config and database (SQLite and PostgreSQL)."""
from __future__ import annotations

import json

import pytest

from tests.conftest import DEMO_CONFIG, PASSWORD, build_app, login, prepare_database
from tests.fixtures import BACKENDS, city_config, close_app, fresh_database, run_civic
from tests.plugins.fieldservice.conftest import make_network

HYDRANT_LAYER = '''
[[fieldservice.layers]]
code = "hydrants"
source = "file"
file = "gis/hydrants.geojson"
geometry = "point"
name = { en = "Fire hydrants", fr = "Bornes d’incendie" }
style = { color = "#c62828", radius = 4 }
popup = ["HYDRANT_ID", "FLOW_GPM"]
roles = ["Field crew", "Dispatcher"]
'''

FLOOD_SURVEY = '''
[[fieldservice.sweep_types]]
code = "flood_survey"
name = { en = "Flood survey", fr = "Relevé des inondations" }
[[fieldservice.sweep_types.statuses]]
code = "not_checked"
name = { en = "Not checked", fr = "Non vérifiée" }
color = "#9e9e9e"
[[fieldservice.sweep_types.statuses]]
code = "dry"
name = { en = "Dry", fr = "Sèche" }
color = "#2e7d32"
cleared = true
[[fieldservice.sweep_types.statuses]]
code = "water_over_road"
name = { en = "Water over the road", fr = "Eau sur la chaussée" }
color = "#0277bd"
severity = 3
service = "STORM_FLOOD"
'''

HYDRANTS = [("H-001", 29.5601, -81.2201, 1500, "2026-03-02"), ("H-002", 29.5605, -81.2207, 1000, "2025-11-20"),
            ("H-003", 29.7000, -81.5000, 800, "2024-01-15")]  # the third is far outside the map view


def write_city(directory):
    (directory / "gis").mkdir()
    features = [{"type": "Feature", "properties": {"HYDRANT_ID": key, "FLOW_GPM": flow, "LAST_TEST": tested},
                 "geometry": {"type": "Point", "coordinates": [long, lat]}} for key, lat, long, flow, tested in HYDRANTS]
    (directory / "gis" / "hydrants.geojson").write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    return city_config(directory, ["i18n", "intake", "knowledge", "fieldservice", "fema"], base=DEMO_CONFIG,
                       append=HYDRANT_LAYER + FLOOD_SURVEY)


@pytest.fixture(params=BACKENDS)
def city(request, tmp_path):
    """A city whose config has the hydrant layer and the flood survey; its database migrated, staff created."""
    from core.extensions import db
    from core.models import Department
    from core.services.users import create_user

    config = write_city(tmp_path)
    with fresh_database(request.param, tmp_path) as url:
        app = build_app(url, config)
        prepare_database(app)
        with app.app_context():
            pw = db.session.query(Department).filter_by(code="PW").one()
            create_user("dispatcher", PASSWORD, "Dispatcher", email="d@palmcoast.example.gov")
            create_user("pw_staff", PASSWORD, "Department staff", email="s@palmcoast.example.gov", departments=[pw])
            db.session.commit()
        try:
            yield app, config, url
        finally:
            close_app(app)


def test_a_hydrant_layer_added_in_the_config_is_on_the_map_for_its_roles_only(city, tmp_path):
    app, config, url = city
    loaded = run_civic("fieldservice", "load-layers", config=config, data_dir=tmp_path, database_url=url)
    assert loaded.returncode == 0, loaded.stderr
    assert "Traceback" not in loaded.stdout + loaded.stderr

    dispatcher = login(app.test_client(), "dispatcher")
    assert "Fire hydrants" in dispatcher.get("/fieldservice/map/").get_data(as_text=True)
    answer = dispatcher.get("/fieldservice/map/layer/hydrants.geojson", query_string={"bbox": "-81.23,29.55,-81.21,29.57", "zoom": 17})
    assert answer.status_code == 200, answer.get_data(as_text=True)
    features = answer.get_json()["features"]
    assert sorted(f["properties"]["HYDRANT_ID"] for f in features) == ["H-001", "H-002"]
    assert all("LAST_TEST" not in f["properties"] for f in features), "only the popup fields leave the server"

    staff = login(app.test_client(), "pw_staff")
    assert "Fire hydrants" not in staff.get("/fieldservice/map/").get_data(as_text=True)
    assert staff.get("/fieldservice/map/layer/hydrants.geojson", query_string={"bbox": "-81.23,29.55,-81.21,29.57", "zoom": 17}).status_code == 403


def test_a_flood_survey_added_in_the_config_runs_like_any_sweep(city):
    from core.extensions import db
    from core.services.cases import Actor, CaseError
    from plugins.fieldservice import sweeps
    from plugins.fieldservice.models import SweepSegment
    from plugins.fieldservice.progress import total_progress, zone_progress

    app, _, _ = city
    dispatcher = login(app.test_client(), "dispatcher")
    assert "Flood survey" in dispatcher.get("/fieldservice/sweeps/new").get_data(as_text=True)

    with app.app_context():
        net = make_network(db.session, streets_per_zone=2)
        sweep = sweeps.create_sweep(db.session, name="Flood survey after TS Nadine", sweep_type="flood_survey",
                                    zone_codes=net.zones, actor=Actor(label="test"))
        sweeps.start_sweep(db.session, sweep, Actor(label="test"))
        rows = {s.segment.segment_key: s for s in db.session.query(SweepSegment).filter_by(sweep_id=sweep.id)}
        keys = sorted(rows)
        sweeps.check_off(db.session, rows[keys[0]], status="dry", actor=Actor(label="crew"))
        sweeps.check_off(db.session, rows[keys[1]], status="water_over_road", actor=Actor(label="crew"))
        with pytest.raises(CaseError) as refused:
            sweeps.check_off(db.session, rows[keys[2]], status="debris", actor=Actor(label="crew"))
        assert list(refused.value.errors) == ["status"], "a debris pass status is not one of the flood survey's"
        db.session.rollback()
        total = total_progress(zone_progress(db.session, sweep))
        flooded = rows[keys[1]].segment
        lat, long = flooded.mid_lat, flooded.mid_long
        sweep_id = sweep.id

    assert (total.total, total.checked, total.cleared, total.flagged) == (4, 2, 1, 1)
    page = dispatcher.get(f"/fieldservice/sweeps/{sweep_id}").get_data(as_text=True)
    assert "Water over the road" in page and "Flood survey after TS Nadine" in page
    board = dispatcher.get("/fieldservice/eoc/api/hotspots.geojson",
                           query_string={"bbox": f"{long - 0.01},{lat - 0.01},{long + 0.01},{lat + 0.01}", "zoom": 16, "window": "storm"})
    assert board.status_code == 200, board.get_data(as_text=True)
    assert sum(f["properties"]["score"] for f in board.get_json()["features"]) == 3, "severity 3, from the config"
