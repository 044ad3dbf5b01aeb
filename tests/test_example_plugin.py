"""The example plugin in examples/civic-streetlights, installed the way another city would install it: built and
installed by pip as its own distribution, enabled in a city config, migrated by `civic init`; then its hook (the
nearest-pole panel on a streetlight case), its screen (the pole register, with its roles), its command (the CSV
import), its config check and its French catalog all work -- in processes that know nothing of the test suite."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "civic-streetlights"
CITY = ROOT / "config" / "palm-coast.toml"
ENABLED = 'enabled = ["i18n", "intake", "knowledge", "fieldservice", "fema"]'
POLES = "pole,street,lat,long,lamp\nPC-0412,Belle Terre Pkwy,29.5501,-81.2201,LED\nPC-0413,Belle Terre Pkwy,29.5508,-81.2201,HPS\n,nowhere,1,1,\n"


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """The example built from a copy (the checkout stays clean) and installed by pip into a folder of its own."""
    tmp = tmp_path_factory.mktemp("example")
    source = tmp / "civic-streetlights"
    shutil.copytree(EXAMPLE, source, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    target = tmp / "site"
    done = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--quiet", "--target", str(target), str(source)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert (target / "civic_streetlights" / "migrations" / "versions" / "streetlights_0001_poles.py").exists()
    assert (target / "civic_streetlights" / "translations" / "fr" / "LC_MESSAGES" / "messages.mo").exists()
    return target


@pytest.fixture(scope="module")
def city(site, tmp_path_factory) -> dict[str, str]:
    """A city that enables the plugin: its config, its data folder and its SQLite database, as environment."""
    tmp = tmp_path_factory.mktemp("city")
    text = CITY.read_text(encoding="utf-8")
    assert ENABLED in text
    shutil.copytree(CITY.parent, tmp / "config")  # the files the config names (GIS layers...) sit next to it
    config = tmp / "config" / "city.toml"
    config.write_text(text.replace(ENABLED, ENABLED[:-1] + ', "streetlights"]') + "\n[streetlights]\nradius_m = 100\n", encoding="utf-8")
    return {**os.environ, "PYTHONPATH": f"{site}{os.pathsep}{ROOT}", "CIVIC_CONFIG": str(config), "CIVIC_DATA_DIR": str(tmp / "data"),
            "CIVIC_DATABASE_URL": f"sqlite:///{tmp / 'civic.db'}"}


def civic(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", "from core.cli import main; main()", *args], env=env, capture_output=True,
                          text=True, timeout=300, cwd=env["CIVIC_DATA_DIR"].rsplit(os.sep, 1)[0])


@pytest.fixture(scope="module")
def city_with_poles(city, tmp_path_factory) -> tuple[dict[str, str], subprocess.CompletedProcess]:
    """The city initialised (the plugin's migration run) and the poles imported by the plugin's own command."""
    init = civic(city, "init")
    assert init.returncode == 0, init.stdout + init.stderr
    poles = tmp_path_factory.mktemp("poles") / "poles.csv"
    poles.write_text(POLES, encoding="utf-8")
    return city, civic(city, "streetlights", "import", str(poles))


def test_the_installed_plugin_is_migrated_listed_and_imports_poles(city_with_poles):
    city, imported = city_with_poles
    listed = civic(city, "plugins")
    assert listed.returncode == 0, listed.stderr
    line = next(line for line in listed.stdout.splitlines() if "streetlights" in line)
    assert "1.0.0" in line and "civic-streetlights" in line, listed.stdout
    assert imported.returncode == 0, imported.stdout + imported.stderr
    assert "line 4 skipped: pole: is required" in imported.stdout
    assert "2 added, 0 updated, 1 skipped" in imported.stdout


SCRIPT = textwrap.dedent('''
    import json, re
    from flask_babel import force_locale, lazy_gettext
    from sqlalchemy import text
    from core import create_app
    from core.extensions import db
    from core.services.cases import create_case
    from core.services.users import create_user

    app = create_app()
    out = {}
    with app.app_context():
        out["version"] = db.session.execute(text("SELECT version_num FROM alembic_version_streetlights")).scalar()
        for name, role in (("sl_dispatcher", "Dispatcher"), ("sl_crew", "Field crew")):
            create_user(name, "street-lights-2026", role)
        db.session.commit()
        near = create_case(db.session, service_code="STREETLIGHT", description="dark corner", lat=29.5502, long=-81.2202)
        far = create_case(db.session, service_code="STREETLIGHT", description="dark road", lat=29.60, long=-81.30)
        ids = near.id, far.id
        with force_locale("fr"):
            out["french"] = str(lazy_gettext("Nearest streetlight poles"))
        docs = {}
        for answer in app.extensions["civic"].pm.hook.config_docs():
            docs.update(answer or {})
        out["docs"] = {k: v for k, v in docs.items() if k.startswith("streetlights.")}

    def signed_in(name):
        client = app.test_client()
        page = client.get("/login/").get_data(as_text=True)
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
        assert client.post("/login/", data={"username": name, "password": "street-lights-2026", "csrf_token": token}).status_code == 302
        return client

    dispatcher = signed_in("sl_dispatcher")
    register = dispatcher.get("/streetlightpoleview/list/")
    out["register"] = [register.status_code, "PC-0412" in register.get_data(as_text=True)]
    out["crew_register"] = signed_in("sl_crew").get("/streetlightpoleview/list/").status_code
    near_page = dispatcher.get(f"/caseview/show/{ids[0]}").get_data(as_text=True)
    far_page = dispatcher.get(f"/caseview/show/{ids[1]}").get_data(as_text=True)
    out["near"] = ["Nearest streetlight poles" in near_page, near_page.index("PC-0412") < near_page.index("PC-0413") if "PC-0413" in near_page else None]
    out["far"] = ["No pole within 100 m" in far_page, "PC-0412" in far_page]
    print(json.dumps(out))
''')


def test_its_panel_screen_roles_and_french_work_in_the_running_app(city_with_poles):
    city, _ = city_with_poles
    done = subprocess.run([sys.executable, "-c", SCRIPT], env=city, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["version"] == "streetlights_0001"  # its own migration, in its own version table
    assert seen["register"] == [200, True]  # the dispatcher reads the pole register (register_roles)
    assert seen["crew_register"] in (302, 403)  # a crew member does not
    assert seen["near"] == [True, True]  # the hook: nearest pole first on a case reported next to it
    assert seen["far"] == [True, False]  # nothing within the city's 100 m ([streetlights] radius_m)
    assert seen["french"] == "Poteaux d’éclairage les plus proches"
    assert seen["docs"] and all(seen["docs"].values())  # config_docs: what the admin reference says of its keys


def test_a_bad_setting_of_the_plugin_stops_start_up_with_one_line_naming_it(city, tmp_path):
    config = tmp_path / "bad.toml"
    config.write_text(Path(city["CIVIC_CONFIG"]).read_text(encoding="utf-8").replace("radius_m = 100", "radius_m = 5000"), encoding="utf-8")
    done = civic({**city, "CIVIC_CONFIG": str(config)}, "config", "check")
    assert done.returncode != 0
    assert "streetlights.radius_m: must be a number of metres from 1 to 1000" in done.stdout + done.stderr


def test_the_example_ships_a_complete_french_catalog():
    """Every message translated, none fuzzy (a fuzzy entry is left out of the compiled catalog)."""
    from babel.messages.pofile import read_po

    with open(EXAMPLE / "civic_streetlights" / "translations" / "fr" / "LC_MESSAGES" / "messages.po", "rb") as f:
        catalog = read_po(f)
    assert not catalog.fuzzy
    assert [m.id for m in catalog if m.id and (m.fuzzy or not m.string)] == []
