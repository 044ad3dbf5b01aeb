"""Service-level dates: when a case is due, counting only the city's business hours.

The city config may declare its opening hours and holidays (``[sla]``)::

    [sla]
    hours = { mon = "08:00-17:00", tue = "08:00-17:00", ... }   # in city.timezone
    holidays = ["2026-12-25", "2027-01-01"]

With them, a service's ``sla_hours`` are working hours: only time inside the opening hours of an
open, non-holiday day counts.  Without them, SLA hours are plain calendar hours.  Times in and out
are naive UTC (as stored); the walk over days happens in the city's timezone, and durations are
measured in UTC, so a daylight-saving change never adds or loses an hour of work.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MAX_DAYS = 3 * 366  # an SLA is at most a year of calendar hours; this bounds the walk whatever the calendar


@dataclass(frozen=True)
class BusinessCalendar:
    """Opening hours per weekday (0 = Monday; a missing day is closed) and holidays, in ``tz``."""

    tz: ZoneInfo
    hours: dict[int, tuple[time, time]]
    holidays: frozenset[date] = frozenset()

    def is_open_day(self, day: date) -> bool:
        return day.weekday() in self.hours and day not in self.holidays


def calendar_from_config(city: dict[str, Any], sla: dict[str, Any] | None) -> BusinessCalendar | None:
    """The calendar of a validated config (``CityConfig.city`` and ``CityConfig.sla``), or None."""
    if not sla or not sla.get("hours"):
        return None
    return BusinessCalendar(
        tz=ZoneInfo(city.get("timezone") or "UTC"),
        hours=dict(sla["hours"]),
        holidays=frozenset(sla.get("holidays") or ()),
    )


def current_calendar() -> BusinessCalendar | None:
    """The running app's calendar (None outside an app or when the config declares no hours)."""
    from flask import current_app, has_app_context

    if not has_app_context() or "civic" not in current_app.extensions:
        return None
    config = current_app.extensions["civic"].config
    return calendar_from_config(config.city, getattr(config, "sla", None))


def _utc(dt: datetime) -> datetime:
    return dt.replace(tzinfo=timezone.utc) if dt.tzinfo is None else dt.astimezone(timezone.utc)


def due_at(start: datetime, sla_hours: float, calendar: BusinessCalendar | None = None) -> datetime:
    """``start`` (naive UTC) plus ``sla_hours`` working hours of ``calendar``; naive UTC.

    A start outside opening hours begins counting at the next opening.  No calendar: calendar hours.
    """
    if calendar is None or not calendar.hours:
        return start + timedelta(hours=sla_hours)
    remaining = timedelta(hours=sla_hours)
    cursor = _utc(start)
    day = cursor.astimezone(calendar.tz).date()
    for _ in range(MAX_DAYS):
        if calendar.is_open_day(day):
            opens, closes = calendar.hours[day.weekday()]
            open_at = datetime.combine(day, opens, tzinfo=calendar.tz).astimezone(timezone.utc)
            close_at = datetime.combine(day, closes, tzinfo=calendar.tz).astimezone(timezone.utc)
            cursor = max(cursor, open_at)
            if cursor < close_at:
                available = close_at - cursor
                if remaining <= available:
                    return (cursor + remaining).replace(tzinfo=None)
                remaining -= available
                cursor = close_at
        day += timedelta(days=1)
    raise ValueError("the business calendar has no opening hours within three years")


def parse_hours(value: str) -> tuple[time, time]:
    """``"08:00-17:00"`` -> (08:00, 17:00); ValueError with a readable message otherwise."""
    parts = value.split("-") if isinstance(value, str) else []
    if len(parts) != 2:
        raise ValueError(f"'{value}' is not opening hours such as \"08:00-17:00\"")
    try:
        opens, closes = (time.fromisoformat(p.strip()) for p in parts)
    except ValueError:
        raise ValueError(f"'{value}' is not opening hours such as \"08:00-17:00\"") from None
    if opens >= closes:
        raise ValueError(f"'{value}': the closing time must be after the opening time")
    return opens, closes
