"""Dates, times, numbers and money in the reader's language, times in the city's time zone.

Every timestamp in the database is naive UTC.  These functions show it in the
city's zone (``CIVIC_TIMEZONE``, from ``city.timezone``) with Babel's patterns
for the request's locale.  A language can be shown with a regional format
locale (``fr`` -> ``fr_CA``: ``14 h 05``) through ``CIVIC_FORMAT_LOCALES``,
which the i18n plugin fills from its config; without the plugin the locale is
used as it is.  ``init_app`` makes them Jinja filters, so templates write
``{{ case.created_at|datetime }}`` with or without the plugin.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from functools import lru_cache
from zoneinfo import ZoneInfo

from babel import Locale, UnknownLocaleError, dates, lists, numbers, units
from flask import Flask, current_app
from flask_babel import get_locale, gettext

DEFAULT_CURRENCY = "USD"


@lru_cache(maxsize=64)
def _locale(name: str) -> Locale:
    return Locale.parse(name)


def current_locale() -> Locale:
    """The locale of the request (its messages), else the city's default."""
    return get_locale() or _locale(current_app.config["BABEL_DEFAULT_LOCALE"])


def html_lang() -> str:
    """The language tag for ``<html lang>``: ``fr``, ``en``, ``pt-BR``."""
    return str(current_locale()).replace("_", "-")


def format_locale() -> Locale:
    """The locale whose patterns format dates and numbers: the request's, or its configured regional variant."""
    locale = current_locale()
    mapping = current_app.config.get("CIVIC_FORMAT_LOCALES") or {}
    name = mapping.get(str(locale)) or mapping.get(locale.language)
    return _locale(name) if name else locale


def city_timezone() -> ZoneInfo:
    return ZoneInfo(current_app.config["CIVIC_TIMEZONE"])


def city_today() -> date:
    """Today in the city (a crew's evening in Florida is already tomorrow in UTC)."""
    return datetime.now(city_timezone()).date()


def timezone_name() -> str:
    """The city's time zone in the reader's language: ``Eastern Time``, ``heure de l’Est``."""
    return dates.get_timezone_name(city_timezone(), "long", locale=format_locale(), zone_variant="generic")


def _as_utc(value: datetime) -> datetime:
    """A database timestamp (naive means UTC) as an aware UTC datetime."""
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


def to_city_time(value: datetime) -> datetime:
    """A database timestamp (naive UTC) as an aware datetime in the city's zone."""
    return _as_utc(value).astimezone(city_timezone())


def format_datetime(value: datetime | None) -> str:
    """``Nov 28, 2026, 2:05 PM`` / ``28 nov. 2026 14 h 05``: medium date and short time, city time zone."""
    if value is None:
        return ""
    return _date_and_time(to_city_time(value))


def _date_and_time(moment: datetime) -> str:
    locale = format_locale()
    # Each language joins them its own way: "Nov 28, 2026, 2:05 PM", "28 nov. 2026 14 h 05".
    return gettext(
        "%(date)s, %(time)s",
        date=dates.format_date(moment, "medium", locale=locale),
        time=dates.format_time(moment, "short", locale=locale),
    )


def format_wall_datetime(value: datetime | str | None) -> str:
    """A date and time a person typed (a ``datetime`` attribute, ``2026-07-01T09:30``): already the city's
    wall-clock time, so shown as it is (converted only when it carries an offset); text that is no
    ISO date and time is shown unchanged."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return value
    return _date_and_time(value.astimezone(city_timezone()) if value.tzinfo is not None else value)


def format_date(value: date | datetime | None) -> str:
    """``Nov 28, 2026`` / ``28 nov. 2026``; a timestamp gives its date in the city's time zone."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = to_city_time(value).date()
    return dates.format_date(value, "medium", locale=format_locale())


def format_number(value: int | float | Decimal | None) -> str:
    """``1,234.5`` / ``1 234,5``."""
    if value is None:
        return ""
    return numbers.format_decimal(value, locale=format_locale())


def format_currency(value: int | float | Decimal | None, currency: str | None = None) -> str:
    """``$1,234.56`` / ``1 234,56 $ US``; the currency is the city's (``CIVIC_CURRENCY``, USD by default)."""
    if value is None:
        return ""
    code = currency or current_app.config.get("CIVIC_CURRENCY") or DEFAULT_CURRENCY
    return numbers.format_currency(value, code, locale=format_locale())


def format_time_ago(value: datetime | None, now: datetime | None = None) -> str:
    """``3 hours ago`` / ``il y a 3 heures`` (``in 2 days`` / ``dans 2 jours`` for a time to come)."""
    if value is None:
        return ""
    now = now or datetime.now(timezone.utc)
    delta: timedelta = _as_utc(value) - _as_utc(now)
    return dates.format_timedelta(delta, add_direction=True, locale=format_locale())


def format_duration(value: timedelta | float | int | None) -> str:
    """A calendar duration in its two largest units: ``2 days, 3 hours`` / ``2 jours et 3 heures``,
    ``45 minutes``; a number is seconds."""
    if value is None:
        return ""
    seconds = value.total_seconds() if isinstance(value, timedelta) else float(value)
    minutes = max(0, int(seconds // 60))
    days, hours, mins = minutes // 1440, minutes % 1440 // 60, minutes % 60
    locale = format_locale()
    if days:
        parts = [("duration-day", days), ("duration-hour", hours)]
    elif hours:
        parts = [("duration-hour", hours), ("duration-minute", mins)]
    else:
        parts = [("duration-minute", mins)]
    shown = [units.format_unit(n, unit, length="long", locale=locale) for unit, n in parts if n or len(parts) == 1]
    return lists.format_list(shown, style="unit", locale=locale)


def language_name(code: str) -> str:
    """A language's name in itself, for the language switcher: English, Français, Español."""
    try:
        name = Locale.parse(code).get_display_name(code) or code
    except (UnknownLocaleError, ValueError):
        return code
    return name[:1].upper() + name[1:]


FILTERS = {
    "datetime": format_datetime,
    "wall_datetime": format_wall_datetime,
    "date": format_date,
    "number": format_number,
    "currency": format_currency,
    "time_ago": format_time_ago,
    "duration": format_duration,
}


def init_app(app: Flask) -> None:
    """The formats as Jinja filters (``{{ case.created_at|datetime }}``) and ``html_lang()`` for templates."""
    app.jinja_env.filters.update(FILTERS)
    app.jinja_env.globals["html_lang"] = html_lang
