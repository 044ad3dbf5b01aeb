"""Catalog content in the reader's language, with fallback to the city's default language.

The default locale's text lives in the ordinary columns (``name``, ``description``,
``group``, ``keywords``); the others in the row's ``translations`` JSON,
``{"fr": {"name": ..., "description": ..., "group": ..., "keywords": "a,b"}}``.
Attribute definitions carry theirs inline: ``description_i18n``,
``datatype_description_i18n`` and, on each value, ``name_i18n``.

Every helper takes an explicit ``locale`` (``"fr"``, ``"fr_CA"``, ``"fr-CA"``):
Open311 and notifications pass the resident's; without one, a request uses
its own locale (Flask-Babel's) and anything else the city's default.
``fr_CA`` falls back to ``fr``, then to the default text.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import current_app, has_app_context, has_request_context

TRANSLATABLE_FIELDS = ("name", "description", "group", "keywords")


def default_locale() -> str:
    """The city's default locale (``en`` outside an app)."""
    if has_app_context():
        civic = current_app.extensions.get("civic")
        if civic is not None:
            return civic.config.city["default_locale"]
        return current_app.config.get("BABEL_DEFAULT_LOCALE", "en")
    return "en"


def current_locale() -> str:
    """The request's locale (whatever Flask-Babel's selector chose), else the city's default."""
    if has_request_context():
        from flask_babel import get_locale

        locale = get_locale()
        if locale is not None:
            return str(locale)
    return default_locale()


def _candidates(locale: str | None) -> list[str]:
    """``fr-ca`` -> ``["fr_CA", "fr"]``: the exact locale first, then its language."""
    wanted = (locale or current_locale()).replace("-", "_")
    language, _, region = wanted.partition("_")
    language = language.lower()
    if region:
        return [f"{language}_{region.upper()}", language]
    return [language]


def pick(default_text: Any, translations: Mapping[str, Any] | None, locale: str | None = None) -> Any:
    """The text for ``locale`` from ``{locale: text}``; the default text when the locale has none."""
    if translations:
        default = default_locale()
        for candidate in _candidates(locale):
            if candidate == default:
                break
            text = translations.get(candidate)
            if text:
                return text
    return default_text


def _get(obj: Any, name: str, fallback: Any = None) -> Any:
    if isinstance(obj, Mapping):
        return obj.get(name, fallback)
    return getattr(obj, name, fallback)


def localized(obj: Any, field: str, locale: str | None = None) -> Any:
    """``obj.<field>`` in ``locale`` (default: the request's), falling back to the default text.

    ``obj`` is a Department or ServiceType, or any mapping with the same keys and
    ``translations`` (a row of the catalog API, a plain dict).
    """
    translations = _get(obj, "translations") or {}
    default_text = _get(obj, field)
    if not translations:
        return default_text
    per_locale = {loc: texts.get(field) for loc, texts in translations.items() if isinstance(texts, Mapping)}
    return pick(default_text, per_locale, locale)


def localized_keywords(obj: Any, locale: str | None = None) -> list[str]:
    """The keywords in ``locale`` as a list (stored comma-separated)."""
    text = localized(obj, "keywords", locale) or ""
    words = text if isinstance(text, list) else text.split(",")
    return [w.strip() for w in words if w.strip()]


def all_translations(obj: Any, fields: tuple[str, ...] = TRANSLATABLE_FIELDS) -> dict[str, dict[str, Any]]:
    """Every language's texts, the default locale's included: ``{"en": {"name": ...}, "fr": {...}}``."""
    out = {default_locale(): {f: _get(obj, f) for f in fields if _get(obj, f) is not None}}
    for locale, texts in (_get(obj, "translations") or {}).items():
        if locale != default_locale() and isinstance(texts, Mapping):
            out[locale] = {f: texts[f] for f in fields if texts.get(f)}
    return out


# ---------------------------------------------------------------- Open311 attribute definitions

def attribute_label(defn: Mapping[str, Any], locale: str | None = None) -> str:
    """The attribute's question (its Open311 ``description``) in ``locale``; its code when it has none."""
    return pick(defn.get("description"), defn.get("description_i18n"), locale) or defn["code"]


def attribute_help(defn: Mapping[str, Any], locale: str | None = None) -> str:
    """The attribute's ``datatype_description`` in ``locale`` ("" when none)."""
    return pick(defn.get("datatype_description") or "", defn.get("datatype_description_i18n"), locale) or ""


def value_name(value: Mapping[str, Any], locale: str | None = None) -> str:
    """One list value's name in ``locale``; its key when it has none."""
    return pick(value.get("name"), value.get("name_i18n"), locale) or value["key"]


def value_names(defn: Mapping[str, Any], locale: str | None = None) -> dict[str, str]:
    """``{key: name in locale}`` for a list attribute's values (validation stays by key)."""
    return {v["key"]: value_name(v, locale) for v in defn.get("values") or []}


def localized_attribute(defn: Mapping[str, Any], locale: str | None = None) -> dict[str, Any]:
    """An Open311 attribute definition with its texts in ``locale`` and no ``*_i18n`` keys (for Open311 answers)."""
    out = {k: v for k, v in defn.items() if not k.endswith("_i18n")}
    out["description"] = attribute_label(defn, locale)
    out["datatype_description"] = attribute_help(defn, locale)
    if "values" in defn:
        out["values"] = [{"key": v["key"], "name": value_name(v, locale)} for v in defn.get("values") or []]
    return out
