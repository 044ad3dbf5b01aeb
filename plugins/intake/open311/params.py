"""Open311 query parameters and the error answer: what every GET (and POST) method shares.

An empty parameter is the same as a missing one.  A bad value raises ``Open311Error`` naming the
parameter; ``_answer`` turns it into the Open311 error document (several errors at once when a
search has several bad parameters).
"""
from __future__ import annotations

import re
from datetime import datetime, timezone

from flask import current_app, request
from flask_babel import gettext

from core.security import BadField
from plugins.intake.open311 import open311
from plugins.intake.open311.formats import FORMATS, errors, render

_WHOLE = re.compile(r"^\d{1,9}$", re.ASCII)


class Open311Error(Exception):
    def __init__(self, status: int, *descriptions: str):
        super().__init__(descriptions)
        self.status = status
        self.descriptions = list(descriptions)


@open311.errorhandler(BadField)
def bad_field(exc: BadField):
    """core refuses a NUL character in any field before the view runs; Open311 clients get their error document."""
    fmt = (request.view_args or {}).get("fmt")
    return errors(fmt if fmt in FORMATS else "json", 400, [exc.description])


def _city() -> dict:
    return current_app.extensions["civic"].config.city


def _param(name: str) -> str:
    """A query parameter, stripped; an empty one is the same as a missing one."""
    return (request.args.get(name) or "").strip()


def _list_param(name: str) -> list[str]:
    return [v.strip() for v in _param(name).split(",") if v.strip()]


def _fit(wanted: str, locales: list[str]) -> str | None:
    """``fr-CA`` -> ``fr_CA`` when the city has it, else ``fr`` when it has that, else None."""
    wanted = wanted.replace("-", "_")
    language, _, region = wanted.partition("_")
    candidates = [f"{language.lower()}_{region.upper()}", language.lower()] if region else [language.lower()]
    for candidate in candidates:
        if candidate in locales:
            return candidate
    return None


def answer_locale() -> str:
    """The ``locale`` parameter, else Accept-Language, narrowed to city.locales; else the default."""
    city = _city()
    locales = list(city["locales"])
    asked = _param("locale")
    if asked:
        fit = _fit(asked, locales)
        if fit:
            return fit
    for value, _quality in request.accept_languages:
        if value and value != "*":
            fit = _fit(value, locales)
            if fit:
                return fit
    return city["default_locale"]


def _check(fmt: str, jurisdiction: str | None = None) -> None:
    """A known format and, when one is given (the query's, or a POST body's), our jurisdiction."""
    if fmt not in FORMATS:
        raise Open311Error(404, gettext("unknown format '%(fmt)s': use xml or json", fmt=fmt[:20]))
    jurisdiction = _param("jurisdiction_id") if jurisdiction is None else jurisdiction
    if jurisdiction and jurisdiction != _city()["jurisdiction_id"]:
        raise Open311Error(404, gettext("jurisdiction_id: unknown jurisdiction '%(id)s'", id=jurisdiction[:100]))


def _answer(fmt: str, build):
    """Run ``build()`` -> (root, value) or (root, value, headers); Open311Error becomes the error
    document (JSON when fmt is unknown)."""
    try:
        _check(fmt)
        root, value, *rest = build()
    except Open311Error as exc:
        return errors(fmt if fmt in FORMATS else "json", exc.status, exc.descriptions)
    response = render(fmt, root, value)
    for headers in rest:
        response.headers.update(headers)
    return response


def _parse_date(name: str) -> datetime | None:
    """An ISO 8601 datetime parameter as naive UTC (an offset is converted; none means UTC)."""
    raw = _param(name)
    if not raw:
        return None
    try:
        # a "+05:00" offset sent unencoded in a query string arrives as " 05:00"
        value = datetime.fromisoformat(raw.replace(" ", "+") if "T" in raw else raw)
        if value.tzinfo is not None:
            value = value.astimezone(timezone.utc).replace(tzinfo=None)
    except (ValueError, OverflowError):  # OverflowError: an offset that leaves years 1-9999
        raise Open311Error(400, gettext("%(field)s: not a valid ISO 8601 datetime", field=name)) from None
    return value


def _whole_param(name: str, low: int, high: int) -> int | None:
    """A whole number from ``low`` to ``high``, or None when missing."""
    raw = _param(name)
    if not raw:
        return None
    if not _WHOLE.match(raw) or not low <= int(raw) <= high:
        raise Open311Error(400, gettext("%(field)s: must be a whole number from %(low)d to %(high)d", field=name, low=low, high=high))
    return int(raw)


def _number_param(name: str, low: float, high: float) -> float | None:
    """A decimal number from ``low`` to ``high``, or None when missing."""
    raw = _param(name)
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not low <= value <= high:  # NaN and infinities fail here too
        raise Open311Error(400, gettext("%(field)s: must be a number from %(low)s to %(high)s", field=name, low=_plain(low), high=_plain(high)))
    return value


def _flag_param(name: str) -> bool:
    """``true`` or ``false`` (any case); missing is false."""
    raw = _param(name).lower()
    if raw in ("", "false"):
        return False
    if raw == "true":
        return True
    raise Open311Error(400, gettext("%(field)s: must be true or false", field=name))


def _plain(number: float) -> str:
    return str(int(number)) if float(number).is_integer() else str(number)
