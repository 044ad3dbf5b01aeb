"""What a report can be about.  A *subject* (cases, calls, work orders, FEMA costs...) says where its rows
come from, which date periods and time groupings use, which rows a user may count, and the dimensions
(groupings), filters and measures (aggregates) it offers.  The core registers "cases"; plugins register
their own subjects with the ``report_subjects`` hook and add dimensions, filters and measures to any
subject with ``report_fields`` (the intake plugin adds the satisfaction average to cases, the fema plugin
a disaster filter).  Every piece is an SQL expression: a report is one GROUP BY in the database.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from flask import current_app
from flask_babel import lazy_gettext as _l

# How measure values are shown (core.reports.formatting) and whether they add up.
KINDS = ("count", "number", "duration", "percent", "money", "rating")


@dataclass(frozen=True)
class Choice:
    value: str
    label: str


@dataclass
class Dimension:
    """A grouping: ``key()`` is the GROUP BY expression; ``labels(session, keys)`` names the keys found
    (department ids to names, in one query); ``join(stmt)`` adds a table the key needs."""

    code: str
    label: Any
    key: Callable[[], Any]
    labels: Callable[[Any, list], dict] | None = None
    join: Callable[[Any], Any] | None = None


@dataclass
class Filter:
    """``condition(values)`` is the WHERE clause for the chosen values (strings); ``choices(session)`` lists
    what may be chosen (None: free text, several values separated by commas); ``closed``: the choices are
    the complete list, so any other value is refused with a message naming the filter."""

    code: str
    label: Any
    condition: Callable[[list[str]], Any]
    choices: Callable[[Any], list[Choice]] | None = None
    closed: bool = False


@dataclass
class Measure:
    """An aggregate over a group's rows (``expr()``), shown as its ``kind``; ``join`` as for dimensions."""

    code: str
    label: Any
    expr: Callable[[], Any]
    kind: str = "count"
    join: Callable[[Any], Any] | None = None

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"measure {self.code}: unknown kind {self.kind!r}")


@dataclass
class Subject:
    code: str
    label: Any
    source: Callable[[], Any]  # the table (or selectable) of the rows counted
    date: Callable[[], Any]  # the column periods and day/week/month groupings use
    date_label: Any
    scope: Callable[[Any], Any]  # user -> WHERE clause of the rows they may count (None: all)
    dimensions: list[Dimension] = field(default_factory=list)
    filters: list[Filter] = field(default_factory=list)
    measures: list[Measure] = field(default_factory=list)
    allowed: Callable[[Any], bool] = lambda user: True  # may this user report on the subject at all
    date_is_day: bool = False  # the date column is a DATE (a work date), not a naive-UTC timestamp
    default_measures: tuple[str, ...] = ("count",)
    order: int = 100

    def dimension(self, code: str) -> Dimension | None:
        return next((d for d in self.dimensions if d.code == code), None)

    def filter(self, code: str) -> Filter | None:
        return next((f for f in self.filters if f.code == code), None)

    def measure(self, code: str) -> Measure | None:
        return next((m for m in self.measures if m.code == code), None)


@dataclass
class SubjectFields:
    """Dimensions, filters and measures a plugin adds to a subject defined elsewhere."""

    subject: str
    dimensions: list[Dimension] = field(default_factory=list)
    filters: list[Filter] = field(default_factory=list)
    measures: list[Measure] = field(default_factory=list)


# Groupings every subject has: the calendar of its date column (in the city's time zone).
TIME_GROUPS = {"day": _l("Day"), "week": _l("Week"), "month": _l("Month")}


def build_registry(pm) -> dict[str, Subject]:
    """Collect the subjects of the core and the enabled plugins, with every plugin's additions."""
    registry: dict[str, Subject] = {}
    for subject in pm.flatten("report_subjects"):
        if subject.code in registry:
            raise ValueError(f"two plugins register the report subject {subject.code!r}")
        if subject.code in TIME_GROUPS:
            raise ValueError(f"report subject code {subject.code!r} is reserved")
        registry[subject.code] = replace(subject, dimensions=list(subject.dimensions), filters=list(subject.filters),
                                         measures=list(subject.measures))
    for extra in pm.flatten("report_fields"):
        subject = registry.get(extra.subject)
        if subject is None:
            continue  # the subject's plugin is not enabled
        for kind in ("dimensions", "filters", "measures"):
            have = {x.code for x in getattr(subject, kind)} | set(TIME_GROUPS)
            for item in getattr(extra, kind):
                if item.code in have:
                    raise ValueError(f"report subject {subject.code}: {kind[:-1]} {item.code!r} is registered twice")
                getattr(subject, kind).append(item)
    return dict(sorted(registry.items(), key=lambda kv: (kv[1].order, kv[0])))


def registry() -> dict[str, Subject]:
    """The app's subjects (built once per app)."""
    state = current_app.extensions["civic"]
    cached = getattr(state, "report_subjects", None)
    if cached is None:
        cached = build_registry(state.pm)
        state.report_subjects = cached
    return cached


def subjects_for(user) -> list[Subject]:
    return [s for s in registry().values() if s.allowed(user)]
