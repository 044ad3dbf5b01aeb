"""Measure values as people read them, in their language (and as plain numbers for CSV and XLSX)."""
from __future__ import annotations

from decimal import Decimal

from babel import numbers

from core.formats import format_currency, format_duration, format_locale, format_number


def format_value(kind: str, value) -> str:
    if value is None:
        return "–"
    if kind == "count":
        return format_number(int(value))
    if kind == "duration":
        return format_duration(round(float(value)))  # julianday arithmetic leaves 71999.99 for 20 hours
    if kind == "percent":
        return numbers.format_percent(float(value) / 100, "#,##0.0 %", locale=format_locale())
    if kind == "money":
        return format_currency(Decimal(str(value)).quantize(Decimal("0.01")))
    return numbers.format_decimal(round(float(value), 2), "#,##0.##", locale=format_locale())


def plain_value(kind: str, value):
    """For files: counts as integers, durations in hours, money to the cent, the rest rounded to 2 places."""
    if value is None:
        return None
    if kind == "count":
        return int(value)
    if kind == "duration":
        return round(float(value) / 3600, 2)
    if kind == "money":
        return Decimal(str(value)).quantize(Decimal("0.01"))
    return round(float(value), 2)
