"""Which language a page or an API answer is in: saved preference, then the switcher's choice, then the
browser's Accept-Language, then the city's default; the API puts an explicit Accept-Language first."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from tests.conftest import api_token, login
from tests.plugins.i18n.conftest import account_language, other_city, page_language, saved_locale

CASES = "/caseview/list/"
LOGIN = "/login/"


def lang_of(client, url: str, accept_language: str | None = None) -> str:
    headers = {"Accept-Language": accept_language} if accept_language is not None else {}
    response = client.get(url, headers=headers)
    assert response.status_code == 200, f"{url}: {response.status_code}"
    return page_language(response.get_data(as_text=True))


# ---------------------------------------------------------------- the browser's Accept-Language

@pytest.mark.parametrize("header", ["fr-CA", "fr-FR", "fr", "fr-ca,fr;q=0.9,en;q=0.5"])
def test_a_browser_asking_for_any_french_gets_the_login_page_in_french(app, header):
    response = app.test_client().get(LOGIN, headers={"Accept-Language": header})
    html = response.get_data(as_text=True)
    assert page_language(html) == "fr"
    assert "Mot de passe" in html and "Password" not in html


def test_a_browser_without_a_preference_gets_the_citys_default_language(app):
    assert lang_of(app.test_client(), LOGIN) == "en"
    assert "Password" in app.test_client().get(LOGIN).get_data(as_text=True)


def test_pages_tell_caches_that_they_depend_on_accept_language(app):
    assert "Accept-Language" in app.test_client().get(LOGIN).headers.get("Vary", "")


@pytest.mark.parametrize(
    "header, expected",
    [
        ("fr;q=0.4, en;q=0.8", "en"),
        ("en;q=0.2, fr", "fr"),
        ("de, fr;q=0.3, en;q=0.2", "fr"),
        ("en-GB, fr;q=0.9", "en"),  # en-GB matches only by its language, and still wins on quality
        ("fr-CA, en-US;q=0.7, en;q=0.3", "fr"),
        ("fr;q=0, en;q=0.1", "en"),  # q=0: "not French"
    ],
)
def test_accept_language_quality_values_are_respected(app, header, expected):
    assert lang_of(app.test_client(), LOGIN, header) == expected


@pytest.mark.parametrize("header", ["de-DE, ja;q=0.8", "es", "*", "zz-ZZ"])
def test_a_language_the_city_does_not_offer_falls_back_to_the_default(app, header):
    assert lang_of(app.test_client(), LOGIN, header) == "en"


def test_the_fallback_is_the_citys_default_locale_not_english(app, city_on_demo_database, tmp_path):
    french_city = city_on_demo_database(other_city(tmp_path, replace={'default_locale = "en"': 'default_locale = "fr"'}))
    client = french_city.test_client()
    assert lang_of(client, LOGIN) == "fr"
    assert lang_of(client, LOGIN, "de") == "fr"
    assert lang_of(client, LOGIN, "en-US") == "en"


# ---------------------------------------------------------------- the switcher (FAB's /lang/<locale>)

def test_the_switchers_choice_beats_accept_language_for_the_session(app):
    client = app.test_client()
    assert client.get("/lang/fr").status_code == 302
    assert lang_of(client, LOGIN, "en-US,en") == "fr"
    assert lang_of(app.test_client(), LOGIN, "en-US,en") == "en"  # another browser is not affected


def test_the_switcher_offers_the_other_languages_of_the_page_actually_shown(app):
    """A page in French because of the browser marks French as current and offers English."""
    html = app.test_client().get(LOGIN, headers={"Accept-Language": "fr-CA"}).get_data(as_text=True)
    assert 'href="/lang/en"' in html and 'href="/lang/fr"' not in html
    html = app.test_client().get(LOGIN, headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert 'href="/lang/fr"' in html and 'href="/lang/en"' not in html


def test_the_switcher_saves_the_choice_of_a_signed_in_staff_member(app, new_user):
    username = new_user()
    client = login(app.test_client(), username)
    assert saved_locale(app, username) is None
    client.get("/lang/fr")
    assert saved_locale(app, username) == "fr"
    client.get("/lang/en")
    assert saved_locale(app, username) == "en"  # one row, updated


def test_the_switcher_refuses_a_language_the_city_does_not_offer(app, new_user):
    username = new_user()
    client = login(app.test_client(), username)
    client.get("/lang/fr")
    response = client.get("/lang/es")
    assert response.status_code == 404
    assert client.get("/lang/de").status_code == 404
    assert saved_locale(app, username) == "fr"
    assert lang_of(client, CASES) == "fr"
    refused = app.test_client().get("/lang/es", headers={"Accept-Language": "fr"})
    assert "Ce site n’est pas proposé dans cette langue." in refused.get_data(as_text=True)


# ---------------------------------------------------------------- the saved preference

def test_a_saved_preference_beats_the_session_and_the_browser(app, new_user):
    username = new_user()
    login(app.test_client(), username).get("/lang/fr")  # saved from one browser ...

    other_browser = app.test_client()
    other_browser.get("/lang/en")  # ... this one chose English before signing in
    login(other_browser, username)
    assert lang_of(other_browser, CASES, "en-US") == "fr"
    assert "Dossiers" in other_browser.get(CASES, headers={"Accept-Language": "en"}).get_data(as_text=True)


def test_staff_without_a_saved_preference_follow_their_browser(app, new_user):
    client = login(app.test_client(), new_user())
    assert lang_of(client, CASES, "fr-CA") == "fr"
    assert lang_of(client, CASES, "en") == "en"


def test_a_residents_account_language_is_their_saved_preference(app, new_user):
    resident = new_user("Resident", departments=(), language="fr")
    client = login(app.test_client(), resident)
    home = "/portal/"  # a resident's home: the site root sends them to the resident portal
    assert lang_of(client, home, "en-US") == "fr"
    client.get("/lang/en")  # the switcher changes the account, not a staff preference
    assert account_language(app, resident) == "en"
    assert saved_locale(app, resident) is None
    assert lang_of(client, home, "fr") == "en"


def test_the_plugin_keeps_its_table_in_its_own_migrations(app):
    from core.extensions import db

    with app.app_context():
        versions = db.session.execute(sa.text("SELECT version_num FROM alembic_version_i18n")).scalars().all()
        db.session.remove()
    assert versions == ["i18n_0001"]


def test_a_deleted_staff_members_saved_language_goes_with_them(app, new_user):
    from core.extensions import db

    username = new_user()
    login(app.test_client(), username).get("/lang/fr")
    with app.app_context():
        user = app.appbuilder.sm.find_user(username=username)
        user_id = user.id
        db.session.delete(user)
        db.session.commit()
        left = db.session.execute(sa.text("SELECT count(*) FROM i18n_user_locale WHERE user_id = :id"), {"id": user_id}).scalar()
        db.session.remove()
    assert left == 0


# ---------------------------------------------------------------- <html lang>

def test_html_lang_names_the_language_of_the_case_list_and_of_the_login_page(app, new_user):
    client = login(app.test_client(), new_user())
    assert lang_of(client, CASES) == "en"
    assert lang_of(client, "/dashboard/") == "en"
    client.get("/lang/fr")
    assert lang_of(client, CASES) == "fr"
    assert lang_of(client, "/dashboard/") == "fr"

    anonymous = app.test_client()
    assert lang_of(anonymous, LOGIN) == "en"
    anonymous.get("/lang/fr")
    assert lang_of(anonymous, LOGIN) == "fr"


# ---------------------------------------------------------------- the REST API

def test_the_api_answers_a_bad_request_in_french_when_asked(app, new_user):
    client = app.test_client()
    headers = api_token(client, new_user())
    french = client.post("/api/v1/case/", data="not json", headers={**headers, "Accept-Language": "fr-CA"})
    assert french.status_code == 400
    assert french.json["message"]["_schema"] == ["Le corps de la requête doit être un objet JSON (Content-Type: application/json)."]
    english = client.post("/api/v1/case/", data="not json", headers=headers)
    assert english.json["message"]["_schema"] == ["The request body must be a JSON object (Content-Type: application/json)."]


def test_the_api_labels_follow_accept_language(app, new_user):
    client = app.test_client()
    headers = api_token(client, new_user())
    french = client.get("/api/v1/case/_info", headers={**headers, "Accept-Language": "fr"}).json
    assert french["add_title"] == "Nouveau dossier"
    assert {f["name"]: f["label"] for f in french["add_columns"]}["service_code"] == "Code de prestation"
    english = client.get("/api/v1/case/_info", headers=headers).json
    assert english["add_title"] == "New case"
    assert {f["name"]: f["label"] for f in english["add_columns"]}["service_code"] == "Service code"


def test_an_explicit_accept_language_beats_the_saved_preference_on_the_api(app, new_user):
    username = new_user()
    login(app.test_client(), username).get("/lang/fr")  # saved: French
    client = app.test_client()
    headers = api_token(client, username)
    bad = {"data": "not json"}
    no_header = client.post("/api/v1/case/", headers=headers, **bad).json["message"]["_schema"][0]
    assert no_header.startswith("Le corps de la requête")  # the JWT user's saved preference
    english = client.post("/api/v1/case/", headers={**headers, "Accept-Language": "en-US"}, **bad).json["message"]["_schema"][0]
    assert english.startswith("The request body")


def test_staff_emails_are_written_in_the_language_the_staff_member_chose(app, new_user):
    from core.extensions import db
    from core.models import User

    username = new_user()
    with app.app_context():
        user_id = db.session.scalar(sa.select(User.id).where(User.username == username))
        assert app.extensions["civic"].pm.hook.user_locale(user_id=user_id) in (None, "en")
        db.session.remove()
    login(app.test_client(), username).get("/lang/fr")
    with app.app_context():
        assert app.extensions["civic"].pm.hook.user_locale(user_id=user_id) == "fr"
        db.session.remove()
