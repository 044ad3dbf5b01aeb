"""Wrap-up reasons: why an information-only call ended (``[intake] call_wrap_up_reasons``).

The city lists them as ``code = "label"`` or ``code = { en = "...", fr = "..." }``; codes are what the
call log stores, labels are shown in the reader's language.
"""
from __future__ import annotations

import re
from typing import Any

from flask import current_app
from flask_babel import lazy_gettext as _l

from core.i18n_content import current_locale, default_locale, pick
from core.records import ConfigProblem

KEY = "call_wrap_up_reasons"
CODE = re.compile(r"[a-z0-9_]+")
MAX_CODE = 40  # Call.wrap_up
MAX_LABEL = 200
# A call about an existing case is recorded with this code, whether or not the city lists it.
EXISTING_CASE = "existing_case"
# Labels of the codes the desk itself uses, when the city config does not name them.
BUILT_IN = {EXISTING_CASE: _l("Status of an existing case given"), "other": _l("Other")}


def configured() -> dict[str, Any]:
    """The city's reasons, in the config's order (an empty table when there are none)."""
    reasons = current_app.extensions["civic"].plugin_config["intake"].get(KEY) or {}
    return reasons if isinstance(reasons, dict) else {}


def label(code: str, locale: str | None = None) -> str:
    """A reason's label in ``locale`` (the request's by default); its code when it is unknown."""
    value = configured().get(code)
    if isinstance(value, dict):
        text = pick(value.get(default_locale()), value, locale or current_locale())
        if text:
            return str(text)
    elif isinstance(value, str) and value:
        return value
    return str(BUILT_IN.get(code, code))


def choices() -> list[tuple[str, str]]:
    """(code, label) of the reasons an agent may pick; "Other" alone when the city lists none."""
    codes = list(configured()) or ["other"]
    return [(code, label(code)) for code in codes]


def log_choices() -> list[tuple[str, str]]:
    """The call log's filter: every configured reason, and the existing-case code."""
    codes = list(configured())
    if EXISTING_CASE not in codes:
        codes.append(EXISTING_CASE)
    return [(code, label(code)) for code in codes]


def config_problems(config) -> list[ConfigProblem]:
    """One line per problem of ``[intake] call_wrap_up_reasons``, keyed ``intake.call_wrap_up_reasons.<code>``."""
    reasons = config.section("intake").get(KEY)
    base = f"intake.{KEY}"
    if reasons is None:
        return []
    if not isinstance(reasons, dict):
        return [ConfigProblem(base, 'must be a table of code = "label" or code = { en = "...", fr = "..." }')]
    rules = config.locale_rules
    found: list[ConfigProblem] = []
    for code, value in reasons.items():
        key = f"{base}.{code}"
        if not CODE.fullmatch(code) or len(code) > MAX_CODE:
            found.append(ConfigProblem(key, f"a code is at most {MAX_CODE} lower-case letters, digits and _ (e.g. trash_schedule)"))
        if isinstance(value, str):
            texts = {rules.default: value}
        elif isinstance(value, dict):
            texts = value
            unknown = [loc for loc in value if loc not in rules.locales]
            if unknown:
                shown = ", ".join(map(repr, unknown))
                found.append(ConfigProblem(key, f"unknown locale {shown} (city.locales: {', '.join(rules.locales)})"))
            if rules.default not in value:
                found.append(ConfigProblem(key, f"the label in the default locale '{rules.default}' is required"))
        else:
            found.append(ConfigProblem(key, f'must be a label ("Wrong number") or a table of locale = label, not {value!r}'))
            continue
        bad = [loc for loc, text in texts.items() if not isinstance(text, str) or not text.strip() or len(text) > MAX_LABEL]
        if bad:
            found.append(ConfigProblem(key, f"each label is text of 1 to {MAX_LABEL} characters (check: {', '.join(bad)})"))
    return found
