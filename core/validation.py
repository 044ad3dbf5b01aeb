"""Validation messages in the reader's language.

marshmallow writes its messages in English.  They are listed here so that the
core catalog translates them, and ``translate_errors`` runs every message of a
nested error dict through gettext when it is shown (a message that is not in
the catalog comes out unchanged).
"""
from __future__ import annotations

from typing import Any

from flask_babel import gettext
from flask_babel import lazy_gettext as _l

MARSHMALLOW_MESSAGES = (
    _l("Missing data for required field."),
    _l("Field may not be null."),
    _l("Invalid value."),
    _l("Not a valid string."),
    _l("Not a valid number."),
    _l("Not a valid integer."),
    _l("Number too large."),
    _l("Special numeric values (nan or infinity) are not permitted."),
    _l("Not a valid datetime."),
    _l("Not a valid date."),
    _l("Not a valid list."),
    _l("Not a valid boolean."),
    _l("Not a valid email address."),
    _l("Not a valid mapping type."),
    _l("Invalid type."),
    _l("Invalid input type."),
    _l("Unknown field."),
)


def translate_errors(errors: Any) -> Any:
    """The same nested structure, each message translated into the current locale."""
    if isinstance(errors, dict):
        return {key: translate_errors(value) for key, value in errors.items()}
    if isinstance(errors, (list, tuple)):
        return [translate_errors(value) for value in errors]
    if isinstance(errors, str):
        return gettext(errors) if "%" not in errors else errors
    return errors
