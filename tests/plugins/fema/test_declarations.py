"""The city loads its declarations from an OpenFEMA DisasterDeclarationsSummaries file (CSV or the API's JSON):
one disaster per declaration, its counties gathered, rows it could not read reported with the reason."""
from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa

from tests.conftest import ROOT

FIXTURES = ROOT / "tests" / "fixtures" / "fema"


def run_cli(app, *args):
    """``civic fema ...`` on the test's app."""
    from core.cli import cli

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FLASK_RUN_FROM_CLI", "false")
        return app.test_cli_runner().invoke(cli, ["fema", *args])


def disaster(session, number: str):
    from plugins.fema.models import Disaster

    session.expire_all()
    return session.scalar(sa.select(Disaster).where(Disaster.number == number))


def test_dorian_is_imported_from_the_csv_once_with_both_counties(session):
    from plugins.fema.declarations import import_declarations

    report = import_declarations(session, FIXTURES / "declarations.csv", state="FL")
    assert {"DR-4468", "EM-3419", "DR-4673"} <= set(report.created + report.updated)
    assert "DR-4465" not in report.created + report.updated and report.filtered >= 1  # Georgia's Dorian
    reasons = dict(report.skipped)
    assert "declarationType" in reasons[7] and "disasterNumber" in reasons[8] and "date" in reasons[9]
    assert any("row 8 skipped" in line for line in report.lines())

    dorian = disaster(session, "DR-4468")
    assert dorian.title == "Hurricane Dorian" and dorian.declaration_type == "DR" and dorian.state == "FL"
    assert dorian.declaration_date == date(2019, 10, 22)
    assert (dorian.incident_begin, dorian.incident_end) == (date(2019, 8, 28), date(2019, 9, 9))
    assert {"Flagler (County)", "Volusia (County)"} <= set(dorian.designated_areas)
    assert dorian.tag == "hurricane-dorian-dr-4468"
    assert disaster(session, "EM-3419").tag == "hurricane-dorian-em-3419"


def test_importing_the_json_again_updates_and_never_duplicates(session):
    from plugins.fema.declarations import import_declarations
    from plugins.fema.models import Disaster

    import_declarations(session, FIXTURES / "declarations.csv", state="FL")
    report = import_declarations(session, FIXTURES / "declarations.json", state="FL", county="Flagler")
    assert set(report.updated) == {"DR-4468", "EM-3419", "DR-4673"} and report.created == []
    count = session.scalar(sa.select(sa.func.count()).select_from(Disaster).where(Disaster.number == "DR-4468"))
    assert count == 1
    assert disaster(session, "DR-4673").declaration_date == date(2022, 9, 29)


def test_a_county_filter_keeps_only_that_countys_declarations(session):
    from plugins.fema.declarations import import_declarations

    report = import_declarations(session, FIXTURES / "declarations.csv", county="Lee")
    assert report.created + report.updated == ["DR-4673"]


def test_a_file_that_is_not_a_declarations_file_is_refused(tmp_path, session):
    from plugins.fema.declarations import DeclarationFileError, import_declarations

    (tmp_path / "x.csv").write_text("name,value\na,1\n")
    (tmp_path / "x.json").write_text('{"other": []}')
    for name, message in (("x.csv", "disasterNumber"), ("x.json", "DisasterDeclarationsSummaries"), ("none.csv", "no such file")):
        with pytest.raises(DeclarationFileError, match=message):
            import_declarations(session, tmp_path / name)


def test_import_declarations_from_the_command_line(app, tmp_path):
    result = run_cli(app, "import-declarations", str(FIXTURES / "declarations.json"), "--state", "FL",
                     "--county", "Flagler")
    assert result.exit_code == 0, result.output
    assert "row 7 skipped" in result.output and "rows skipped" in result.output
    (tmp_path / "bad.json").write_text("{not json")
    bad = run_cli(app, "import-declarations", str(tmp_path / "bad.json"))
    assert bad.exit_code == 1 and "nothing was loaded" in bad.output
