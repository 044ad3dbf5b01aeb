"""FEMA exports: the labor record grouped person x week with regular and overtime rows and totals (checked by
hand), the two editions' header wording, equipment with and without a rate, formula injection neutralised in
CSV and XLSX, the export log and its reproduction, the CLI and the staff screen."""
from __future__ import annotations

import csv
import re
import uuid
import zipfile
from datetime import date
from decimal import Decimal

import pytest
import sqlalchemy as sa

from tests.browser import browser, live_server  # noqa: F401
from tests.conftest import PASSWORD, csrf_token, login

INJECTION = '=HYPERLINK("http://evil.example","x")'


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def make_disaster(session, declared=date(2019, 10, 22), **extra):
    from plugins.fema.models import Disaster

    tag = unique("dorian")
    d = Disaster(tag=tag, title="Hurricane Dorian", number=f"DR-{uuid.uuid4().hex[:6]}", declaration_type="DR",
                 declaration_date=declared, incident_begin=date(2019, 8, 28), applicant_pa_id="035-22875-00", **extra)
    session.add(d)
    session.flush()
    return d


def employee(session, name, rate, ot_rate, fringe_reg, fringe_ot, title="Equipment Operator II"):
    from plugins.fema.models import Employee

    e = Employee(employee_number=unique("E"), name=name, job_title=title, hourly_rate=Decimal(rate),
                 overtime_multiplier=Decimal(ot_rate) / Decimal(rate), fringe_regular_pct=Decimal(fringe_reg),
                 fringe_overtime_pct=Decimal(fringe_ot))
    session.add(e)
    session.flush()
    return e


def work(session, disaster, person, day, regular, overtime, category="B"):
    from plugins.fema.models import LaborEntry

    session.add(LaborEntry(disaster_id=disaster.id, employee_id=person.id, work_date=day, category=category,
                           regular_hours=Decimal(regular), overtime_hours=Decimal(overtime), hourly_rate=person.hourly_rate,
                           overtime_rate=person.hourly_rate * person.overtime_multiplier, fringe_regular_pct=person.fringe_regular_pct,
                           fringe_overtime_pct=person.fringe_overtime_pct))


def labor_story(session):
    """Two people, two weeks of Hurricane Dorian: the numbers of the tests below are worked out by hand."""
    d = make_disaster(session)
    maria = employee(session, "Alvarez, Maria", "20.00", "30.00", "30", "10", title=INJECTION)
    sam = employee(session, "Brown, Sam", "25.00", "37.50", "0", "0", title="Laborer")
    work(session, d, maria, date(2019, 9, 2), 8, 3)   # Monday
    work(session, d, maria, date(2019, 9, 3), 8, 4)   # Tuesday
    work(session, d, maria, date(2019, 9, 4), 4, 0)   # Wednesday, two entries: 8 h in all
    work(session, d, maria, date(2019, 9, 4), 4, 0)
    work(session, d, maria, date(2019, 9, 9), 8, 2)   # Monday of the next week
    work(session, d, sam, date(2019, 9, 3), 0, 10)
    session.commit()
    return d


def export(session, disaster, tmp_path, form="labor", fmt="csv", **params):
    from plugins.fema import exporter, profiles

    settings = {"applicant": "City of Palm Coast", "applicant_pa_id": "035-22875-00",
                "certifier": {"name": "Jane Doe", "title": "Finance Director"}}
    path = tmp_path / f"{unique(form)}.{fmt}"
    record, plan = exporter.run_export(session, disaster, exporter.Params(form, fmt, **params), path, "tester",
                                       profiles.load_profiles(), settings)
    return record, plan, path


def read_csv(path):
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.reader(fh))


def data_rows(lines, first_label):
    start = next(i for i, line in enumerate(lines) if line and line[0] == first_label)
    return lines[start], lines[start + 1:]


