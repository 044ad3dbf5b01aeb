"""The i18n plugin's whole contract with the core.

It chooses each request's language (saved preference, switcher, browser, city
default: see ``plugins.i18n.selector``), remembers a signed-in user's choice,
formats dates and numbers with regional patterns (``fr`` -> ``fr_CA``) and
adds the city's own catalogs (``[i18n] translation_directories``).
"""
from __future__ import annotations

import copy
from pathlib import Path

from babel import Locale, UnknownLocaleError
from babel.numbers import list_currencies
from flask import current_app

from core import hookimpl
from core.records import ConfigProblem, MigrationSpec, PluginInfo

HERE = Path(__file__).resolve().parent
DEFAULTS = {
    # language -> the Babel locale whose date and number patterns it is shown with
    "format_locales": {"en": "en_US", "fr": "fr_CA"},
    # the city's own catalogs (<folder>/<locale>/LC_MESSAGES/messages.mo), loaded after every other catalog
    "translation_directories": [],
    # ISO 4217 code of the money amounts shown by the `currency` filter
    "currency": "USD",
}


def settings() -> dict:
    return current_app.extensions["civic"].plugin_config["i18n"]


def _config_folder(config) -> Path:
    return Path(config.path).resolve().parent


def catalog_folders(section: dict, base: Path) -> list[Path]:
    """The configured catalog folders; a relative one is read from the config file's folder."""
    return [base / Path(d).expanduser() for d in section.get("translation_directories", [])]


@hookimpl
def plugin_info():
    return PluginInfo(
        name="i18n",
        version="0.1.0",
        description="English and French everywhere: locale choice, catalogs, formats.",
        requires=(),
    )


@hookimpl
def config_defaults():
    return copy.deepcopy(DEFAULTS)


@hookimpl
def config_docs():
    from plugins.i18n.config_docs import DOCS

    return dict(DOCS)


def _known_locale(name) -> bool:
    try:
        Locale.parse(name)
    except (UnknownLocaleError, ValueError, TypeError):
        return False
    return True


@hookimpl
def validate_config(config):
    section = config.section("i18n")
    problems = [
        ConfigProblem(f"i18n.{key}", f"unknown key (known: {', '.join(sorted(DEFAULTS))})") for key in section if key not in DEFAULTS
    ]
    city_locales = config.city["locales"]
    for code in city_locales:
        if not _known_locale(code):
            problems.append(ConfigProblem("i18n", f"city.locales: '{code}' is not a locale Babel knows (e.g. en, fr, es, fr_CA)"))
    formats = section.get("format_locales", {})
    if not isinstance(formats, dict):
        problems.append(ConfigProblem("i18n.format_locales", 'must be a table such as { fr = "fr_CA", en = "en_US" }'))
    else:
        for language, name in formats.items():
            if language not in city_locales:
                problems.append(ConfigProblem(f"i18n.format_locales.{language}", f"'{language}' is not one of city.locales ({', '.join(city_locales)})"))
            elif not isinstance(name, str) or not _known_locale(name):
                problems.append(ConfigProblem(f"i18n.format_locales.{language}", f"unknown locale {name!r} (e.g. fr_CA, en_US)"))
    folders = section.get("translation_directories", [])
    if not isinstance(folders, list) or not all(isinstance(d, str) for d in folders):
        problems.append(ConfigProblem("i18n.translation_directories", 'must be a list of folders such as ["/etc/civic/catalogs"]'))
    else:
        for i, folder in enumerate(catalog_folders(section, _config_folder(config))):
            if not folder.is_dir():
                problems.append(ConfigProblem(f"i18n.translation_directories[{i}]", f"folder '{folder}' does not exist"))
    currency = section.get("currency", DEFAULTS["currency"])
    if currency not in list_currencies():
        problems.append(ConfigProblem("i18n.currency", f"unknown currency {currency!r} (an ISO 4217 code such as USD, CAD, EUR)"))
    return problems


@hookimpl
def register_migrations():
    return [MigrationSpec("i18n", str(HERE / "migrations"), "alembic_version_i18n", "i18n_")]


@hookimpl
def translation_directories():
    # The city's own folders need its config, which this hook does not get: startup() adds them.
    return [str(HERE / "translations")]


@hookimpl
def startup(app):
    from plugins.i18n import selector

    own = settings()
    app.config["CIVIC_FORMAT_LOCALES"] = {**DEFAULTS["format_locales"], **own["format_locales"]}
    app.config["CIVIC_CURRENCY"] = own["currency"]
    _add_city_catalogs(app, catalog_folders(own, _config_folder(app.extensions["civic"].config)))
    selector.install(app)


def _add_city_catalogs(app, folders: list[Path]) -> None:
    """The city's catalogs come last, so their wording wins over FAB's, the core's and the plugins'."""
    if not folders:
        return
    names = [str(f) for f in folders]
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = ";".join([app.config["BABEL_TRANSLATION_DIRECTORIES"], *names])
    babel = app.extensions["babel"]
    babel.default_directories = [*babel.default_directories, *names]
    babel.translation_directories = [*babel.translation_directories, *names]


@hookimpl
def user_locale(user_id):
    """Staff e-mails (mentions) in the language the user chose on screen, or their resident account's."""
    from plugins.i18n.selector import saved_preference

    return saved_preference(user_id)
