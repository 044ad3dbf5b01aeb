"""SQL pieces reports need that the two databases spell differently: percentiles and calendar buckets in
the city's time zone.

PostgreSQL has both built in (``percentile_cont ... WITHIN GROUP``, ``date_trunc`` with ``AT TIME ZONE``).
SQLite has neither, so each SQLite connection gets two small functions (``civic_percentile``, an aggregate,
and ``civic_bucket``) registered when it opens (``register_sqlite_functions``, called by the core's connect
hook).  Either way the work happens in the database's GROUP BY, never in a Python loop over rows.
"""
from __future__ import annotations

import math
from datetime import date, datetime, timedelta, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo

from sqlalchemy import Date, Float, literal_column
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

UNITS = ("day", "week", "month", "year")


class percentile(FunctionElement):  # noqa: N801 -- an SQL aggregate, named like one
    """``percentile(expr, 0.5)``: the continuous percentile (median at 0.5) of ``expr`` over the group."""

    type = Float()
    name = "percentile"
    inherit_cache = True

    def __init__(self, expr, fraction: float):
        if not 0 <= fraction <= 1:
            raise ValueError("a percentile is between 0 and 1")
        super().__init__(expr, literal_column(repr(float(fraction))))


@compiles(percentile, "postgresql")
def _percentile_postgresql(element, compiler, **kw):
    expr, fraction = (compiler.process(c, **kw) for c in element.clauses)
    return f"percentile_cont({fraction}) WITHIN GROUP (ORDER BY {expr})"


@compiles(percentile)
def _percentile_sqlite(element, compiler, **kw):
    expr, fraction = (compiler.process(c, **kw) for c in element.clauses)
    return f"civic_percentile({expr}, {fraction})"


class bucket(FunctionElement):  # noqa: N801
    """``bucket(column, "week", "America/New_York")``: the first day of the day/week (Monday)/month/year that
    holds a naive-UTC timestamp, on the city's calendar; ``tz=None`` for a DATE column (no conversion)."""

    type = Date()
    name = "bucket"
    inherit_cache = True

    def __init__(self, column, unit: str, tz: str | None):
        if unit not in UNITS:
            raise ValueError(f"unknown time unit {unit!r}")
        if tz is not None:
            ZoneInfo(tz)  # raises for an unknown zone; the name is then safe to put in the SQL text
        super().__init__(column, literal_column(f"'{unit}'"), literal_column(f"'{tz}'" if tz else "NULL"))


@compiles(bucket, "postgresql")
def _bucket_postgresql(element, compiler, **kw):
    column, unit, tz = (compiler.process(c, **kw) for c in element.clauses)
    local = column if tz == "NULL" else f"(({column}) AT TIME ZONE 'UTC') AT TIME ZONE {tz}"
    return f"CAST(date_trunc({unit}, {local}) AS DATE)"


@compiles(bucket)
def _bucket_sqlite(element, compiler, **kw):
    column, unit, tz = (compiler.process(c, **kw) for c in element.clauses)
    return f"civic_bucket({column}, {unit}, {tz})"


# ---------------------------------------------------------------- SQLite's side


class _Percentile:
    """The SQLite aggregate behind ``percentile``: linear interpolation between the closest ranks, as
    PostgreSQL's percentile_cont does."""

    def __init__(self):
        self.values: list[float] = []
        self.fraction = 0.5

    def step(self, value, fraction):
        if value is not None:
            self.values.append(float(value))
            self.fraction = float(fraction)

    def finalize(self):
        return continuous_percentile(self.values, self.fraction)


def continuous_percentile(values: list[float], fraction: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    position = fraction * (len(ordered) - 1)
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


@lru_cache(maxsize=16)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def first_day(day: date, unit: str) -> date:
    if unit == "week":
        return day - timedelta(days=day.weekday())
    if unit == "month":
        return day.replace(day=1)
    if unit == "year":
        return day.replace(month=1, day=1)
    return day


def _sqlite_bucket(value, unit, tz):
    if value is None:
        return None
    text = str(value)
    if tz is None:
        day = date.fromisoformat(text[:10])
    else:
        moment = datetime.fromisoformat(text).replace(tzinfo=timezone.utc)
        day = moment.astimezone(_zone(tz)).date()
    return first_day(day, unit).isoformat()


def register_sqlite_functions(connection) -> None:
    """Give a new sqlite3 connection the functions above (called from the engine's connect hook)."""
    connection.create_aggregate("civic_percentile", 2, _Percentile)
    connection.create_function("civic_bucket", 3, _sqlite_bucket, deterministic=True)


def as_date(value) -> date | None:
    """A bucket as it comes back from either database (a date, a datetime or an ISO string) as a date."""
    if value is None or isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, datetime):
        return value.date()
    return date.fromisoformat(str(value)[:10])
