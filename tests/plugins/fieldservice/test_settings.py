"""The ``[fieldservice]`` config as an IT admin writes it: each mistake is one line naming the file, the key
and the problem (``civic config check`` and start-up alike); the demo city's section is valid."""
from __future__ import annotations

import pytest

from core.config import ConfigError
from tests.conftest import DEMO_CONFIG, ROOT, build_app
from tests.fixtures import city_config, run_civic

MINIMAL = ROOT / "config" / "default.toml"

GOOD_TYPE = '''
[[fieldservice.sweep_types]]
code = "debris"
name = "Debris pass"
[[fieldservice.sweep_types.statuses]]
code = "not_checked"
name = "Not checked"
[[fieldservice.sweep_types.statuses]]
code = "clear"
name = "Clear"
cleared = true
'''

PROBLEMS = {
    "unknown-key": ("fieldservice.tiles", "unknown key", "\n[fieldservice]\ntiles = \"x\"\n"),
    "bad-zoom": ("fieldservice.raw_zoom", "whole number from 1 to 22", "\n[fieldservice]\nraw_zoom = 40\n"),
    "layer-bad-source": ("fieldservice.layers[0].source", "must be one of: streets, zones", '\n[[fieldservice.layers]]\ncode = "x"\nsource = "wfs"\n'),
    "layer-missing-file": ("fieldservice.layers[0].file", "no such file: gis/nowhere.geojson",
                           '\n[[fieldservice.layers]]\ncode = "hydrants"\nsource = "file"\nfile = "gis/nowhere.geojson"\n'),
    "layer-bad-colour": ("fieldservice.layers[0].style.color", "must be a colour",
                         '\n[[fieldservice.layers]]\ncode = "streets"\nsource = "streets"\nstyle = { color = "red" }\n'),
    "layer-bad-table-name": ("fieldservice.layers[0].table", "plain table or column name",
                             '\n[[fieldservice.layers]]\ncode = "t"\nsource = "table"\ntable = "x; drop table case"\nlat_column = "lat"\nlong_column = "long"\n'),
    "layer-code-twice": ("fieldservice.layers[1].code", "'streets' is used twice",
                         '\n[[fieldservice.layers]]\ncode = "streets"\nsource = "streets"\n[[fieldservice.layers]]\ncode = "streets"\nsource = "streets"\n'),
    "type-one-status": ("fieldservice.sweep_types[0].statuses", "at least two statuses",
                        '\n[[fieldservice.sweep_types]]\ncode = "debris"\nname = "Debris"\n[[fieldservice.sweep_types.statuses]]\ncode = "not_checked"\nname = "Not checked"\n'),
    "status-unknown-service": ("fieldservice.sweep_types[0].statuses[1].service", "unknown service 'DEBRIS'",
                               GOOD_TYPE.replace("cleared = true", 'service = "DEBRIS"')),
    "status-bad-severity": ("fieldservice.sweep_types[0].statuses[1].severity", "whole number from 0 to 3",
                            GOOD_TYPE.replace("cleared = true", "severity = 7")),
    "status-twice": ("fieldservice.sweep_types[0].statuses[1].code", "'not_checked' is listed twice",
                     GOOD_TYPE.replace('code = "clear"', 'code = "not_checked"')),
    "status-name-other-language": ("fieldservice.sweep_types[0].statuses[1].name", "unknown locale 'fr'",
                                   GOOD_TYPE.replace('name = "Clear"', 'name = { en = "Clear", fr = "Dégagée" }')),
}


@pytest.mark.parametrize("key,message,append", PROBLEMS.values(), ids=PROBLEMS.keys())
def test_admin_sees_one_line_per_fieldservice_mistake(key, message, append, tmp_path):
    (tmp_path / "gis").mkdir()
    config = city_config(tmp_path, ["fieldservice"], base=MINIMAL, append=append)
    result = run_civic("config", "check", config=config, data_dir=tmp_path, site=False)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"{config}: {key}: "), lines[0]
    assert message in lines[0], lines[0]


def test_start_up_refuses_a_bad_sweep_type_with_the_same_line(tmp_path):
    config = city_config(tmp_path, ["fieldservice"], base=MINIMAL, append=GOOD_TYPE.replace("cleared = true", "severity = 7"))
    with pytest.raises(ConfigError) as caught:
        build_app(f"sqlite:///{tmp_path / 'unused.db'}", config)
    assert caught.value.lines == [f"{config}: fieldservice.sweep_types[0].statuses[1].severity: must be a whole number from 0 to 3, not 7"]


def test_the_demo_city_field_section_is_valid(tmp_path):
    result = run_civic("config", "check", config=DEMO_CONFIG, data_dir=tmp_path, site=False)
    assert result.returncode == 0, result.stderr


def test_sweep_types_and_layers_come_from_the_config(ctx):
    from plugins.fieldservice.settings import layer, sweep_type

    debris = sweep_type("debris")
    assert debris.initial.code == "not_checked"
    assert debris.cleared_codes == ("clear",)
    assert set(debris.flagged_codes) == {"debris", "blocked", "power_line_down", "flooded", "damaged"}
    assert debris.status("power_line_down").service == "TREE_DOWN"
    assert debris.status("debris").attributes == {"DEBRIS_TYPE": ["vegetative"]}
    assert sweep_type("damage_assessment").status("destroyed").severity == 3
    shelters = layer("shelters")
    assert (shelters.source, shelters.geometry, shelters.file) == ("file", "point", "gis/shelters.geojson")
    assert shelters.popup == ("NAME", "ADDRESS", "CAPACITY", "STATUS")
    assert "EOC viewer" in shelters.roles
