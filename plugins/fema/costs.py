"""What each cost record is worth, by FEMA's rules, in Decimal (cents rounded half up at the end only).

Each record is rounded to the cent on its own; every total (an export's row and grand total, the PDF package's
summary, the cost reports) is the sum of its records' cents, so totals agree whatever they are grouped by.
``plugins/fema/cost_sql.py`` writes the same rules as SQL expressions.

- Labor: regular hours x hourly rate, overtime hours x overtime rate, each plus its benefit (fringe) percentage;
  the benefit rate per hour is the rate x the percentage (form 123's "benefit rate per hour").
- Equipment: hours actually used (never standby) x the schedule's rate for the unit's FEMA code (miles for a
  rate per mile); no rate -> None (the checklist lists it).
- Load tickets: the certified bed capacity x the load call (a percentage: it lowers, never raises).
- Materials: quantity x unit price; rentals: hours x rate; contracts: the amount billed.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

CENT = Decimal("0.01")
ZERO = Decimal("0")
HUNDRED = Decimal("100")


def money(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def dec(value: Any) -> Decimal:
    if value is None:
        return ZERO
    return value if isinstance(value, Decimal) else Decimal(str(value))


@dataclass(frozen=True)
class LaborCost:
    regular: Decimal
    overtime: Decimal
    regular_benefit_per_hour: Decimal
    overtime_benefit_per_hour: Decimal

    @property
    def total(self) -> Decimal:
        return self.regular + self.overtime


def labor_cost(entry: Any) -> LaborCost:
    """``entry``: a LaborEntry (or anything with its columns)."""
    rate, ot_rate = dec(entry.hourly_rate), dec(entry.overtime_rate)
    reg_benefit = rate * dec(entry.fringe_regular_pct) / HUNDRED
    ot_benefit = ot_rate * dec(entry.fringe_overtime_pct) / HUNDRED
    regular = money(dec(entry.regular_hours) * (rate + reg_benefit))
    overtime = money(dec(entry.overtime_hours) * (ot_rate + ot_benefit))
    return LaborCost(regular, overtime, money(reg_benefit), money(ot_benefit))


def equipment_cost(entry: Any, rate: Any, unit: str = "hour") -> Decimal | None:
    """Hours used (or miles, for a rate per mile) x the schedule's rate; None when there is no rate."""
    if rate is None:
        return None
    amount = dec(entry.miles) if unit == "mile" else dec(entry.hours_used)
    return money(amount * dec(rate))


def load_quantity_cy(capacity_cy: Any, load_call_pct: Any) -> Decimal:
    """Cubic yards of a load: the certified capacity x the load call, the call capped to 0..100 %."""
    pct = min(max(dec(load_call_pct), ZERO), HUNDRED)
    return (dec(capacity_cy) * pct / HUNDRED).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def material_cost(entry: Any) -> Decimal:
    return money(dec(entry.quantity) * dec(entry.unit_price))


def rental_cost(entry: Any) -> Decimal:
    return money(dec(entry.hours_used) * dec(entry.rate))


def contract_cost(entry: Any) -> Decimal:
    return money(dec(entry.cost_billed))
