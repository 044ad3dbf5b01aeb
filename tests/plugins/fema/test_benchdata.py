"""The FEMA export benchmark's data: ``civic fema bench-data --rows N`` fills a sample disaster with N labor, N
equipment and N material records that the exports read back in full, streamed (issue 11, measure 6)."""
from __future__ import annotations

import csv
import re
import types
from decimal import Decimal

import sqlalchemy as sa

from tests.plugins.fema.test_export import export, run_cli


def test_bench_data_fills_a_sample_disaster_and_its_exports_read_every_record(app, tmp_path):
    from core.extensions import db
    from plugins.fema.exporter import find_disaster
    from plugins.fema.models import Employee, EquipmentEntry, LaborEntry, MaterialEntry

    def counts():
        with app.app_context():
            d = find_disaster(db.session, "DR-9990")
            found = tuple(0 if d is None else db.session.scalar(sa.select(sa.func.count()).select_from(m).where(m.disaster_id == d.id))
                          for m in (LaborEntry, EquipmentEntry, MaterialEntry))
            db.session.remove()
        return found

    before = counts()
    first = run_cli(app, "bench-data", "--rows", "450")
    assert first.exit_code == 0, first.output
    assert re.search(r"FEMA bench data on DR-9990: 450 labor, 450 equipment and 450 material records added in [\d.]+ s", first.output)
    again = run_cli(app, "bench-data", "--rows", "450")  # a second run adds as many records, with the same crew
    assert again.exit_code == 0, again.output

    with app.app_context():
        s = db.session
        disaster = find_disaster(s, "DR-9990")
        assert disaster is not None and "not a real declaration" in disaster.title
        db.session.remove()
    assert counts() == tuple(n + 900 for n in before)
    with app.app_context():
        s = db.session
        disaster = find_disaster(s, "DR-9990")
        crew = s.scalar(sa.select(sa.func.count()).select_from(Employee).where(Employee.employee_number.like("BENCH-E-%")))
        assert crew == 5  # 450 records, about 100 days each
        # Each person works consecutive days: weeks to group, overtime on some of them.
        weeks = s.scalar(sa.select(sa.func.count(sa.distinct(LaborEntry.work_date))).where(LaborEntry.disaster_id == disaster.id))
        assert weeks >= 90
        assert s.scalar(sa.select(sa.func.sum(LaborEntry.overtime_hours)).where(LaborEntry.disaster_id == disaster.id)) > 0

        record, plan, path = export(s, disaster, tmp_path, form="labor")
        # Two rows (regular and overtime) per person and week; every record's hours are in the grand total.
        weeks_worked = {(e, d.isocalendar()[:2]) for e, d in s.execute(
            sa.select(LaborEntry.employee_id, LaborEntry.work_date).where(LaborEntry.disaster_id == disaster.id))}
        assert record.row_count == 2 * len(weeks_worked)
        hours = s.scalar(sa.select(sa.func.sum(LaborEntry.regular_hours + LaborEntry.overtime_hours)).where(LaborEntry.disaster_id == disaster.id))
        assert plan.totals["regular"]["hours.total"] + plan.totals["overtime"]["hours.total"] == Decimal(str(hours))
        with path.open(encoding="utf-8") as fh:
            rows = list(csv.reader(fh))
        assert any(r and r[0] == "GRAND TOTAL" for r in rows)

        equipment_record, equipment_plan, _ = export(s, disaster, tmp_path, form="equipment", fmt="xlsx")
        units_weeks = {(u, o, d.isocalendar()[:2]) for u, o, d in s.execute(
            sa.select(EquipmentEntry.equipment_id, EquipmentEntry.operator_id, EquipmentEntry.work_date)
            .where(EquipmentEntry.disaster_id == disaster.id))}
        assert equipment_record.row_count == len(units_weeks)
        assert equipment_plan.missing_rates == 0  # every bench unit has a rate in the sample schedule

        materials_record, materials_plan, _ = export(s, disaster, tmp_path, form="materials")
        assert materials_record.row_count == before[2] + 900  # one row per record
        spent = s.scalar(sa.select(sa.func.sum(MaterialEntry.quantity * MaterialEntry.unit_price)).where(MaterialEntry.disaster_id == disaster.id))
        assert materials_plan.totals["item"]["cost.total"] == Decimal(str(spent)).quantize(Decimal("0.01"))
        db.session.remove()


def test_export_rows_are_a_stream_not_a_list(session):
    """The exporter hands the writers a generator: rows are read from the cursor as they are written."""
    from plugins.fema import exporter, profiles
    from plugins.fema.benchdata import generate

    report = generate(session, 30)
    disaster = exporter.find_disaster(session, report.disaster)
    for form in ("labor", "equipment", "materials"):
        plan = exporter.plan_export(session, disaster, exporter.Params(form), profiles.load_profiles(), {})
        stream = exporter.rows(session, plan)
        assert isinstance(stream, types.GeneratorType)
        assert next(stream)["_kind"] in ("regular", "item")
        stream.close()
