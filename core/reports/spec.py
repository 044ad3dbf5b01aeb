"""A report's definition as saved data, and its validation.

A spec is plain JSON (``Report.spec``)::

    {"subject": "cases", "period": "last_14_days", "filters": {"service": ["DEBRIS"]},
     "group": "zone", "measures": ["count", "close_median"], "chart": "bar"}

Periods are relative ("last 14 days", "last year") so a saved report stays current, or ``custom`` with
``date_from`` / ``date_to`` (days on the city's calendar, both included).  ``parse`` checks every part
against the subject's registry and answers every problem at once, keyed by the field's name.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from flask_babel import gettext
from flask_babel import lazy_gettext as _l

from core.reports.subjects import TIME_GROUPS, Subject

PERIODS = {
    "last_7_days": _l("Last 7 days"),
    "last_14_days": _l("Last 14 days"),
    "last_30_days": _l("Last 30 days"),
    "last_90_days": _l("Last 90 days"),
    "this_week": _l("This week"),
    "last_week": _l("Last week"),
    "this_month": _l("This month"),
    "last_month": _l("Last month"),
    "this_year": _l("This year"),
    "last_year": _l("Last year"),
    "all": _l("All time"),
    "custom": _l("Dates chosen"),
}
CHARTS = {"auto": _l("Automatic"), "bar": _l("Bar chart"), "line": _l("Line chart"), "pie": _l("Pie chart"), "none": _l("No chart")}
MAX_MEASURES = 6
MAX_VALUES = 100  # values of one filter


@dataclass
class ReportSpec:
    subject: str
    period: str = "last_30_days"
    date_from: date | None = None
    date_to: date | None = None
    filters: dict[str, list[str]] = field(default_factory=dict)
    group: str = ""  # a dimension code, "day" / "week" / "month", or "" (one row: the totals)
    measures: list[str] = field(default_factory=lambda: ["count"])
    chart: str = "auto"

    def to_json(self) -> dict[str, Any]:
        return {
            "subject": self.subject, "period": self.period,
            "date_from": self.date_from.isoformat() if self.date_from else None,
            "date_to": self.date_to.isoformat() if self.date_to else None,
            "filters": {k: list(v) for k, v in self.filters.items() if v},
            "group": self.group, "measures": list(self.measures), "chart": self.chart,
        }

    def bounds(self, today: date) -> tuple[date | None, date | None]:
        """The first day in and the first day out of the period, on the city's calendar (None: open)."""
        return period_bounds(self.period, today, self.date_from, self.date_to)

    @property
    def time_group(self) -> str | None:
        return self.group if self.group in TIME_GROUPS else None


class SpecError(Exception):
    def __init__(self, errors: dict[str, list[str]]):
        super().__init__("; ".join(f"{k}: {', '.join(v)}" for k, v in errors.items()))
        self.errors = errors


def period_bounds(period: str, today: date, date_from: date | None = None, date_to: date | None = None):
    if period.startswith("last_") and period.endswith("_days"):
        days = int(period.split("_")[1])
        return today - timedelta(days=days - 1), today + timedelta(days=1)
    week = today - timedelta(days=today.weekday())
    month = today.replace(day=1)
    previous_month = (month - timedelta(days=1)).replace(day=1)
    return {
        "this_week": (week, today + timedelta(days=1)),
        "last_week": (week - timedelta(days=7), week),
        "this_month": (month, today + timedelta(days=1)),
        "last_month": (previous_month, month),
        "this_year": (today.replace(month=1, day=1), today + timedelta(days=1)),
        "last_year": (today.replace(year=today.year - 1, month=1, day=1), today.replace(month=1, day=1)),
        "custom": (date_from, date_to + timedelta(days=1) if date_to else None),
    }.get(period, (None, None))


def _values(raw: Any) -> list[str]:
    if raw is None:
        return []
    if isinstance(raw, str):
        raw = raw.split(",")
    if not isinstance(raw, (list, tuple)):
        raw = [raw]
    return [str(v).strip() for v in raw if str(v).strip()]


def _day(raw: Any, name: str, errors: dict[str, list[str]]) -> date | None:
    if raw in (None, ""):
        return None
    try:
        return date.fromisoformat(str(raw))
    except ValueError:
        errors.setdefault(name, []).append(gettext("is not a date (YYYY-MM-DD)"))
        return None


def parse(data: dict[str, Any], subjects: dict[str, Subject]) -> ReportSpec:
    """A ReportSpec from a saved spec or a form, or SpecError naming each bad field."""
    errors: dict[str, list[str]] = {}
    if not isinstance(data, dict):
        raise SpecError({"spec": [gettext("must be an object")]})
    subject = subjects.get(str(data.get("subject") or ""))
    if subject is None:
        raise SpecError({"subject": [gettext("must be one of: %(choices)s", choices=", ".join(subjects) or "-")]})
    period = str(data.get("period") or "last_30_days")
    if period not in PERIODS:
        errors.setdefault("period", []).append(gettext("must be one of: %(choices)s", choices=", ".join(PERIODS)))
    date_from, date_to = _day(data.get("date_from"), "date_from", errors), _day(data.get("date_to"), "date_to", errors)
    if period == "custom" and not (date_from or date_to) and "date_from" not in errors and "date_to" not in errors:
        errors.setdefault("date_from", []).append(gettext("give a first or a last day for chosen dates"))
    if date_from and date_to and date_to < date_from:
        errors.setdefault("date_to", []).append(gettext("is before the first day"))
    filters: dict[str, list[str]] = {}
    raw_filters = data.get("filters") or {}
    if not isinstance(raw_filters, dict):
        errors.setdefault("filters", []).append(gettext("must be an object"))
        raw_filters = {}
    for code, raw in raw_filters.items():
        values = _values(raw)
        if not values:
            continue
        if subject.filter(code) is None:
            errors.setdefault(f"filters.{code}", []).append(gettext("unknown filter"))
        elif len(values) > MAX_VALUES:
            errors.setdefault(f"filters.{code}", []).append(gettext("at most %(n)d values", n=MAX_VALUES))
        else:
            filters[code] = values
    group = str(data.get("group") or "")
    if group and group not in TIME_GROUPS and subject.dimension(group) is None:
        choices = ", ".join([*TIME_GROUPS, *(d.code for d in subject.dimensions)])
        errors.setdefault("group", []).append(gettext("must be one of: %(choices)s", choices=choices))
    measures = _values(data.get("measures")) or list(subject.default_measures)
    unknown = [m for m in measures if subject.measure(m) is None]
    if unknown:
        errors.setdefault("measures", []).append(gettext("unknown measure: %(codes)s", codes=", ".join(unknown)))
    if len(measures) > MAX_MEASURES:
        errors.setdefault("measures", []).append(gettext("at most %(n)d measures", n=MAX_MEASURES))
    measures = list(dict.fromkeys(measures))
    chart = str(data.get("chart") or "auto")
    if chart not in CHARTS:
        errors.setdefault("chart", []).append(gettext("must be one of: %(choices)s", choices=", ".join(CHARTS)))
    if errors:
        raise SpecError(errors)
    return ReportSpec(subject.code, period, date_from, date_to, filters, group, measures, chart)
