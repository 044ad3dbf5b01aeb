"""Catalog content in English and French: declared in the city config, stored in the database, shown in
the reader's language, with the default language wherever a text has no translation."""
from __future__ import annotations

import html
import json
import uuid

import pytest
import sqlalchemy as sa

from core.config import ConfigError, load_city_config
from tests.conftest import PASSWORD, build_app, csrf_token, login
from tests.fixtures import BACKENDS, close_app, fresh_database, run_civic

NBSP = "\u00a0"

BUNNELL = """
[city]
name = "Bunnell"
jurisdiction_id = "bunnell.example.gov"
timezone = "America/New_York"
default_locale = "en"
locales = ["en", "fr"]
case_prefix = "BN"

[plugins]
enabled = []

[[departments]]
code = "PW"
name = { en = "Public Works", fr = "Travaux publics" }

[[departments]]
code = "PARKS"
name = "Parks"

[[services]]
code = "POTHOLE"
name = { en = "Pothole", fr = "Nid-de-poule" }
description = { en = "A hole in the road.", fr = "Un trou dans la chaussée." }
group = { en = "Roads", fr = "Rues" }
keywords = { en = ["pothole", "hole"], fr = ["nid-de-poule", "trou"] }
department = "PW"
[[services.attributes]]
code = "SIZE"
description = { en = "How large?", fr = "Quelle taille ?" }
datatype = "singlevaluelist"
required = true
values = [{ key = "small", name = { en = "Small", fr = "Petit" } }, { key = "large", name = "Large" }]

[[services]]
code = "TREE"
name = "Fallen tree"
keywords = ["tree"]
department = "PARKS"
"""


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:6].upper()}"


def text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def in_script(s: str) -> str:
    """``s`` as Flask's ``tojson`` writes it inside a page's script."""
    return json.dumps(s)[1:-1].replace("<", "\\u003c").replace(">", "\\u003e")


# --- the city config ---------------------------------------------------------------------------

def test_config_with_localized_texts_loads_default_text_and_translations(tmp_path):
    path = tmp_path / "bunnell.toml"
    path.write_text(BUNNELL, encoding="utf-8")
    config = load_city_config(path)
    pw, parks = config.departments
    assert (pw["name"], pw["translations"]) == ("Public Works", {"fr": {"name": "Travaux publics"}})
    assert (parks["name"], parks["translations"]) == ("Parks", {})
    pothole, tree = config.services
    assert (pothole["name"], pothole["group"], pothole["keywords"]) == ("Pothole", "Roads", ["pothole", "hole"])
    assert pothole["translations"] == {"fr": {"name": "Nid-de-poule", "description": "Un trou dans la chaussée.", "group": "Rues",
                                              "keywords": ["nid-de-poule", "trou"]}}
    size = pothole["attributes"][0]
    assert (size["description"], size["description_i18n"]) == ("How large?", {"fr": "Quelle taille ?"})
    assert size["values"] == [{"key": "small", "name": "Small", "name_i18n": {"fr": "Petit"}}, {"key": "large", "name": "Large"}]
    assert (tree["name"], tree["keywords"], tree["translations"]) == ("Fallen tree", ["tree"], {})


CONFIG_PROBLEMS = {
    "missing-default-text": (
        ('name = { en = "Pothole", fr = "Nid-de-poule" }', 'name = { fr = "Nid-de-poule" }'),
        "services[0].name", "the text in the default locale 'en' is required",
    ),
    "unknown-locale": (
        ('name = { en = "Public Works", fr = "Travaux publics" }', 'name = { en = "Public Works", de = "Bauamt" }'),
        "departments[0].name.de", "unknown locale 'de' (city.locales: en, fr)",
    ),
    "unknown-locale-in-a-value-name": (
        ('name = { en = "Small", fr = "Petit" }', 'name = { en = "Small", es = "Pequeño" }'),
        "services[0].attributes[0].values[0].name.es", "unknown locale 'es' (city.locales: en, fr)",
    ),
    "keywords-without-default": (
        ('keywords = { en = ["pothole", "hole"], fr', 'keywords = { fr'),
        "services[0].keywords", "the text in the default locale 'en' is required",
    ),
    "not-a-locale-code": (
        ('description = { en = "How large?", fr = "Quelle taille ?" }', 'description = { en = "How large?", French = "Quelle taille ?" }'),
        "services[0].attributes[0].description.French", "not a locale code",
    ),
}


