"""What each cost record is worth, as SQL: the rules of ``costs.py`` written as expressions, so sums by
category, site, department or week are done by the database (the PDF package's summary, the cost reports).

One rule everywhere: a record's cost is rounded to the cent (half up) on its own, as ``costs.py`` does for
one record and the office screens show it, and every total is the sum of those cents.  Totals then add up
across any grouping: a category's total in the report is the total of that category's export.

``cents(expr)``: PostgreSQL rounds NUMERIC exactly; SQLite computes in floating point, so a hair (1e-8,
far below a cent and far above the float error of amounts under a billion) is added before rounding so
that 209.345 stored as 209.34499999999 still rounds up.
"""
from __future__ import annotations

from sqlalchemy import Numeric, case, func
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from plugins.fema.models import ContractEntry, EquipmentEntry, LaborEntry, MaterialEntry, RentalEntry

HUNDRED = 100


class cents(FunctionElement):  # noqa: N801 -- an SQL function, named like one
    """``cents(expr)``: ``expr`` rounded half up to two decimals (amounts are never negative)."""

    type = Numeric(14, 2)
    name = "cents"
    inherit_cache = True


@compiles(cents, "postgresql")
def _cents_postgresql(element, compiler, **kw):
    return f"ROUND(CAST({compiler.process(element.clauses, **kw)} AS NUMERIC), 2)"


@compiles(cents)
def _cents_sqlite(element, compiler, **kw):
    return f"ROUND(({compiler.process(element.clauses, **kw)}) + 0.00000001, 2)"


def labor_regular():
    rate = LaborEntry.hourly_rate
    return cents(LaborEntry.regular_hours * (rate + rate * LaborEntry.fringe_regular_pct / HUNDRED))


def labor_overtime():
    rate = LaborEntry.overtime_rate
    return cents(LaborEntry.overtime_hours * (rate + rate * LaborEntry.fringe_overtime_pct / HUNDRED))


def labor():
    return labor_regular() + labor_overtime()


def equipment(rate, unit):
    """Hours actually used (miles when ``unit`` is 'mile') x ``rate``; NULL when the rate is NULL."""
    used = case((unit == "mile", func.coalesce(EquipmentEntry.miles, 0)), else_=EquipmentEntry.hours_used)
    return cents(used * rate)


def materials():
    return cents(MaterialEntry.quantity * MaterialEntry.unit_price)


def rentals():
    return cents(RentalEntry.hours_used * RentalEntry.rate)


def contracts():
    return cents(ContractEntry.cost_billed)
