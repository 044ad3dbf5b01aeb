"""The public city performance page (/performance/, no sign-in; opt-in: ``[reports] public_performance``).

What residents see: cases received and closed per month over the last 12 months (a table and a bar
chart) and the median time to close of each public service.  Counts and durations only: no reference,
address, description or name of anyone ever leaves the database for this page, and a service appears
only with at least ``MIN_CLOSED`` closed cases, so no number points at one resident's request.

The numbers are three GROUP BYs, computed at most once per ``CACHE_SECONDS`` per language (labels and
number formats differ by language): a public page must not run them for every visitor.  The cache lives
in the app, so a server of several processes keeps one per process, which is fine for numbers that
change slowly.
"""
from __future__ import annotations

import time as clock
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from functools import partial

from babel import dates
from flask import abort, current_app
from flask_appbuilder import BaseView, expose
from flask_babel import get_locale, gettext
from flask_babel import lazy_gettext as _l
from markupsafe import Markup
from sqlalchemy import func, select

from core.extensions import db
from core.formats import city_timezone, city_today, format_locale
from core.i18n_content import localized
from core.metrics import seconds_between
from core.models import Case, ServiceType
from core.reports.charts import render_chart
from core.reports.formatting import format_value
from core.reports.sql import as_date, bucket, percentile

MONTHS = 12
MIN_CLOSED = 5  # a service with fewer closed cases in the period is left out
CACHE_SECONDS = 600
CACHE_KEY = "civic_performance"  # app.extensions[CACHE_KEY]: {locale: (expires, CityPerformance)}


@dataclass(frozen=True)
class MonthRow:
    month: date
    label: str  # "November 2026" / "Novembre 2026"
    received: int
    closed: int


@dataclass(frozen=True)
class ServiceRow:
    name: str
    closed: int
    median_seconds: float
    median: str  # as read in the page's language


@dataclass(frozen=True)
class CityPerformance:
    first_day: date
    last_day: date
    months: list[MonthRow]
    services: list[ServiceRow]
    chart: Markup

    @property
    def received(self) -> int:
        return sum(m.received for m in self.months)

    @property
    def closed(self) -> int:
        return sum(m.closed for m in self.months)


def is_published() -> bool:
    return bool(current_app.extensions["civic"].config.reports.get("public_performance"))


def month_starts(today: date, count: int = MONTHS) -> list[date]:
    """The first days of the last ``count`` months, this one included, oldest first."""
    first = today.replace(day=1)
    out = [first]
    for _ in range(count - 1):
        first = (first - timedelta(days=1)).replace(day=1)
        out.append(first)
    return out[::-1]


def _utc(day: date, tz) -> datetime:
    return datetime.combine(day, time.min, tzinfo=tz).astimezone(timezone.utc).replace(tzinfo=None)


def per_month(session, column, since: datetime) -> dict[date, int]:
    """How many cases have ``column`` (a timestamp) in each month since ``since``: one GROUP BY."""
    key = bucket(column, "month", city_timezone().key)
    rows = session.execute(select(key, func.count(Case.id)).where(column >= since).group_by(key))
    return {as_date(month): n for month, n in rows}


def close_time_by_service(session, since: datetime, minimum: int = MIN_CLOSED) -> list[ServiceRow]:
    """The median time to close of the cases closed since ``since``, per public service with at least
    ``minimum`` of them: one GROUP BY (HAVING) joined to the catalog for the names."""
    closed = func.count(Case.id)
    per_service = (
        select(Case.service_type_id.label("id"), closed.label("closed"),
               percentile(seconds_between(Case.created_at, Case.closed_at), 0.5).label("median"))
        .where(Case.closed_at >= since)
        .group_by(Case.service_type_id)
        .having(closed >= minimum)
        .subquery()
    )
    rows = session.execute(
        select(ServiceType.name, ServiceType.translations, per_service.c.closed, per_service.c.median)
        .join(per_service, per_service.c.id == ServiceType.id)
        .where(ServiceType.public.is_(True))
    ).all()
    services = [ServiceRow(localized(r, "name"), r.closed, float(r.median), format_value("duration", r.median)) for r in rows]
    return sorted(services, key=lambda s: s.name.lower())


def compute(session, today: date | None = None) -> CityPerformance:
    """The page's numbers in the request's language."""
    today = today or city_today()
    tz = city_timezone()
    months = month_starts(today)
    since = _utc(months[0], tz)
    received, closed = per_month(session, Case.created_at, since), per_month(session, Case.closed_at, since)
    locale = format_locale()
    rows = [MonthRow(m, dates.format_date(m, "LLLL y", locale=locale).capitalize(), received.get(m, 0), closed.get(m, 0)) for m in months]
    chart = render_chart(
        "bar",
        [dates.format_skeleton("yMMM", m, locale=locale) for m in months],
        [(gettext("Received"), [r.received for r in rows]), (gettext("Closed"), [r.closed for r in rows])],
        value_format=partial(format_value, "count"),
        title=gettext("Cases received and closed per month"),
    )
    return CityPerformance(months[0], today, rows, close_time_by_service(session, since), chart)


def cached(session) -> CityPerformance:
    """``compute`` at most once per ``CACHE_SECONDS`` for each language."""
    store = current_app.extensions.setdefault(CACHE_KEY, {})
    key = str(get_locale())
    hit = store.get(key)
    now = clock.monotonic()
    if hit is not None and hit[0] > now:
        return hit[1]
    data = compute(session)
    store[key] = (now + CACHE_SECONDS, data)
    return data


def forget(app) -> None:
    """Drop the cached numbers (the next visitor recomputes them)."""
    app.extensions.pop(CACHE_KEY, None)


class PerformanceView(BaseView):
    """The public page: no sign-in, 404 unless ``[reports] public_performance = true``."""

    route_base = "/performance"
    default_view = "index"

    @expose("/")
    def index(self):
        if not is_published():
            abort(404)
        return self.render_template(
            "civic/performance.html",
            title=_l("City performance"),
            data=cached(db.session),
            minimum=MIN_CLOSED,
            months=MONTHS,
        )
