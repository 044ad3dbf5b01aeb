"""The FEMA PDF package: cover, summary of totals per form and category (from SQL), one page per site with its
photos embedded, certification; logged like the other exports, reproducible to the same bytes, from the command
line and the Exports screen."""
from __future__ import annotations

import io
import re
import uuid
from datetime import date, datetime
from decimal import Decimal

from tests.conftest import csrf_token
from tests.plugins.fema.test_export import coordinator, employee, export, make_disaster, run_cli, unique, work  # noqa: F401


def photo_bytes(fmt: str = "PNG", color=(200, 30, 30)) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (64, 48), color).save(out, fmt)
    return out.getvalue()


def add_photo(session, site, fmt="PNG", caption=""):
    from core.services.attachments import store_file
    from plugins.fema.models import SitePhoto

    stored = store_file(io.BytesIO(photo_bytes(fmt)), f"site.{fmt.lower()}", None)
    session.add(SitePhoto(site_id=site.id, stored_name=stored.stored_name, content_type=stored.content_type, size=stored.size,
                          sha256=stored.sha256, caption=caption))


def disaster_with_costs(session):
    """Hurricane Dorian with a bit of every kind of record on two sites (one with two photos, one with none)."""
    from plugins.fema.models import ContractEntry, LoadTicket, MaterialEntry, RentalEntry, Site, TruckCertification

    d = make_disaster(session)
    bridge = Site(disaster_id=d.id, name="Lehigh Trail bridge", category="C", address="Lehigh Trail",
                  damage_description="Washout of the east abutment", cause="flood", cost_estimate=Decimal("12500"))
    park = Site(disaster_id=d.id, name="Holland Park", category="G", address="18 Park View Dr")
    session.add_all([bridge, park])
    session.flush()
    add_photo(session, bridge, "PNG", "East abutment")
    add_photo(session, bridge, "JPEG", "From the trail")
    maria = employee(session, "Alvarez, Maria", "20.00", "30.00", "30", "10")
    work(session, d, maria, date(2019, 9, 2), 8, 3)  # regular 8 x 26.00 = 208.00; overtime 3 x 33.00 = 99.00
    work(session, d, maria, date(2019, 9, 3), 8, 0, category="A")  # regular 208.00 on A
    truck = TruckCertification(disaster_id=d.id, truck_number="T-17", plate="FL ABC123", capacity_cy=Decimal("40.0"))
    session.add(truck)
    session.flush()
    session.add_all([
        MaterialEntry(disaster_id=d.id, site_id=bridge.id, work_date=date(2019, 9, 3), category="C", item="Sandbags",
                      quantity=Decimal("12.5"), unit_price=Decimal("4.00")),
        RentalEntry(disaster_id=d.id, work_date=date(2019, 9, 3), category="A", vendor="Sunbelt", equipment_type="Loader",
                    hours_used=Decimal("10"), rate=Decimal("95.50")),
        ContractEntry(disaster_id=d.id, work_date=date(2019, 9, 3), category="A", contractor="Ceres", cost_billed=Decimal("125000")),
        LoadTicket(disaster_id=d.id, work_date=date(2019, 9, 4), category="A", ticket_number="000123", truck_id=truck.id,
                   load_call_pct=75),
        LoadTicket(disaster_id=d.id, work_date=date(2019, 9, 4), category="A", ticket_number="000124", truck_id=truck.id,
                   load_call_pct=120),  # a load call never raises the certified capacity
    ])
    session.commit()
    return d


def test_package_has_a_cover_a_summary_a_page_per_site_with_its_photos_and_the_certification(session, tmp_path):
    from plugins.fema import exporter, pdf_package

    d = disaster_with_costs(session)
    record, plan, path = export(session, d, tmp_path, form="damage_inventory", fmt="pdf")
    data = path.read_bytes()
    assert data.startswith(b"%PDF")
    assert (record.file_format, record.row_count, record.file_sha256) == ("pdf", 2, exporter.file_sha256(path))
    assert len(re.findall(rb"/Subtype\s*/Image", data)) == 2

    body, info = pdf_package.build_package(session, plan, record.created_at)
    assert body == data
    assert info["sites"] == 2 and info["photos"] == 2 and info["pages"] >= 2 + 2 + 1
    totals = info["totals"]
    assert totals["labor_regular"] == {"A": Decimal("208.00"), "B": Decimal("208.00"), "total": Decimal("416.00")}
    assert totals["labor_overtime"] == {"B": Decimal("99.00"), "total": Decimal("99.00")}
    assert totals["materials"] == {"C": Decimal("50.00"), "total": Decimal("50.00")}
    assert totals["rentals"]["A"] == Decimal("955.00") and totals["contracts"]["A"] == Decimal("125000.00")
    assert totals["load_tickets_cy"] == {"A": Decimal("70.0"), "total": Decimal("70.0")}  # 30 + 40 (capped at 100 %)
    assert totals["equipment"] == {"total": Decimal("0.00")}


