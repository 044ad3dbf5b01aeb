"""Export profiles are data: shipped TOML files, validated with errors that name the file and the key, chosen
by the disaster's declaration date unless an edition is asked for, and overridable by the city."""
from __future__ import annotations

from datetime import date, datetime
from types import SimpleNamespace

import pytest

from plugins.fema import profiles
from plugins.fema.profiles import ProfileError, choose_profile, load_profiles, parse_profile


def disaster(declared=None, editions=None, begun=None):
    return SimpleNamespace(declaration_date=declared, profile_editions=editions or {}, incident_begin=begun,
                           started_at=datetime(2024, 10, 7, 12, 0), created_at=datetime(2024, 10, 7, 12, 0))


def test_every_shipped_profile_loads_and_every_form_of_the_issue_has_one():
    shipped = load_profiles()
    assert {p.form for p in shipped.values()} == {"labor", "equipment", "materials", "rentals", "contracts",
                                                  "damage_inventory", "load_tickets"}
    assert {p.edition for p in shipped.values() if p.form == "labor"} == {"1998", "2009"}
    labor = shipped["labor-123-2009"]
    assert labor.form_numbers == ("FEMA Form 009-0-123",)
    assert labor.grouping == "person_week" and labor.totals_by_kind


def test_hurricane_dorian_2019_takes_the_2009_labor_form_and_a_2005_storm_the_1998_one():
    shipped = load_profiles()
    assert choose_profile(shipped, "labor", disaster(date(2019, 10, 22))).id == "labor-123-2009"
    assert choose_profile(shipped, "labor", disaster(date(2005, 9, 1))).id == "labor-123-1998"
    assert choose_profile(shipped, "labor", disaster(date(2009, 6, 30))).id == "labor-123-1998"
    assert choose_profile(shipped, "labor", disaster(date(2009, 7, 1))).id == "labor-123-2009"
    # not declared yet: the day the event began picks it
    assert choose_profile(shipped, "labor", disaster(None)).id == "labor-123-2009"


def test_coordinator_overrides_the_edition_for_one_export_or_for_the_disaster():
    shipped = load_profiles()
    dorian = disaster(date(2019, 10, 22))
    assert choose_profile(shipped, "labor", dorian, edition="1998").id == "labor-123-1998"
    assert choose_profile(shipped, "labor", disaster(date(2019, 10, 22), {"labor": "1998"})).id == "labor-123-1998"
    with pytest.raises(ProfileError, match="no profile of edition 1977"):
        choose_profile(shipped, "labor", dorian, edition="1977")
    with pytest.raises(ProfileError, match="no profile in effect on 1990-01-01"):
        choose_profile(shipped, "labor", disaster(date(1990, 1, 1)))


def test_the_two_labor_editions_differ_only_in_their_header_wording():
    shipped = load_profiles()
    old, new = shipped["labor-123-1998"], shipped["labor-123-2009"]
    assert [f.label for f in old.header][:3] == ["APPLICANT", "PW #", "DISASTER NUMBER"]
    assert [f.label for f in new.header][:4] == ["APPLICANT", "PA ID NO.", "PROJECT NO.", "DISASTER"]
    assert old.columns == new.columns


GOOD = (profiles.BUILTIN_DIR / "materials-124-2009.toml").read_text()


def test_a_profile_with_an_unknown_source_is_refused_naming_file_and_key(tmp_path):
    bad = tmp_path / "materials-x.toml"
    bad.write_text(GOOD.replace('source = "material.vendor"', 'source = "__import__(\'os\')"'))
    with pytest.raises(ProfileError) as err:
        load_profiles(tmp_path)
    message = str(err.value)
    assert str(bad) in message and "columns[0].source" in message and "unknown source" in message
    assert "\n" not in message


def test_a_profile_missing_a_key_is_refused_naming_file_and_key(tmp_path):
    with pytest.raises(ProfileError, match=r"m\.toml: missing key 'form_numbers'"):
        parse_profile(GOOD.replace('form_numbers = ["FEMA Form 009-0-124"]', ""), "m.toml")
    with pytest.raises(ProfileError, match=r"m\.toml: key 'totals.columns': 'material.vendor' is not a numeric column"):
        parse_profile(GOOD.replace('columns = ["cost.total"]', 'columns = ["material.vendor"]'), "m.toml")
    with pytest.raises(ProfileError, match=r"m\.toml: key 'form': unknown form 'payroll'"):
        parse_profile(GOOD.replace('form = "materials"', 'form = "payroll"'), "m.toml")
    with pytest.raises(ProfileError, match=r"m\.toml: not valid TOML"):
        parse_profile("id = ", "m.toml")


def test_a_city_overrides_a_shipped_profile_and_adds_a_new_edition(tmp_path):
    (tmp_path / "labor.toml").write_text(
        (profiles.BUILTIN_DIR / "labor-123-2009.toml").read_text().replace(
            'title = "FORCE ACCOUNT LABOR SUMMARY RECORD"', 'title = "PALM COAST LABOR RECORD"'))
    (tmp_path / "labor-2025.toml").write_text(
        (profiles.BUILTIN_DIR / "labor-123-2009.toml").read_text()
        .replace('id = "labor-123-2009"', 'id = "labor-123-2025"').replace('edition = "2009"', 'edition = "2025"')
        .replace("effective_from = 2009-07-01", "effective_from = 2025-01-06"))
    merged = load_profiles(tmp_path)
    assert merged["labor-123-2009"].title == "PALM COAST LABOR RECORD"
    assert merged["labor-123-2009"].path == str(tmp_path / "labor.toml")
    assert choose_profile(merged, "labor", disaster(date(2025, 3, 1))).id == "labor-123-2025"
    assert choose_profile(merged, "labor", disaster(date(2024, 10, 9))).id == "labor-123-2009"
