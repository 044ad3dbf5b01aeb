"""FEMA equipment rate schedules: importing FEMA's drifting CSV files, choosing the schedule of a disaster,
reading the rates on the staff screen.

The session's database is shared with other test files: every schedule here gets an edition of its own whose
year lies far in the future, so no other test's disaster ever falls into it.
"""
from __future__ import annotations

import hashlib
import itertools
import random
import uuid
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import delete, func, select

from tests.conftest import PASSWORD, login

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "fema"
RATES_2019 = FIXTURES / "rates-2019.csv"
RATES_2025 = FIXTURES / "rates-2025.csv"
_YEARS = itertools.count(random.randrange(2200, 2800, 10))


def far_year() -> int:
    """A year no other test's schedule or disaster uses."""
    return next(_YEARS)


def edition_of(year: int) -> str:
    return f"{year}-{uuid.uuid4().hex[:4]}"


def rates_of(session, edition: str) -> dict:
    from plugins.fema.models import EquipmentRate, RateSchedule

    stmt = select(EquipmentRate).join(RateSchedule, RateSchedule.id == EquipmentRate.schedule_id).where(RateSchedule.edition == edition)
    return {r.code: r for r in session.scalars(stmt)}


def make_disaster(session, **fields):
    from plugins.fema.models import Disaster

    tag = uuid.uuid4().hex[:8]
    disaster = Disaster(tag=f"rates-{tag}", title=f"Storm {tag}", **fields)
    session.add(disaster)
    session.commit()
    return disaster


def test_coordinator_imports_the_2019_schedule_despite_its_header_drift(session):
    from plugins.fema.models import RateSchedule
    from plugins.fema.rates import import_rates

    year = far_year()
    edition = edition_of(year)
    report = import_rates(session, RATES_2019, edition)

    assert report.imported == 20 and report.replaced == 0
    assert report.skipped == [(18, "no cost code (Generator over 1000 kW)")]
    schedule = session.scalar(select(RateSchedule).where(RateSchedule.edition == edition))
    assert schedule.effective_from == date(year, 1, 1)  # 1 January of the edition's year by default
    assert schedule.source_name == "rates-2019.csv"
    assert schedule.sha256 == hashlib.sha256(RATES_2019.read_bytes()).hexdigest() == report.sha256
    rates = rates_of(session, edition)
    compressor = rates["8010"]
    assert (compressor.equipment, compressor.specification, compressor.capacity, compressor.horsepower) == (
        "Air Compressor", "Air Delivery", "41 CFM", "to 10")
    assert (compressor.rate, compressor.unit) == (Decimal("1.62"), "hour")
    assert (rates["8050"].rate, rates["8050"].unit) == (Decimal("0.58"), "mile")  # "MILE"
    assert rates["8100"].unit == "hour"  # "HOUR"
    assert rates["8141"].rate == Decimal("1010.00")  # "$1,010.00 "
    assert rates["8280"].rate is None and rates["8280"].notes.startswith("Contact FEMA")  # see note: the note kept


def test_the_2025_layout_with_a_manufacturer_column_reads_the_same(session):
    from plugins.fema.rates import import_rates

    edition = edition_of(far_year())
    report = import_rates(session, RATES_2025, edition, date(2999, 1, 6))

    assert report.imported == 19 and [line for line, _ in report.skipped] == [17]
    rates = rates_of(session, edition)
    assert (rates["8010"].rate, rates["8010"].unit, rates["8010"].specification) == (Decimal("1.90"), "hour", "Air Delivery")
    assert (rates["8051"].unit, rates["8280"].rate) == ("mile", None)  # "MILE", "See Note"


def test_importing_an_edition_again_replaces_it(session, tmp_path):
    from plugins.fema.models import RateSchedule
    from plugins.fema.rates import import_rates

    edition = edition_of(far_year())
    import_rates(session, RATES_2019, edition)
    smaller = tmp_path / "fixed.csv"
    smaller.write_text("Cost Code,Equipment ,Unit, 2019 Updated Rate \n8010,Air Compressor,hour,$1.70\n", encoding="utf-8")
    report = import_rates(session, smaller, edition, date(2999, 3, 1))

    assert (report.imported, report.replaced) == (1, 20)
    assert {code: r.rate for code, r in rates_of(session, edition).items()} == {"8010": Decimal("1.70")}
    schedules = session.scalars(select(RateSchedule).where(RateSchedule.edition == edition)).all()
    assert len(schedules) == 1 and schedules[0].effective_from == date(2999, 3, 1) and schedules[0].source_name == "fixed.csv"