def test_the_summary_follows_the_category_filter_and_prices_equipment_from_the_schedule(session, tmp_path):
    from plugins.fema import pdf_package
    from plugins.fema.models import Equipment, EquipmentEntry, EquipmentRate, RateSchedule

    code = str(uuid.uuid4().int)[:6]
    schedule = RateSchedule(edition=unique("r")[:10], effective_from=date(2019, 1, 1), sha256="cd" * 32)
    session.add(schedule)
    session.flush()
    session.add(EquipmentRate(schedule_id=schedule.id, code=code, rate=Decimal("1.62"), unit="hour"))
    d = disaster_with_costs(session)
    d.rate_edition = schedule.edition
    unit = Equipment(unit_number=unique("U"), description="Air compressor", fema_code=code)
    unpriced = Equipment(unit_number=unique("V"), description="Chipper", fema_code="NOPE")
    session.add_all([unit, unpriced])
    session.flush()
    session.add_all([EquipmentEntry(disaster_id=d.id, equipment_id=unit.id, work_date=date(2019, 9, 2), category="A",
                                    hours_used=Decimal("6.5"), standby_hours=Decimal("2")),
                     EquipmentEntry(disaster_id=d.id, equipment_id=unpriced.id, work_date=date(2019, 9, 2), category="A",
                                    hours_used=Decimal("3"))])
    session.commit()
    record, plan, _ = export(session, d, tmp_path, form="damage_inventory", fmt="pdf", category="C")
    assert record.rate_edition == schedule.edition and record.row_count == 1  # only the bridge is category C
    _, info = pdf_package.build_package(session, plan, record.created_at)
    assert info["totals"]["equipment"] == {"total": Decimal("0.00")}  # equipment is all category A
    assert info["totals"]["materials"]["total"] == Decimal("50.00") and info["totals"]["contracts"]["total"] == Decimal("0.00")
    _, everything = export(session, d, tmp_path, form="damage_inventory", fmt="pdf")[:2]
    _, info = pdf_package.build_package(session, everything, datetime(2026, 1, 1))
    assert info["totals"]["equipment"] == {"A": Decimal("10.53"), "total": Decimal("10.53")}
    assert info["totals"]["missing_rates_hours"] == Decimal("3")


def test_a_pdf_export_reproduces_to_the_same_bytes(session, tmp_path):
    from plugins.fema import exporter

    d = disaster_with_costs(session)
    record, _, path = export(session, d, tmp_path, form="damage_inventory", fmt="pdf")
    again = exporter.reproduce(session, record, tmp_path / "again.pdf")
    assert again.matches, again.notes
    assert (tmp_path / "again.pdf").read_bytes() == path.read_bytes()


def test_coordinator_writes_the_pdf_package_from_the_command_line(app, tmp_path):
    from core.extensions import db

    with app.app_context():
        number = disaster_with_costs(db.session).number
        db.session.remove()
    out = tmp_path / "package.pdf"
    result = run_cli(app, "export", "--disaster", number, "--form", "damage_inventory", "--format", "pdf", "-o", str(out))
    assert result.exit_code == 0, result.output
    assert out.read_bytes().startswith(b"%PDF")
    export_id = re.search(r"Export (\d+):", result.output).group(1)
    again = run_cli(app, "reproduce", export_id, "-o", str(tmp_path / "again.pdf"))
    assert again.exit_code == 0 and "Checksum matches" in again.output, again.output
    wrong = run_cli(app, "export", "--disaster", number, "--form", "damage_inventory", "--format", "docx", "-o", str(out))
    assert wrong.exit_code == 2


def test_coordinator_downloads_the_pdf_package_from_the_exports_screen(app, coordinator):  # noqa: F811
    from core.extensions import db

    with app.app_context():
        disaster_id = disaster_with_costs(db.session).id
    page = coordinator.get(f"/fema/exports/?disaster={disaster_id}").get_data(as_text=True)
    assert 'value="pdf"' in page
    response = coordinator.post("/fema/exports/run", data={"csrf_token": csrf_token(page), "disaster": disaster_id,
                                                            "form": "damage_inventory", "format": "pdf"})
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert response.get_data().startswith(b"%PDF") and ".pdf" in response.headers["Content-Disposition"]
    response.close()