@pytest.mark.parametrize("case", CONFIG_PROBLEMS.values(), ids=CONFIG_PROBLEMS.keys())
def test_a_localized_text_problem_is_one_line(case, tmp_path):
    (old, new), key, message = case
    assert old in BUNNELL
    path = tmp_path / "city.toml"
    path.write_text(BUNNELL.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_city_config(path)
    assert len(caught.value.lines) == 1, caught.value.lines
    line = caught.value.lines[0]
    assert line.startswith(f"{path}: {key}: ") and message in line, line


def test_config_check_names_the_unknown_locale_in_one_line(tmp_path):
    path = tmp_path / "city.toml"
    path.write_text(BUNNELL.replace('group = { en = "Roads", fr = "Rues" }', 'group = { en = "Roads", fr = "Rues", de = "Straßen" }'), encoding="utf-8")
    result = run_civic("config", "check", config=path, data_dir=tmp_path, site=False)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.splitlines() == [f"{path}: services[0].group.de: unknown locale 'de' (city.locales: en, fr)"]


def test_the_demo_city_has_french_for_every_department_and_service():
    from tests.conftest import DEMO_CONFIG

    config = load_city_config(DEMO_CONFIG)
    assert len(config.departments) == 21 and len(config.services) == 43
    assert all(d["translations"]["fr"]["name"] != d["name"] for d in config.departments)
    for s in config.services:
        fr = s["translations"]["fr"]
        assert set(fr) == {"name", "description", "group", "keywords"}, s["code"]
        for defn in s["attributes"]:
            assert defn["description_i18n"]["fr"], (s["code"], defn["code"])
    pothole = next(s for s in config.services if s["code"] == "POTHOLE")
    assert pothole["translations"]["fr"]["name"] == "Nid-de-poule"
    assert pothole["attributes"][0]["description_i18n"]["fr"] == f"Quelle est la taille du nid-de-poule{NBSP}?"


# --- civic config sync and migration 0002 ------------------------------------------------------

@pytest.mark.parametrize("backend", BACKENDS)
def test_config_sync_stores_translations_and_upserts_them(backend, tmp_path):
    from core import migrate
    from core.extensions import db
    from core.i18n_content import localized
    from core.models import Department, ServiceType

    v1, v2 = tmp_path / "v1.toml", tmp_path / "v2.toml"
    v1.write_text(BUNNELL, encoding="utf-8")
    # The city corrects a French name and gives the tree service its French.
    v2.write_text(BUNNELL.replace('fr = "Travaux publics"', 'fr = "Travaux publics et voirie"')
                  .replace('name = "Fallen tree"', 'name = { en = "Fallen tree", fr = "Arbre tombé" }'), encoding="utf-8")
    with fresh_database(backend, tmp_path) as url:
        app = build_app(url, v1)
        try:
            with app.app_context():
                migrate.upgrade()
            first = run_civic("config", "sync", config=v1, database_url=url, data_dir=tmp_path, site=False)
            assert first.stdout.strip() == "catalog: 4 created, 0 updated, 0 deactivated", first.stderr
            with app.app_context():
                pw = db.session.scalar(sa.select(Department).where(Department.code == "PW"))
                pothole = db.session.scalar(sa.select(ServiceType).where(ServiceType.code == "POTHOLE"))
                assert pw.translations == {"fr": {"name": "Travaux publics"}}
                assert pothole.translations == {"fr": {"name": "Nid-de-poule", "description": "Un trou dans la chaussée.",
                                                       "group": "Rues", "keywords": "nid-de-poule,trou"}}
                assert pothole.attributes[0]["description_i18n"] == {"fr": "Quelle taille ?"}
                assert (localized(pothole, "name", "fr"), localized(pothole, "name", "en")) == ("Nid-de-poule", "Pothole")
                assert localized(pothole, "name", "fr_CA") == "Nid-de-poule"
                db.session.remove()

            again = run_civic("config", "sync", config=v1, database_url=url, data_dir=tmp_path, site=False)
            assert again.stdout.strip() == "catalog: 0 created, 0 updated, 0 deactivated"
            changed = run_civic("config", "sync", config=v2, database_url=url, data_dir=tmp_path, site=False)
            assert changed.stdout.strip() == "catalog: 0 created, 2 updated, 0 deactivated"
            with app.app_context():
                rows = {d.code: d.translations for d in db.session.scalars(sa.select(Department))}
                tree = db.session.scalar(sa.select(ServiceType).where(ServiceType.code == "TREE"))
                assert rows == {"PW": {"fr": {"name": "Travaux publics et voirie"}}, "PARKS": {}}
                assert (tree.translations, localized(tree, "name", "fr")) == ({"fr": {"name": "Arbre tombé"}}, "Arbre tombé")
                db.session.remove()
        finally:
            close_app(app)


@pytest.mark.parametrize("backend", BACKENDS)
def test_db_upgrade_adds_translations_to_an_existing_0001_database_with_its_data_intact(backend, tmp_path):
    from alembic import command

    from core import migrate
    from core.extensions import db

    path = tmp_path / "bunnell.toml"
    path.write_text(BUNNELL, encoding="utf-8")
    with fresh_database(backend, tmp_path) as url:
        app = build_app(url, path)
        try:
            with app.app_context():  # a city that installed before 0002: its schema, its rows
                command.upgrade(migrate.alembic_config(migrate.CORE_SPEC), "0001")
                with db.engine.begin() as conn:
                    meta = sa.MetaData()
                    department, service_type, case = (sa.Table(n, meta, autoload_with=conn) for n in ("department", "service_type", "case"))
                    assert "translations" not in department.c
                    conn.execute(department.insert(), {"id": 7, "code": "PW", "name": "Public Works", "active": True})
                    conn.execute(service_type.insert(), {
                        "id": 9, "code": "POTHOLE", "name": "Pothole", "description": "A hole", "group": "Roads",
                        "keywords": "pothole,hole", "department_id": 7, "public": True, "type": "realtime", "active": True,
                        "attributes": [{"code": "SIZE", "description": "How large?", "datatype": "string"}],
                    })
                    now = sa.func.current_timestamp()
                    conn.execute(case.insert().values(
                        id=11, reference="BN-2026-000001", service_type_id=9, description="Deep one", status="new",
                        priority="normal", channel="phone", department_id=7, attributes={"SIZE": "big"},
                        created_at=now, updated_at=now, version=1,
                    ))
                db.session.remove()
                db.engine.dispose()

            upgrade = run_civic("db", "upgrade", config=path, database_url=url, data_dir=tmp_path, site=False)
            assert upgrade.returncode == 0, upgrade.stderr

            with app.app_context():
                with db.engine.connect() as conn:
                    from alembic.script import ScriptDirectory

                    from core import migrate

                    head = ScriptDirectory.from_config(migrate.alembic_config(migrate.CORE_SPEC, [migrate.CORE_SPEC])).get_current_head()
                    assert conn.execute(sa.text("SELECT version_num FROM alembic_version_core")).scalar() == head
                    meta = sa.MetaData()
                    department, service_type, case = (sa.Table(n, meta, autoload_with=conn) for n in ("department", "service_type", "case"))
                    assert conn.execute(sa.select(department.c.code, department.c.name, department.c.translations)).one() == ("PW", "Public Works", {})
                    svc = conn.execute(sa.select(service_type)).mappings().one()
                    assert (svc["name"], svc["group"], svc["keywords"], svc["translations"]) == ("Pothole", "Roads", "pothole,hole", {})
                    assert svc["attributes"] == [{"code": "SIZE", "description": "How large?", "datatype": "string"}]
                    assert conn.execute(sa.select(case.c.reference, case.c.service_type_id, case.c.department_id)).one() == ("BN-2026-000001", 9, 7)
                db.session.remove()
                db.engine.dispose()

            sync = run_civic("config", "sync", config=path, database_url=url, data_dir=tmp_path, site=False)
            assert sync.returncode == 0 and sync.stdout.strip() == "catalog: 2 created, 2 updated, 0 deactivated", sync.stdout + sync.stderr
            with app.app_context():
                pw = db.session.execute(sa.text("SELECT id FROM department WHERE code = 'PW'")).scalar()
                assert pw == 7  # updated in place: the case keeps its department
                from core.models import ServiceType

                assert db.session.get(ServiceType, 9).translations["fr"]["name"] == "Nid-de-poule"
                db.session.remove()
        finally:
            close_app(app)


# --- the staff screens in French ---------------------------------------------------------------

@pytest.fixture
def untranslated_service(app):
    """A service the city has not translated yet (Public Works)."""
    from core.extensions import db
    from core.models import Department, ServiceType

    code = unique("DUNE_")
    with app.app_context():
        pw = db.session.scalar(sa.select(Department).where(Department.code == "PW"))
        db.session.add(ServiceType(code=code, name=f"Dune erosion {code}", description="Sand washed off a dune walkover.",
                                   group="Beaches", keywords="dune,sand", department=pw, sla_hours=72))
        db.session.commit()
        db.session.remove()
    return code


def make_case(app, service_code: str, attributes: dict | None = None) -> tuple[int, str]:
    from core.extensions import db
    from core.services.cases import create_case

    with app.app_context():
        case = create_case(db.session, service_code=service_code, attributes=attributes or {}, description="Seen this morning")
        ids = case.id, case.reference
        db.session.remove()
        return ids


@pytest.fixture
def reader(app):
    """``reader("fr")``: a client signed in as a new staff member (Dispatcher, or Admin with ``role``) who chose
    that language with the switcher before signing in (so no other test's saved preference gets in the way,
    and none is left behind)."""
    from core.services.users import create_user

    def make(locale: str | None, role: str = "Dispatcher"):
        username = f"reader_{uuid.uuid4().hex[:8]}"
        with app.app_context():
            create_user(username, PASSWORD, role, email=f"{username}@palmcoast.example.gov")
        client = app.test_client()
        if locale:
            client.get(f"/lang/{locale}")
        return login(client, username)

    return make


def test_french_case_list_shows_french_service_and_department_names_and_falls_back_to_english(app, reader, untranslated_service):
    _, pothole = make_case(app, "POTHOLE", {"SIZE": "small"})
    _, dune = make_case(app, untranslated_service)
    client = reader("fr")
    page = text(client.get(f"/caseview/list/?_flt_0_reference={pothole}"))
    assert pothole in page and "Nid-de-poule" in page and "Travaux publics – Voirie" in page
    assert ">Pothole<" not in page and "Public Works - Streets" not in page
    page = text(client.get(f"/caseview/list/?_flt_0_reference={dune}"))
    assert dune in page and f"Dune erosion {untranslated_service}" in page  # no French yet: the English name
    assert "Travaux publics – Voirie" in page


def test_french_case_page_shows_service_group_department_and_attributes_in_french(app, reader):
    case_id, _ = make_case(app, "POTHOLE", {"SIZE": "small", "LANE": "yes"})
    page = text(reader("fr").get(f"/caseview/show/{case_id}"))
    assert "Nid-de-poule" in page and "(Rues et trottoirs)" in page and "Travaux publics – Voirie" in page
    assert f"Quelle est la taille du nid-de-poule{NBSP}?" in page and "Plus petit qu’une assiette" in page
    assert f"Est-il dans une voie de circulation{NBSP}?" in page and ">Oui<" in page
    assert "Smaller than a dinner plate" not in page and "Roads and sidewalks" not in page
    # The other departments offered for rerouting are French too.
    assert "Services publics – Eau potable et égouts" in page and "Utilities - Water and Sewer" not in page


def test_english_case_page_is_unchanged(app, reader):
    case_id, _ = make_case(app, "POTHOLE", {"SIZE": "small"})
    page = text(reader(None).get(f"/caseview/show/{case_id}"))
    assert "Pothole" in page and "Smaller than a dinner plate" in page and "Public Works - Streets" in page
    assert "Nid-de-poule" not in page


def test_french_new_case_form_groups_services_in_french_and_validates_by_key(app, reader, untranslated_service):
    client = reader("fr")
    picker = text(client.get("/caseview/add"))
    assert "Rues et trottoirs" in picker and "Nid-de-poule" in picker and "Matières résiduelles" in picker
    assert "Roads and sidewalks" not in picker
    assert f"Dune erosion {untranslated_service}" in picker and "Beaches" in picker  # falls back to English

    form = text(client.get("/caseview/add?service=TREE_DOWN"))
    assert "Arbre tombé" in form and f"Que bloque-t-il{NBSP}?" in form
    assert "Des fils électriques" in form and 'value="power"' in form and "Power lines" not in form
    assert "Contrôle animalier" not in form and "Travaux publics – Voirie" in form  # handled by
    r = client.post("/caseview/add?service=TREE_DOWN", data={
        "csrf_token": csrf_token(form), "description": "Un chêne sur la rue", "priority": "normal", "channel": "phone",
        "attr_BLOCKING": ["road", "power"],
    })
    assert r.status_code == 302, text(r)
    created = text(client.get(r.headers["Location"]))
    assert "La rue, Des fils électriques" in created


def test_french_dashboard_shows_french_department_names(app, reader):
    make_case(app, "WATER_LEAK", {"WHERE": "street"})
    make_case(app, "POTHOLE", {"SIZE": "large"})
    page = text(reader("fr").get("/dashboard/"))
    assert "Travaux publics – Voirie" in page and "Services publics – Eau potable et égouts" in page
    assert "Public Works - Streets" not in page and "Utilities - Water and Sewer" not in page


def test_fab_related_columns_and_filters_show_french_names(app, reader):
    client = reader("fr", "Admin")
    services = text(client.get("/servicetypeview/list/?psize_ServiceTypeView=100"))
    assert "Nid-de-poule" in services and "Rues et trottoirs" in services and "Travaux publics – Voirie" in services
    departments = text(client.get("/departmentview/list/"))
    assert "Sécurité incendie et sauvetage" in departments and "Fire Rescue" not in departments
    # The filters of the case list offer French names (FAB writes its filter widgets as JSON).
    cases = client.get("/caseview/list/").get_data(as_text=True)
    assert in_script(">Environnement et matières résiduelles<") in cases
    assert in_script(">Nid-de-poule<") in cases and in_script(">Pothole<") not in cases


# --- the catalog screens -----------------------------------------------------------------------

def test_admin_edits_a_services_translations_as_json(app, reader, untranslated_service):
    from core.extensions import db
    from core.models import ServiceType

    with app.app_context():
        svc = db.session.scalar(sa.select(ServiceType).where(ServiceType.code == untranslated_service))
        pk, dept_id = svc.id, svc.department_id
        db.session.remove()
    admin = reader(None, "Admin")
    page = admin.get(f"/servicetypeview/edit/{pk}").get_data(as_text=True)
    assert 'name="translations_json"' in page
    form = {
        "csrf_token": csrf_token(page), "code": untranslated_service, "name": "Dune erosion", "description": "Sand washed off.",
        "group": "Beaches", "keywords": "dune, sand", "department": str(dept_id), "sla_hours": "72", "public": "y",
        "type": "realtime", "active": "y", "attributes_json": json.dumps([
            {"code": "WHERE", "description": {"en": "Which walkover?", "fr": "Quel passage ?"}, "datatype": "string"}]),
        "translations_json": json.dumps({"fr": {"name": "Érosion de dune", "group": "Plages", "keywords": ["dune", "sable"]}}),
    }
    assert admin.post(f"/servicetypeview/edit/{pk}", data=form).status_code == 302
    with app.app_context():
        svc = db.session.get(ServiceType, pk)
        assert svc.translations == {"fr": {"name": "Érosion de dune", "group": "Plages", "keywords": "dune,sable"}}
        assert svc.attributes[0]["description_i18n"] == {"fr": "Quel passage ?"}
        db.session.remove()
    # The edit page shows the translations back as JSON.
    assert "Érosion de dune" in html.unescape(admin.get(f"/servicetypeview/edit/{pk}").get_data(as_text=True))

    # A language the city does not offer is refused beside the field; nothing is saved.
    form["translations_json"] = json.dumps({"de": {"name": "Dünenerosion"}})
    r = admin.post(f"/servicetypeview/edit/{pk}", data=form)
    assert r.status_code == 200 and "unknown language 'de'" in html.unescape(r.get_data(as_text=True))
    form["translations_json"] = json.dumps({"fr": {"colour": "bleu"}})
    r = admin.post(f"/servicetypeview/edit/{pk}", data=form)
    assert r.status_code == 200 and "fr.colour is not a translatable field" in html.unescape(r.get_data(as_text=True))
    with app.app_context():
        assert db.session.get(ServiceType, pk).translations["fr"]["name"] == "Érosion de dune"
        db.session.remove()


# --- the REST API ------------------------------------------------------------------------------

def service_pk(app, code: str) -> int:
    from core.extensions import db
    from core.models import ServiceType

    with app.app_context():
        pk = db.session.scalar(sa.select(ServiceType.id).where(ServiceType.code == code))
        db.session.remove()
        return pk


def test_api_catalog_answers_in_the_requested_language_with_every_translation(app, api_headers, untranslated_service):
    client, headers = app.test_client(), api_headers("dispatcher")
    pothole = client.get(f"/api/v1/service/{service_pk(app, 'POTHOLE')}?_l_=fr", headers=headers).json["result"]
    assert (pothole["name"], pothole["group"], pothole["department"]["name"]) == ("Nid-de-poule", "Rues et trottoirs", "Travaux publics – Voirie")
    assert pothole["translations"]["en"]["name"] == "Pothole" and pothole["translations"]["fr"]["name"] == "Nid-de-poule"
    assert pothole["attributes"][0]["description_i18n"]["fr"] == f"Quelle est la taille du nid-de-poule{NBSP}?"
    english = client.get(f"/api/v1/service/{service_pk(app, 'POTHOLE')}", headers=headers).json["result"]
    assert (english["name"], english["department"]["name"]) == ("Pothole", "Public Works - Streets")

    listing = client.get("/api/v1/service/?_l_=fr&q=(page_size:100)", headers=headers).json["result"]
    names = {s["code"]: s["name"] for s in listing}
    assert names["WATER_LEAK"] == "Fuite d’eau"
    dune = client.get(f"/api/v1/service/{service_pk(app, untranslated_service)}?_l_=fr", headers=headers).json["result"]
    assert dune["name"] == f"Dune erosion {untranslated_service}" and dune["translations"] == {"en": dune["translations"]["en"]}

    departments = client.get("/api/v1/department/?_l_=fr&q=(page_size:100)", headers=headers).json["result"]
    assert {d["code"]: d["name"] for d in departments}["FIRE"] == "Sécurité incendie et sauvetage"


def test_api_case_answers_service_name_in_the_requested_language(app, api_headers, untranslated_service):
    client, headers = app.test_client(), api_headers("dispatcher")
    case_id, _ = make_case(app, "POTHOLE", {"SIZE": "small"})
    assert client.get(f"/api/v1/case/{case_id}?_l_=fr", headers=headers).json["result"]["service_type"]["name"] == "Nid-de-poule"
    assert client.get(f"/api/v1/case/{case_id}", headers=headers).json["result"]["service_type"]["name"] == "Pothole"
    dune_id, dune_ref = make_case(app, untranslated_service)
    listing = client.get("/api/v1/case/?_l_=fr&q=(page_size:100)", headers=headers).json["result"]
    by_id = {c["id"]: c["service_type"]["name"] for c in listing}
    assert by_id[case_id] == "Nid-de-poule" and by_id[dune_id] == f"Dune erosion {untranslated_service}"
    created = client.post("/api/v1/case/?_l_=fr", headers=headers, json={"service_code": "WATER_LEAK", "attributes": {"WHERE": "yard"}})
    assert created.status_code == 201 and created.json["result"]["service_type"]["name"] == "Fuite d’eau"


def test_api_admin_writes_localized_texts_like_the_config_file(app, api_headers):
    client, headers = app.test_client(), api_headers("admin")
    code = unique("KING_TIDE_")
    r = client.post("/api/v1/service/", headers=headers, json={
        "code": code, "name": {"en": "King tide flooding", "fr": "Inondation de grande marée"}, "department": "SW",
        "keywords": {"en": "tide, flooding", "fr": ["marée", "inondation"]},
        "attributes": [{"code": "DEPTH", "description": {"en": "How deep?", "fr": "Quelle profondeur ?"}, "datatype": "singlevaluelist",
                        "values": [{"key": "ankle", "name": {"en": "Ankle deep", "fr": "Aux chevilles"}}]}],
    })
    assert r.status_code == 201, r.json
    pk = r.json["id"]
    assert r.json["result"]["translations"]["fr"] == {"name": "Inondation de grande marée", "keywords": "marée,inondation"}
    assert r.json["result"]["attributes"][0]["values"][0]["name_i18n"] == {"fr": "Aux chevilles"}

    # A plain text changes the default language only; a table replaces every language of that text.
    r = client.put(f"/api/v1/service/{pk}?_l_=fr", headers=headers, json={"name": "King tide"})
    assert r.status_code == 200 and r.json["result"]["name"] == "Inondation de grande marée"
    assert r.json["result"]["translations"]["en"]["name"] == "King tide"
    r = client.put(f"/api/v1/service/{pk}", headers=headers, json={"name": {"en": "King tide flooding"}})
    assert r.status_code == 200 and "name" not in r.json["result"]["translations"].get("fr", {})
    assert r.json["result"]["translations"]["fr"]["keywords"] == "marée,inondation"

    r = client.put(f"/api/v1/service/{pk}", headers=headers, json={"name": {"fr": "Marée"}})
    assert r.status_code == 400 and "the text in the default locale 'en' is required" in r.json["message"]["name"][0]
    r = client.put(f"/api/v1/service/{pk}", headers=headers, json={"group": {"en": "Storm", "de": "Sturm"}})
    assert r.status_code == 400 and "unknown locale 'de'" in r.json["message"]["group.de"][0]
    r = client.post("/api/v1/department/", headers=headers, json={"code": unique("D"), "name": {"en": "Beach patrol", "fr": "Patrouille des plages"}})
    assert r.status_code == 201 and r.json["result"]["translations"]["fr"] == {"name": "Patrouille des plages"}