def test_a_code_listed_twice_keeps_the_later_row_and_says_so(session, tmp_path):
    from plugins.fema.rates import import_rates

    edition = edition_of(far_year())
    path = tmp_path / "twice.csv"
    path.write_text("Title line of the schedule\n\n Cost Code , EQUIPMENT, Unit ,Rate\n"
                    "8010,Air Compressor,Hour,$1.62\n8010,Air Compressor,Hour,$1.75\n8020,Pump,Day,abc\n", encoding="cp1252")
    report = import_rates(session, path, edition)

    assert report.imported == 1
    assert report.skipped == [(4, "code 8010 appears again on line 5: the later row is kept"),
                              (6, "code 8020: rate is not a number: 'abc'")]
    assert rates_of(session, edition)["8010"].rate == Decimal("1.75")


@pytest.mark.parametrize("content, message", [
    (b"", "no header row"),
    (b"Name,Amount\nA,1\n", "no header row"),
    (b"Cost Code,Rate\n,$1\n", "no rate could be read"),
    (b"\xff\xfe\x00\x81\x8d", "not a text file"),
])
def test_an_unreadable_file_loads_nothing(session, tmp_path, content, message):
    from plugins.fema.models import RateSchedule
    from plugins.fema.rates import RateFileError, import_rates

    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    edition = edition_of(far_year())
    with pytest.raises(RateFileError, match=message):
        import_rates(session, path, edition)
    assert session.scalar(select(RateSchedule).where(RateSchedule.edition == edition)) is None


def test_cli_prints_what_it_skipped_and_fails_on_an_unreadable_file(app, tmp_path):
    from core.cli import cli

    year = far_year()
    edition = edition_of(year)
    runner = app.test_cli_runner()
    done = runner.invoke(cli, ["fema", "import-rates", str(RATES_2019), "--edition", edition, "--effective-from", f"{year}-02-01"])
    assert done.exit_code == 0, done.output
    assert "line 18: no cost code" in done.output
    assert f"edition {edition} (effective from {year}-02-01): 20 rates imported" in done.output

    missing = runner.invoke(cli, ["fema", "import-rates", str(tmp_path / "nope.csv"), "--edition", edition_of(far_year())])
    assert missing.exit_code == 1 and "cannot read the file" in missing.output


def test_the_schedule_in_effect_on_the_declaration_date_applies(session):
    from plugins.fema.rates import import_rates, rate_for, schedule_for

    year = far_year()
    older, newer = edition_of(year), edition_of(year)
    import_rates(session, RATES_2019, older, date(year, 1, 1))
    import_rates(session, RATES_2025, newer, date(year, 7, 1))

    before = make_disaster(session, number=f"DR-{uuid.uuid4().hex[:6]}", declaration_date=date(year, 6, 30))
    after = make_disaster(session, number=f"DR-{uuid.uuid4().hex[:6]}", declaration_date=date(year, 7, 1))
    undeclared = make_disaster(session, started_at=datetime(year, 8, 2, 14, 0))
    overridden = make_disaster(session, declaration_date=date(year, 8, 1), rate_edition=older)

    assert schedule_for(session, before).edition == older
    assert schedule_for(session, after).edition == newer
    assert schedule_for(session, undeclared).edition == newer  # the event's start while not declared
    assert schedule_for(session, overridden).edition == older
    assert rate_for(session, before, "8010") == (Decimal("1.62"), "hour")
    assert rate_for(session, after, " 8010 ") == (Decimal("1.90"), "hour")
    assert rate_for(session, after, "8050") == (Decimal("0.67"), "mile")
    assert rate_for(session, after, "8280") == (None, "hour")  # see note
    assert rate_for(session, after, "9999") is None
    assert rate_for(session, after, None) is None