def test_labor_record_has_a_regular_and_an_overtime_row_per_person_and_week_with_totals(session, tmp_path):
    d = labor_story(session)
    record, plan, path = export(session, d, tmp_path)
    header, body = data_rows(read_csv(path), "NAME")
    col = {label: i for i, label in enumerate(header)}
    rows = [r for r in body if r and r[0] in ("Alvarez, Maria", "Brown, Sam")]
    got = [(r[0], r[col["REG/OT"]], r[col["WEEK FROM"]], r[col["TOTAL HOURS"]], r[col["HOURLY RATE"]],
            r[col["BENEFIT RATE/HR"]], r[col["TOTAL HOURLY RATE"]], r[col["TOTAL COSTS"]]) for r in rows]
    assert got == [
        ("Alvarez, Maria", "REG.", "2019-09-02", "24.00", "20.00", "6.00", "26.00", "624.00"),   # 24 x 26.00
        ("Alvarez, Maria", "O.T.", "2019-09-02", "7.00", "30.00", "3.00", "33.00", "231.00"),    # 7 x 33.00
        ("Alvarez, Maria", "REG.", "2019-09-09", "8.00", "20.00", "6.00", "26.00", "208.00"),
        ("Alvarez, Maria", "O.T.", "2019-09-09", "2.00", "30.00", "3.00", "33.00", "66.00"),
        ("Brown, Sam", "REG.", "2019-09-02", "0.00", "25.00", "0.00", "25.00", "0.00"),
        ("Brown, Sam", "O.T.", "2019-09-02", "10.00", "37.50", "0.00", "37.50", "375.00"),
    ]
    first = rows[0]
    assert [first[col[d]] for d in ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")] == ["8.00", "8.00", "8.00", "", "", "", ""]
    totals = {r[0]: (r[col["TOTAL HOURS"]], r[col["TOTAL COSTS"]]) for r in body if r and r[0].startswith(("TOTAL", "GRAND"))}
    assert totals == {"TOTAL REGULAR": ("32.00", "832.00"), "TOTAL OVERTIME": ("19.00", "672.00"),
                      "GRAND TOTAL": ("51.00", "1504.00")}
    assert record.row_count == 6 and record.profile == "labor-123-2009"


def test_header_and_certification_blocks_follow_the_edition(session, tmp_path):
    d = labor_story(session)
    _, _, new = export(session, d, tmp_path)
    _, _, old = export(session, d, tmp_path, edition="1998")
    new_lines, old_lines = read_csv(new), read_csv(old)
    new_labels = [line[0] for line in new_lines[:10] if line]
    old_labels = [line[0] for line in old_lines[:10] if line]
    assert "PA ID NO." in new_labels and "PROJECT NO." in new_labels and "DISASTER" in new_labels
    assert "PW #" in old_labels and "DISASTER NUMBER" in old_labels and "PA ID NO." not in old_labels
    assert ["DISASTER", d.number] in new_lines and ["DISASTER NUMBER", d.number] in old_lines
    assert ["PERIOD COVERING FROM", "2019-09-02"] in new_lines and ["PERIOD COVERING TO", "2019-09-09"] in new_lines
    assert ["CERTIFIED BY", "Jane Doe"] in new_lines and ["TITLE", "Finance Director"] in new_lines


def test_a_job_title_that_looks_like_a_formula_stays_text_in_csv_and_xlsx(session, tmp_path):
    d = labor_story(session)
    _, _, path = export(session, d, tmp_path)
    header, body = data_rows(read_csv(path), "NAME")
    assert body[0][1] == "'" + INJECTION
    _, _, xlsx = export(session, d, tmp_path, fmt="xlsx")
    with zipfile.ZipFile(xlsx) as z:
        sheet = z.read("xl/worksheets/sheet1.xml").decode()
        strings = z.read("xl/sharedStrings.xml").decode() if "xl/sharedStrings.xml" in z.namelist() else sheet
    assert "<f>" not in sheet, "no cell of the export is a formula"
    assert "HYPERLINK(&quot;http://evil.example&quot;" in strings or 'HYPERLINK("http://evil.example"' in strings
    assert re.search(r'<c r="[A-Z]+\d+"[^>]*><v>1504</v></c>', sheet), "money is a number in XLSX"


def rate_schedule(session, rates):
    from plugins.fema.models import EquipmentRate, RateSchedule

    schedule = RateSchedule(edition=uuid.uuid4().hex[:8], effective_from=date(2019, 1, 1), source_name="test",
                            sha256="ab" * 32)
    session.add(schedule)
    session.flush()
    for code, rate in rates.items():
        session.add(EquipmentRate(schedule_id=schedule.id, code=code, equipment="x", rate=rate, unit="hour"))
    session.flush()
    return schedule


def test_equipment_is_priced_from_the_schedule_and_a_unit_without_a_rate_is_left_empty(session, tmp_path):
    from plugins.fema.models import Equipment, EquipmentEntry

    code = str(uuid.uuid4().int)[:6]
    schedule = rate_schedule(session, {code: Decimal("1.62")})
    d = make_disaster(session, rate_edition=schedule.edition)
    operator = employee(session, "Cruz, Ana", "20", "30", "0", "0")
    priced = Equipment(unit_number=unique("U"), description="Air compressor", size_capacity="41 CFM", horsepower="10",
                       make_model="Sullair 185", fema_code=code)
    unpriced = Equipment(unit_number=unique("V"), description="Chipper", fema_code="NOPE")
    session.add_all([priced, unpriced])
    session.flush()
    for unit, hours, standby in ((priced, "6.5", "2"), (unpriced, "3", "0")):
        session.add(EquipmentEntry(disaster_id=d.id, equipment_id=unit.id, operator_id=operator.id, work_date=date(2019, 9, 2),
                                   category="A", hours_used=Decimal(hours), standby_hours=Decimal(standby)))
    session.commit()
    record, plan, path = export(session, d, tmp_path, form="equipment")
    header, body = data_rows(read_csv(path), "TYPE OF EQUIPMENT")
    col = {label: i for i, label in enumerate(header)}
    lines = {r[0]: r for r in body if r and r[0] in ("Air compressor", "Chipper")}
    compressor, chipper = lines["Air compressor"], lines["Chipper"]
    assert (compressor[col["TOTAL HOURS"]], compressor[col["EQUIPMENT RATE"]], compressor[col["TOTAL COST"]]) == ("6.50", "1.62", "10.53")
    assert compressor[col["OPERATOR'S NAME"]] == "Cruz, Ana"
    assert (chipper[col["EQUIPMENT RATE"]], chipper[col["TOTAL COST"]]) == ("", "")
    assert plan.missing_rates == 1
    grand = next(r for r in body if r and r[0] == "GRAND TOTAL")
    assert grand[col["TOTAL COST"]] == "10.53" and grand[col["TOTAL HOURS"]] == "9.50"
    assert (record.rate_edition, record.rate_sha256) == (schedule.edition, "ab" * 32)


def test_every_export_is_logged_and_reproduces_to_the_same_bytes(session, tmp_path):
    from plugins.fema import exporter, profiles

    d = labor_story(session)
    for fmt in ("csv", "xlsx"):
        record, plan, path = export(session, d, tmp_path, fmt=fmt, category="B")
        assert record.id and record.created_by == "tester" and record.file_format == fmt
        assert record.profile_sha256 == profiles.load_profiles()["labor-123-2009"].sha256
        assert record.parameters["category"] == "B" and record.row_count == 6
        assert record.file_sha256 == exporter.file_sha256(path)
        again = exporter.reproduce(session, record, tmp_path / f"again.{fmt}")
        assert again.matches, again.notes
        assert (tmp_path / f"again.{fmt}").read_bytes() == path.read_bytes()


def test_other_forms_export_one_row_per_record(session, tmp_path):
    from plugins.fema.models import ContractEntry, LoadTicket, MaterialEntry, RentalEntry, Site, TruckCertification

    d = make_disaster(session)
    site = Site(disaster_id=d.id, name="Lehigh Trail bridge", category="C", address="Lehigh Trail", cost_estimate=Decimal("12500"))
    session.add(site)
    session.flush()
    session.add_all([
        MaterialEntry(disaster_id=d.id, site_id=site.id, work_date=date(2019, 9, 3), category="C", vendor="Home Depot",
                      item="-1 sandbags", quantity=Decimal("12.5"), unit_price=Decimal("3.999")),
        RentalEntry(disaster_id=d.id, work_date=date(2019, 9, 3), category="A", vendor="Sunbelt", equipment_type="Loader",
                    hours_used=Decimal("10"), rate=Decimal("95.50")),
        ContractEntry(disaster_id=d.id, work_date=date(2019, 9, 3), category="A", contractor="Ceres", cost_billed=Decimal("125000")),
    ])
    truck = TruckCertification(disaster_id=d.id, truck_number="T-17", plate="FL ABC123", capacity_cy=Decimal("40.0"))
    session.add(truck)
    session.flush()
    session.add(LoadTicket(disaster_id=d.id, work_date=date(2019, 9, 4), category="A", ticket_number="000123", truck_id=truck.id,
                           load_call_pct=75, loading_location="Palm Coast Pkwy & Belle Terre", loading_monitor="R. Diaz"))
    session.commit()
    expected = {"materials": ("DESCRIPTION", "'-1 sandbags", "COST", "49.99"), "rentals": ("VENDOR", "Sunbelt", "TOTAL COST", "955.00"),
                "contracts": ("CONTRACTOR", "Ceres", "COST BILLED", "125000.00"),
                "damage_inventory": ("Name of Site/Facility", "Lehigh Trail bridge", "Approximate Cost", "12500.00"),
                "load_tickets": ("TICKET NO.", "000123", "QUANTITY (CY)", "30.0")}  # 40 cy x 75 % load call
    for form, (label, value, money_label, money) in expected.items():
        record, _, path = export(session, d, tmp_path, form=form)
        lines = read_csv(path)
        start = next(i for i, line in enumerate(lines) if label in line)
        header, body = lines[start], lines[start + 1:]
        row = body[0]
        assert row[header.index(label)] == value and row[header.index(money_label)] == money, form
        assert record.row_count == 1, form


def test_bad_requests_name_the_field(session):
    from plugins.fema import exporter, profiles

    d = make_disaster(session, declared=date(1990, 1, 1))
    cases = [(exporter.Params("labor", "docx"), "format"), (exporter.Params("labor", category="Q"), "category"),
             (exporter.Params("payroll"), "form"), (exporter.Params("labor", edition="1977"), "edition"),
             (exporter.Params("labor"), "form"),  # 1990: no labor profile in effect
             (exporter.Params("labor", date_from=date(2019, 9, 9), date_to=date(2019, 9, 1)), "date_to")]
    for params, field in cases:
        with pytest.raises(exporter.ExportError) as err:
            exporter.plan_export(session, d, params, profiles.load_profiles(), {})
        assert err.value.field == field, params


# ---------------------------------------------------------------- command line


def run_cli(app, *args):
    from core.cli import cli

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FLASK_RUN_FROM_CLI", "false")
        return app.test_cli_runner().invoke(cli, ["fema", *args])


def test_coordinator_exports_lists_and_reproduces_from_the_command_line(app, tmp_path):
    from core.extensions import db

    with app.app_context():
        d = labor_story(db.session)
        number = d.number
        db.session.remove()
    out = tmp_path / "labor.xlsx"
    result = run_cli(app, "export", "--disaster", number, "--form", "labor", "--format", "xlsx", "-o", str(out))
    assert result.exit_code == 0, result.output
    assert "6 rows of labor with profile labor-123-2009" in result.output and out.exists()
    export_id = re.search(r"Export (\d+):", result.output).group(1)
    listing = run_cli(app, "exports", "--disaster", number)
    assert listing.exit_code == 0 and listing.output.startswith(f"{export_id}\t") and "labor-123-2009" in listing.output
    again = run_cli(app, "reproduce", export_id, "-o", str(tmp_path / "again.xlsx"))
    assert again.exit_code == 0 and "Checksum matches" in again.output, again.output

    with app.app_context():
        from plugins.fema.exporter import find_disaster

        d = find_disaster(db.session, number)
        work(db.session, d, employee(db.session, "Diaz, Leo", "18.00", "27.00", "0", "0"), date(2019, 9, 10), 8, 0)
        db.session.commit()
        db.session.remove()
    changed = run_cli(app, "reproduce", export_id, "-o", str(tmp_path / "later.xlsx"))
    assert changed.exit_code == 1 and "checksum differs" in changed.output and "the records changed since" in changed.output


def test_command_line_mistakes_get_one_clear_line(app, tmp_path):
    out = str(tmp_path / "x.csv")
    unknown = run_cli(app, "export", "--disaster", "DR-0000-NONE", "--form", "labor", "-o", out)
    assert unknown.exit_code == 1 and "no disaster with the number or tag DR-0000-NONE" in unknown.output
    bad_format = run_cli(app, "export", "--disaster", "x", "--form", "labor", "--format", "docx", "-o", out)
    assert bad_format.exit_code == 2
    from core.extensions import db

    with app.app_context():
        number = make_disaster(db.session).number
        db.session.commit()
    bad_form = run_cli(app, "export", "--disaster", number, "--form", "payroll", "-o", out)
    assert bad_form.exit_code == 1 and "--form: no export profile for the form payroll" in bad_form.output
    missing = run_cli(app, "reproduce", "99999999", "-o", out)
    assert missing.exit_code == 1 and "no export with the number 99999999" in missing.output


# ---------------------------------------------------------------- staff screen


@pytest.fixture
def coordinator(app):
    from core.services.users import create_user

    with app.app_context():
        create_user("fema_export_coordinator", PASSWORD, "FEMA coordinator", email="fema.export.coordinator@palmcoast.example.gov")
    return login(app.test_client(), "fema_export_coordinator")


def test_coordinator_downloads_an_export_from_the_screen_and_sees_it_logged(app, coordinator):
    from core.extensions import db

    with app.app_context():
        d = labor_story(db.session)
        disaster_id, number = d.id, d.number
    page = coordinator.get(f"/fema/exports/?disaster={disaster_id}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "labor-123-2009" in html and f"/fema/checklist/{disaster_id}" in html
    response = coordinator.post("/fema/exports/run", data={"csrf_token": csrf_token(html), "disaster": disaster_id,
                                                            "form": "labor", "format": "csv"})
    assert response.status_code == 200
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert f"{number}-labor-123-2009-" in response.headers["Content-Disposition"]
    assert "GRAND TOTAL" in response.get_data(as_text=True)
    response.close()
    listing = coordinator.get("/fema/exports/").get_data(as_text=True)
    assert re.search(r'<tr data-export="\d+">.*?fema_export_coordinator.*?labor-123-2009', listing, re.S)


def test_export_screen_refuses_bad_input_with_the_field_and_other_staff_with_403(app, coordinator, client_for):
    from core.extensions import db

    with app.app_context():
        disaster_id = make_disaster(db.session).id
        db.session.commit()
    token = csrf_token(coordinator.get("/fema/exports/").get_data(as_text=True))
    bad = coordinator.post("/fema/exports/run", data={"csrf_token": token, "disaster": disaster_id, "form": "payroll"})
    assert bad.status_code == 400 and "Form" in bad.get_data(as_text=True)
    bad = coordinator.post("/fema/exports/run", data={"csrf_token": token, "disaster": disaster_id, "form": "labor",
                                                      "format": "csv", "date_from": "yesterday"})
    assert bad.status_code == 400 and "From" in bad.get_data(as_text=True)
    assert coordinator.post("/fema/exports/run", data={"csrf_token": token, "disaster": "99999999", "form": "labor"}).status_code == 404
    assert coordinator.post("/fema/exports/run", data={"disaster": disaster_id, "form": "labor"}).status_code == 400  # no CSRF
    staff = client_for("pw_staff")
    assert staff.get("/fema/exports/").status_code == 403
    staff_token = csrf_token(staff.get("/resetmypassword/form").get_data(as_text=True))
    assert staff.post("/fema/exports/run", data={"csrf_token": staff_token, "disaster": disaster_id, "form": "labor"}).status_code == 403
    dispatcher = client_for("dispatcher")
    assert dispatcher.get("/fema/exports/").status_code == 200
    assert "fema-export-form" not in dispatcher.get("/fema/exports/").get_data(as_text=True)
    dispatcher_token = csrf_token(dispatcher.get("/resetmypassword/form").get_data(as_text=True))
    assert dispatcher.post("/fema/exports/run", data={"csrf_token": dispatcher_token, "disaster": disaster_id,
                                                       "form": "labor"}).status_code == 403


def test_a_large_export_streams_without_holding_the_records_in_memory(session, tmp_path):
    import tracemalloc

    from plugins.fema.models import MaterialEntry

    d = make_disaster(session)
    session.execute(sa.insert(MaterialEntry), [
        {"disaster_id": d.id, "work_date": date(2019, 9, 1 + i % 28), "category": "B", "vendor": "Ace Hardware",
         "item": f"sandbag lot {i}", "quantity": Decimal("2"), "unit_price": Decimal("1.25"), "description": ""}
        for i in range(20_000)])  # 50,000 in bench terms; 20,000 keeps the test quick
    session.commit()
    tracemalloc.start()
    try:
        record, _, path = export(session, d, tmp_path, form="materials")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert record.row_count == 20_000
    total = next(r for r in read_csv(path) if r and r[0] == "TOTAL")
    assert "50000.00" in total  # 20,000 x 2 x 1.25
    assert peak < 8 * 1024 * 1024, f"peak {peak / 1e6:.1f} MB: the rows are not streamed"


def test_the_city_profiles_folder_is_read_relative_to_its_config_file(app):
    from plugins.fema import profiles

    with app.app_context():
        fema = app.extensions["civic"].plugin_config["fema"]
        assert profiles.city_profiles_dir() is None  # the demo city ships none
        saved = fema.get("profiles_dir")
        try:
            fema["profiles_dir"] = "../fema-profiles"
            config_dir = app.extensions["civic"].config.path.resolve().parent
            assert profiles.city_profiles_dir() == (config_dir.parent / "fema-profiles").resolve()
        finally:
            fema["profiles_dir"] = saved


def test_coordinator_exports_xlsx_in_a_real_browser(app, coordinator, live_server, browser):
    from core.extensions import db
    from tests.browser import sign_in

    with app.app_context():
        d = labor_story(db.session)
        disaster_id, number = d.id, d.number
    page = browser.new_page()
    try:
        sign_in(page, live_server, "fema_export_coordinator", PASSWORD)
        page.goto(f"{live_server}/fema/exports/?disaster={disaster_id}")
        page.select_option("#fema-export-form-name", "labor")
        page.select_option("#fema-export-format", "xlsx")
        page.select_option("#fema-export-edition", "1998")
        with page.expect_download() as info:
            page.click("#fema-export-form button[type=submit]")
        download = info.value
        assert download.suggested_filename.startswith(f"{number}-labor-123-1998-")
        assert download.suggested_filename.endswith(".xlsx")
        with zipfile.ZipFile(download.path()) as z:
            assert "DISASTER NUMBER" in z.read("xl/worksheets/sheet1.xml").decode()
    finally:
        page.close()
