"""What a FEMA cost record is worth (plugins/fema/costs.py), checked by hand against the rules of FEMA.md."""
from __future__ import annotations

from decimal import Decimal
from types import SimpleNamespace as Row

from plugins.fema import costs


def test_labor_pays_regular_and_overtime_each_with_its_benefits():
    # 8 h at $20.00 with 30 % benefits; 3 h overtime at $30.00 with 7.65 % (FICA/Medicare only)
    entry = Row(regular_hours=8, overtime_hours=3, hourly_rate=Decimal("20.00"), overtime_rate=Decimal("30.00"),
                fringe_regular_pct=Decimal("30"), fringe_overtime_pct=Decimal("7.65"))
    cost = costs.labor_cost(entry)
    assert cost.regular_benefit_per_hour == Decimal("6.00")
    assert cost.overtime_benefit_per_hour == Decimal("2.30")  # 2.295 rounded half up
    assert cost.regular == Decimal("208.00")  # 8 x 26.00
    assert cost.overtime == Decimal("96.89")  # 3 x 32.295 = 96.885 -> 96.89
    assert cost.total == Decimal("304.89")


def test_equipment_is_paid_for_hours_used_or_miles_and_nothing_without_a_rate():
    used = Row(hours_used=Decimal("6.5"), miles=Decimal("42.0"))
    assert costs.equipment_cost(used, Decimal("1.62")) == Decimal("10.53")  # 6.5 x 1.62
    assert costs.equipment_cost(used, Decimal("0.85"), unit="mile") == Decimal("35.70")
    assert costs.equipment_cost(used, None) is None


def test_a_load_call_lowers_the_certified_capacity_and_never_raises_it():
    assert costs.load_quantity_cy(Decimal("40.0"), 75) == Decimal("30.0")
    assert costs.load_quantity_cy(Decimal("40.0"), 100) == Decimal("40.0")
    assert costs.load_quantity_cy(Decimal("40.0"), 130) == Decimal("40.0"), "a call above 100 % cannot add yards"
    assert costs.load_quantity_cy(Decimal("40.0"), -5) == Decimal("0.0")


def test_materials_rentals_and_contracts():
    assert costs.material_cost(Row(quantity=Decimal("12.5"), unit_price=Decimal("3.999"))) == Decimal("49.99")
    assert costs.rental_cost(Row(hours_used=Decimal("10"), rate=Decimal("95.50"))) == Decimal("955.00")
    assert costs.contract_cost(Row(cost_billed=Decimal("125000"))) == Decimal("125000.00")
