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