def test_no_schedule_before_the_first_edition_or_for_a_missing_override(session):
    from plugins.fema.rates import rate_for, schedule_for

    ancient = make_disaster(session, declaration_date=date(1901, 1, 1))
    missing = make_disaster(session, declaration_date=date(2999, 1, 1), rate_edition=f"x{uuid.uuid4().hex[:8]}")
    assert schedule_for(session, ancient) is None and rate_for(session, ancient, "8010") is None
    assert schedule_for(session, missing) is None and rate_for(session, missing, "8010") is None


def test_demo_loads_the_sample_schedule_once(session):
    from plugins.fema.models import RateSchedule
    from plugins.fema.rates import load_sample_rates

    existed = session.scalar(select(RateSchedule.id).where(RateSchedule.edition == "2025")) is not None
    try:
        report = load_sample_rates(session)
        schedule = session.scalar(select(RateSchedule).where(RateSchedule.edition == "2025"))
        if not existed:
            assert report.imported > 10 and report.skipped == []
            assert schedule.effective_from == date(2025, 1, 1) and schedule.source_name == "rates-2025-sample.csv"
        assert load_sample_rates(session) is None
    finally:
        if not existed:  # leave the shared database as other tests expect it
            session.execute(delete(RateSchedule).where(RateSchedule.edition == "2025"))
            session.commit()


# ---------------------------------------------------------------- the screens

@pytest.fixture
def coordinator(app):
    from core.services.users import create_user

    with app.app_context():
        create_user("fema_rates_coordinator", PASSWORD, "FEMA coordinator")
    return login(app.test_client(), "fema_rates_coordinator")


def test_coordinator_lists_editions_and_searches_one_by_equipment(app, session, coordinator):
    from plugins.fema.rates import import_rates

    edition = edition_of(far_year())
    report = import_rates(session, RATES_2019, edition)

    listing = coordinator.get("/fema/rates/")
    assert listing.status_code == 200
    page = listing.get_data(as_text=True)
    assert f'data-edition="{edition}"' in page and report.sha256[:12] in page

    found = coordinator.get(f"/fema/rates/{edition}?q=chain")
    html = found.get_data(as_text=True)
    assert found.status_code == 200
    assert 'data-code="8090"' in html and 'data-code="8091"' in html and 'data-code="8010"' not in html
    by_code = coordinator.get(f"/fema/rates/{edition}?q=8010").get_data(as_text=True)
    assert 'data-code="8010"' in by_code and "$1.62" in by_code


def test_bad_search_arguments_are_refused_with_the_field_named(session, coordinator):
    from plugins.fema.rates import import_rates

    edition = edition_of(far_year())
    import_rates(session, RATES_2025, edition)
    bad_page = coordinator.get(f"/fema/rates/{edition}?page=-1")
    assert bad_page.status_code == 400 and "Page" in bad_page.get_data(as_text=True)
    assert coordinator.get(f"/fema/rates/{edition}?q=" + "x" * 101).status_code == 400
    assert coordinator.get(f"/fema/rates/{edition}?q=100%25_").status_code == 200  # LIKE wildcards are plain text
    assert coordinator.get("/fema/rates/no-such").status_code == 404


def test_dispatcher_reads_the_rates_and_department_staff_cannot(client_for):
    listing = client_for("dispatcher").get("/fema/rates/")
    assert listing.status_code == 200
    denied = client_for("pw_staff").get("/fema/rates/")
    assert denied.status_code == 403
    assert client_for(None).get("/fema/rates/").status_code in (302, 403)


def test_the_list_counts_rates_in_one_query(app, session):
    from plugins.fema.models import RateSchedule
    from plugins.fema.rate_screens import schedules_with_counts
    from plugins.fema.rates import import_rates
    from tests.conftest import recorded_sql

    edition = edition_of(far_year())
    import_rates(session, RATES_2019, edition)
    with recorded_sql(app) as statements:
        counts = {s.edition: n for s, n in schedules_with_counts(session)}
    assert counts[edition] == 20 and len(counts) == session.scalar(select(func.count()).select_from(RateSchedule))
    assert len([s for s in statements if s.upper().startswith("SELECT")]) == 1
