"""The city's GIS exports: streets (GeoJSON, shapefile, WKT CSV), zones and meters, and what cannot be read."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from tests.plugins.fieldservice.gis_files import GIS, long_of, new_tag, place


def segments(session, tag):
    from plugins.fieldservice.models import StreetSegment

    rows = session.scalars(sa.select(StreetSegment).where(StreetSegment.segment_key.like(f"{tag}-%"))).all()
    return {s.segment_key: s for s in rows}


def run_cli(app, *args):
    from core.cli import cli

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FLASK_RUN_FROM_CLI", "false")
        return app.test_cli_runner().invoke(cli, ["fieldservice", *args])


def test_city_imports_its_street_centrelines_and_learns_which_features_were_bad(app, session, tmp_path):
    from plugins.fieldservice.importer import import_streets, import_zones

    tag = new_tag()
    zones = import_zones(session, place("zones.geojson", tag, tmp_path))
    assert (zones.added, zones.updated) == (1, 0)
    assert zones.problems == ["feature 2: no zone code (a property named code, zone or district)"]

    report = import_streets(session, place("streets.geojson", tag, tmp_path))

    assert (report.added, report.updated) == (3, 0)
    assert report.problems == [
        "feature 3: no geometry",
        "feature 4: wrong geometry type Point (expected LineString / MultiLineString)",
        "feature 5: no segment id (a property named SEGMENT_ID, segid, id or OBJECTID)",
        "feature 6: coordinates out of range (512345.0, 3271234.0): expected longitude, latitude in degrees (WGS 84)",
    ]
    found = segments(session, tag)
    assert sorted(found) == [f"{tag}-1", f"{tag}-2", f"{tag}-7"]
    roma = found[f"{tag}-1"]
    assert roma.street_name == "Via Roma"
    assert roma.zone_code == f"{tag}-Z", "a segment without a zone gets the zone whose polygon holds its middle"
    assert 300 < roma.length_m < 340, "no length in the file: measured along the line (about 314 m)"
    assert (roma.mid_lat, roma.mid_long) == (45.002, long_of(tag, 10.003))
    assert found[f"{tag}-2"].length_m == 330.5, "a plausible SHAPE_Length is kept"
    assert found[f"{tag}-2"].street_name == "Via Milano"
    assert found[f"{tag}-7"].zone_code == f"{tag}-OTHER", "a zone named in the file wins"
    assert report.lines()[-1] == "street segments: 3 added, 0 updated, 4 not read."


def test_importing_the_same_export_again_updates_and_never_duplicates(app, session, tmp_path):
    from plugins.fieldservice.importer import import_streets

    tag = new_tag()
    path = place("streets.geojson", tag, tmp_path)
    import_streets(session, path)
    path.write_text(path.read_text(encoding="utf-8").replace("Via Roma", "Via Roma Nuova"), encoding="utf-8")

    again = import_streets(session, path)

    assert (again.added, again.updated) == (0, 3)
    found = segments(session, tag)
    assert len(found) == 3
    assert found[f"{tag}-1"].street_name == "Via Roma Nuova"


def test_a_wkt_csv_export_loads_like_geojson(app, session, tmp_path):
    from plugins.fieldservice.importer import import_streets

    tag = new_tag()
    report = import_streets(session, place("streets_wkt.csv", tag, tmp_path))

    assert report.added == 2
    assert report.problems == ["feature 3: unreadable WKT geometry",
                               "feature 4: wrong geometry type Point (expected LineString / MultiLineString)"]
    found = segments(session, tag)
    assert found[f"{tag}-W2"].geometry["type"] == "MultiLineString"
    assert found[f"{tag}-W2"].zone_code == f"{tag}-Z"
    assert found[f"{tag}-W1"].street_name == "Corso Italia"


def test_a_zipped_shapefile_loads_with_its_attribute_table(app, session, tmp_path):
    import zipfile

    import shapefile

    from plugins.fieldservice.importer import import_streets

    tag = new_tag()
    base = tmp_path / "centrelines"
    with shapefile.Writer(str(base), shapeType=shapefile.POLYLINE) as writer:
        writer.field("SEG_ID", "C", 20)
        writer.field("FULLNAME", "C", 60)
        writer.field("SHAPE_Leng", "N", 12, 2)
        writer.line([[[long_of(tag, 10.001), 45.007], [long_of(tag, 10.004), 45.007]]])
        writer.record(f"{tag}-S1", "Viale Europa", 0.0031)  # degrees, as an unprojected export says: not metres
        writer.line([[[long_of(tag, 10.001), 45.008], [long_of(tag, 10.004), 45.008]]])
        writer.record("", "No Id Road", 0)
    archive = tmp_path / "centrelines.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for ext in ("shp", "shx", "dbf"):
            zf.write(f"{base}.{ext}", f"centrelines.{ext}")

    report = import_streets(session, archive)

    assert report.added == 1
    assert len(report.problems) == 1 and report.problems[0].startswith("feature 2: no segment id")
    viale = segments(session, tag)[f"{tag}-S1"]
    assert viale.street_name == "Viale Europa"
    assert 200 < viale.length_m < 260, "a SHAPE_Leng in degrees is not a length in metres: measured instead"


def test_a_file_that_is_not_geojson_is_one_clear_error_and_nothing_is_loaded(app, session, tmp_path):
    from plugins.fieldservice.importer import ImportFileError, import_streets
    from plugins.fieldservice.models import StreetSegment

    before = session.scalar(sa.select(sa.func.count()).select_from(StreetSegment))
    with pytest.raises(ImportFileError, match="not a GeoJSON file"):
        import_streets(session, GIS / "truncated.geojson")
    with pytest.raises(ImportFileError, match="no WKT column"):
        bad = tmp_path / "no-wkt.csv"
        bad.write_text("SEGID,STREET\n1,Main St\n", encoding="utf-8")
        import_streets(session, bad)
    assert session.scalar(sa.select(sa.func.count()).select_from(StreetSegment)) == before


def test_meters_are_linked_to_accounts_and_placed_in_their_zone(app, session, tmp_path):
    from plugins.fieldservice.importer import import_meters, import_zones
    from plugins.fieldservice.models import Meter

    tag = new_tag()
    import_zones(session, place("zones.geojson", tag, tmp_path))
    report = import_meters(session, place("meters.csv", tag, tmp_path))

    assert report.added == 2
    assert report.problems == ["feature 3: no position (lat and long must be numbers)", "feature 4: no meter number"]
    meters = {m.meter_number: m for m in session.scalars(sa.select(Meter).where(Meter.meter_number.like(f"{tag}-%")))}
    assert meters[f"{tag}-M1"].account_number == "1040000-01"
    assert meters[f"{tag}-M1"].zone_code == f"{tag}-Z"
    assert meters[f"{tag}-M2"].kind == "water", "no type in the file: water"


def test_cli_import_streets_prints_the_report_and_exits_1_on_an_unreadable_file(app, tmp_path):
    tag = new_tag()
    good = run_cli(app, "import-streets", str(place("streets.geojson", tag, tmp_path)))
    assert good.exit_code == 0, good.output
    assert "feature 3: no geometry" in good.output
    assert "street segments: 3 added, 0 updated, 4 not read." in good.output

    bad = run_cli(app, "import-streets", str(GIS / "truncated.geojson"))
    assert bad.exit_code == 1
    assert "truncated.geojson: not a GeoJSON file" in bad.output and "nothing was loaded" in bad.output

    missing = run_cli(app, "import-meters", str(tmp_path / "nope.csv"))
    assert missing.exit_code == 1
    assert "no such file" in missing.output
