"""A third language is a config change plus a catalog: Spanish for Palm Coast, with a stub catalog
built here (docs/i18n.md tells a city how to do it for real)."""
from __future__ import annotations

from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo

from core.config import ConfigError
from tests.conftest import build_app, login
from tests.fixtures import close_app
from tests.plugins.i18n.conftest import other_city, page_language, saved_locale

SPANISH_HEADING = "Casos abiertos por departamento y estado"  # "Open cases by department and status"


def write_catalog(folder: Path, locale: str, messages: dict[str, str]) -> None:
    catalog = Catalog(locale=locale)
    for msgid, msgstr in messages.items():
        catalog.add(msgid, msgstr)
    target = folder / locale / "LC_MESSAGES"
    target.mkdir(parents=True, exist_ok=True)
    with (target / "messages.mo").open("wb") as fh:
        write_mo(fh, catalog)


@pytest.fixture(scope="module")
def spanish_city(app, database_url, tmp_path_factory):
    """Palm Coast with `es` added to city.locales and the city's catalogs in ./catalogs beside its config."""
    directory = tmp_path_factory.mktemp("spanish-city")
    write_catalog(directory / "catalogs", "es", {"Open cases by department and status": SPANISH_HEADING, "Dashboard": "Tablero"})
    write_catalog(directory / "catalogs", "fr", {"Dashboard": "Tableau de bord de la Ville"})
    config = other_city(
        directory,
        replace={'locales = ["en", "fr"]': 'locales = ["en", "fr", "es"]'},
        i18n='translation_directories = ["catalogs"]\n',  # relative: read from the config file's folder
    )
    application = build_app(database_url, config)
    yield application
    close_app(application)


def test_a_staff_page_is_in_spanish_for_a_spanish_browser(spanish_city, new_user):
    client = login(spanish_city.test_client(), new_user())
    html = client.get("/dashboard/", headers={"Accept-Language": "es-US,es;q=0.9,en;q=0.5"}).get_data(as_text=True)
    assert page_language(html) == "es"
    assert SPANISH_HEADING in html and "Open cases by department and status" not in html


def test_spanish_is_offered_by_the_switcher_and_saved(spanish_city, new_user):
    username = new_user()
    client = login(spanish_city.test_client(), username)
    html = client.get("/dashboard/", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert 'href="/lang/es"' in html and "Español" in html
    assert client.get("/lang/es").status_code == 302
    assert saved_locale(spanish_city, username) == "es"
    assert page_language(client.get("/dashboard/").get_data(as_text=True)) == "es"


def test_the_citys_catalogs_have_the_last_word(spanish_city, new_user):
    """A city may reword any string: its catalogs are loaded after FAB's, the core's and the plugins'."""
    client = login(spanish_city.test_client(), new_user())
    assert "Tableau de bord de la Ville" in client.get("/dashboard/", headers={"Accept-Language": "fr"}).get_data(as_text=True)


def test_a_city_that_does_not_offer_spanish_ignores_a_spanish_browser(app):
    html = app.test_client().get("/login/", headers={"Accept-Language": "es"}).get_data(as_text=True)
    assert page_language(html) == "en"


# ---------------------------------------------------------------- the [i18n] section, checked at start-up

def startup_error(tmp_path: Path, **changes) -> list[str]:
    config = other_city(tmp_path, **changes)
    with pytest.raises(ConfigError) as caught:
        build_app(f"sqlite:///{tmp_path / 'unused.db'}", config)
    return [line.split(": ", 1)[1] for line in caught.value.lines]  # without the file name


def test_a_catalog_folder_that_does_not_exist_stops_startup_with_one_line(tmp_path):
    lines = startup_error(tmp_path, i18n='translation_directories = ["/nowhere/catalogs"]\n')
    assert lines == ["i18n.translation_directories[0]: folder '/nowhere/catalogs' does not exist"]


def test_bad_format_locales_currency_and_keys_are_named(tmp_path):
    lines = startup_error(tmp_path, i18n='format_locales = { fr = "fr_XX", de = "de_DE" }\ncurrency = "DOLLARS"\ncolour = "blue"\n')
    assert "i18n.format_locales.fr: unknown locale 'fr_XX' (e.g. fr_CA, en_US)" in lines
    assert "i18n.format_locales.de: 'de' is not one of city.locales (en, fr)" in lines
    assert "i18n.currency: unknown currency 'DOLLARS' (an ISO 4217 code such as USD, CAD, EUR)" in lines
    assert any(line.startswith("i18n.colour: unknown key") for line in lines)
    assert len(lines) == 4
