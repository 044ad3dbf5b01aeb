"""The ``[fema]`` config as an IT admin writes it: the demo city's is valid, each mistake is one line naming the key."""
from __future__ import annotations

import pytest

from core.config import load_city_config
from tests.conftest import DEMO_CONFIG
from tests.fixtures import city_config

SECTION = '''[fema]
applicant = "City of Palm Coast"
applicant_pa_id = "035-53150-00"
emergency_services = ["STORM_DEBRIS", "TREE_DOWN", "STORM_FLOOD", "STORM_DAMAGE"]
certifier = { name = "Finance Director", title = "Director of Financial Services" }
'''


def fema_problems(tmp_path, replace: dict[str, str]):
    from plugins.fema.settings import problems

    text = DEMO_CONFIG.read_text()
    start = text.index("[fema]")
    end = text.index("[plugins]", start)
    section = SECTION
    for old, new in replace.items():
        assert old in section
        section = section.replace(old, new, 1)
    path = city_config(tmp_path, ["i18n", "intake", "knowledge", "fieldservice", "fema"],
                       replace={text[start:end]: section + "\n"})
    return [(p.key, p.message) for p in problems(load_city_config(path))]


def test_the_demo_citys_fema_section_is_valid():
    from plugins.fema.settings import problems

    assert problems(load_city_config(DEMO_CONFIG)) == []


MISTAKES = {
    "pa-id": ({'"035-53150-00"': '"03553150"'}, "fema.applicant_pa_id", "XXX-XXXXX-XX"),
    "unknown-service": ({'"TREE_DOWN"': '"TREES"'}, "fema.emergency_services", "unknown service 'TREES'"),
    "services-not-a-list": ({'["STORM_DEBRIS", "TREE_DOWN", "STORM_FLOOD", "STORM_DAMAGE"]': '"STORM_DEBRIS"'},
                            "fema.emergency_services", "must be a list"),
    "missing-profiles-dir": ({'applicant = "City of Palm Coast"': 'applicant = "City of Palm Coast"\nprofiles_dir = "fema-profiles"'},
                             "fema.profiles_dir", "no such folder: fema-profiles"),
    "certifier-without-title": ({', title = "Director of Financial Services"': ""}, "fema.certifier.title", "is required"),
    "unknown-key": ({'applicant = ': 'aplicant = "x"\napplicant = '}, "fema.aplicant", "unknown key"),
}


@pytest.mark.parametrize("replace,key,message", MISTAKES.values(), ids=MISTAKES.keys())
def test_admin_sees_one_line_per_fema_mistake(replace, key, message, tmp_path):
    found = fema_problems(tmp_path, replace)
    assert len(found) == 1, found
    assert found[0][0] == key and message in found[0][1], found


def test_an_existing_profiles_folder_is_accepted(tmp_path):
    (tmp_path / "fema-profiles").mkdir()
    assert fema_problems(tmp_path, {'applicant = "City of Palm Coast"': 'applicant = "City of Palm Coast"\nprofiles_dir = "fema-profiles"'}) == []


WITH_PROFILES = {'applicant = "City of Palm Coast"': 'applicant = "City of Palm Coast"\nprofiles_dir = "fema-profiles"'}


def city_profile(tmp_path, name: str, text: str):
    folder = tmp_path / "fema-profiles"
    folder.mkdir(exist_ok=True)
    (folder / name).write_text(text, encoding="utf-8")


def test_a_city_profile_with_a_wrong_key_is_named_at_start_up_with_its_file_and_key(tmp_path):
    from plugins.fema.profiles import BUILTIN_DIR

    labor = (BUILTIN_DIR / "labor-123-2009.toml").read_text(encoding="utf-8")
    assert 'kind = "person_week"' in labor
    city_profile(tmp_path, "labor-city.toml", labor.replace('id = "labor-123-2009"', 'id = "labor-city"')
                 .replace('kind = "person_week"', 'kind = "person_month"'))
    found = fema_problems(tmp_path, WITH_PROFILES)
    assert len(found) == 1, found
    key, message = found[0]
    assert key == "fema.profiles_dir"
    assert "labor-city.toml" in message and "key 'grouping.kind'" in message and "person_month" in message


def test_a_profile_file_that_is_not_toml_stops_the_app_from_starting_with_one_line(tmp_path):
    from core.config import ConfigError
    from tests.conftest import build_app

    city_profile(tmp_path, "broken.toml", "id = \"broken\"\nform = [labor\n")
    found = fema_problems(tmp_path, WITH_PROFILES)
    assert [(k, "broken.toml" in m and "not valid TOML" in m) for k, m in found] == [("fema.profiles_dir", True)]
    with pytest.raises(ConfigError) as raised:
        build_app(f"sqlite:///{tmp_path / 'civic.db'}", tmp_path / "city.toml")
    lines = [line for line in str(raised.value).splitlines() if "broken.toml" in line]
    assert len(lines) == 1 and "fema.profiles_dir" in lines[0], str(raised.value)


def test_a_profile_with_a_table_where_a_list_belongs_is_a_config_problem_not_a_crash(tmp_path):
    from plugins.fema.profiles import BUILTIN_DIR

    labor = (BUILTIN_DIR / "labor-123-2009.toml").read_text(encoding="utf-8")
    city_profile(tmp_path, "odd.toml", labor.replace('id = "labor-123-2009"', 'id = "odd"')
                 .replace('row_labels = { regular = "REG.", overtime = "O.T." }', 'row_labels = ["REG.", "O.T."]'))
    found = fema_problems(tmp_path, WITH_PROFILES)
    assert len(found) == 1 and found[0][0] == "fema.profiles_dir" and "odd.toml" in found[0][1], found
