"""Plugins at start-up: discovery, the allow-list, `requires`, loud failures, `civic plugins`, per-plugin migrations.

Third-party plugins come from tests/fixtures/site, installed through their
entry points exactly as a city's own plugin would be.
"""
from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from core.config import ConfigError
from tests.conftest import PASSWORD, build_app, login, prepare_database
from tests.fixtures import BACKENDS, BUILT_IN, city_config, civic_env, close_app, fresh_database, plugin_site, run_civic


def with_requirements(name: str) -> list[str]:
    """A built-in plugin and what it requires, required plugins first."""
    from importlib.metadata import entry_points

    (ep,) = entry_points(group="civic_connect.plugins", name=name)
    out: list[str] = []
    for req in importlib.import_module(ep.value).plugin_info().requires:
        out += [n for n in with_requirements(req) if n not in out]
    return out + [name]


PLUGIN_SETS = {"all": BUILT_IN, "none": []} | {f"{name}-alone": with_requirements(name) for name in BUILT_IN}


def startup_error(tmp_path: Path, enabled: list[str], append: str = "") -> tuple[Path, list[str]]:
    """The lines of the ConfigError that create_app raises for a copy of the demo city."""
    config = city_config(tmp_path, enabled, append=append)
    with pytest.raises(ConfigError) as caught:
        build_app(f"sqlite:///{tmp_path / 'unused.db'}", config)
    return config, caught.value.lines


@pytest.fixture(scope="module", params=BACKENDS)
def city_database(request, tmp_path_factory):
    """One fresh database per backend, shared by the start-up tests of this module."""
    directory = tmp_path_factory.mktemp("plugins-city")
    with fresh_database(request.param, directory) as url:
        yield url


@pytest.mark.parametrize("enabled", PLUGIN_SETS.values(), ids=PLUGIN_SETS.keys())
def test_city_starts_and_admin_sees_home_and_cases(city_database, enabled, tmp_path):
    from core.services.users import create_user

    app = build_app(city_database, city_config(tmp_path, enabled))
    try:
        assert app.extensions["civic"].pm.enabled == enabled
        prepare_database(app)
        with app.app_context():
            create_user("admin", PASSWORD, "Admin")
        admin = login(app.test_client(), "admin")
        assert admin.get("/").status_code == 200
        cases = admin.get("/caseview/list/")
        assert cases.status_code == 200
        assert "Cases" in cases.get_data(as_text=True)
    finally:
        close_app(app)


def test_enabled_plugin_that_is_not_installed_stops_startup_naming_the_installed_ones(tmp_path):
    config, lines = startup_error(tmp_path, ["knowledge", "potholes"])
    assert len(lines) == 1
    assert lines[0].startswith(f"{config}: plugins.enabled: plugin 'potholes' is not installed (installed: ")
    installed = lines[0].split("installed: ")[1].rstrip(")").split(", ")
    assert set(BUILT_IN) <= set(installed) and "demo" not in installed


def test_plugin_discovery_sees_a_plugin_installed_or_removed_while_running():
    from core.plugins import installed_plugins

    assert "demo" not in installed_plugins()
    with plugin_site():
        demo = installed_plugins()["demo"]
        assert (demo.module, demo.distribution, demo.version) == ("civic_demo.plugin", "civic-demo", "0.3.0")
    assert "demo" not in installed_plugins()  # importlib.metadata keeps no stale cache


def test_plugin_whose_requirement_is_not_enabled_stops_startup_naming_both(tmp_path):
    with plugin_site():
        config, lines = startup_error(tmp_path, ["intake", "demo"])
    assert lines == [f"{config}: plugins.enabled: plugin 'demo' requires 'knowledge', which is not enabled"]


def test_plugins_are_registered_after_the_plugins_they_require(tmp_path):
    with plugin_site():
        app = build_app(f"sqlite:///{tmp_path / 'unused.db'}", city_config(tmp_path, ["demo", "intake", "knowledge"]))
    assert app.extensions["civic"].pm.enabled == ["knowledge", "demo", "intake"]


def test_misspelt_hookimpl_stops_startup_loudly(tmp_path):
    with plugin_site():
        config, lines = startup_error(tmp_path, ["typo"])
    assert lines == [f"{config}: plugins.enabled: plugin 'typo' implements 'route_cases', which is not a hook (did you mean 'route_case'?)"]


def test_hookimpl_asking_for_an_argument_the_hook_does_not_pass_stops_startup(tmp_path):
    with plugin_site():
        config, lines = startup_error(tmp_path, ["badargs"])
    assert len(lines) == 1
    assert lines[0].startswith(f"{config}: plugins.enabled: plugin 'badargs': ")
    assert "'route_case'" in lines[0] and "sesion" in lines[0]


def test_plugin_that_fails_to_import_stops_startup_with_one_line(tmp_path):
    with plugin_site():
        config, lines = startup_error(tmp_path, ["broken"])
    assert lines == [f"{config}: plugins.enabled: plugin 'broken' failed to import: No module named 'civic_no_such_dependency'"]


def test_installed_but_disabled_plugins_are_not_imported(tmp_path):
    config = city_config(tmp_path, ["knowledge"])
    script = (
        "import sys; from core import create_app; create_app(sys.argv[1]); "
        "print('\\n'.join(sorted(m for m in sys.modules if m.startswith(('plugins.', 'civic_')))))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, str(config)], env=civic_env(config, None, tmp_path), capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    imported = set(result.stdout.split())
    assert "plugins.knowledge.plugin" in imported
    assert {m.split(".")[1] for m in imported if m.startswith("plugins.")} == {"knowledge"}
    assert not {m for m in imported if m.startswith(("civic_demo", "civic_oddities"))}


def test_civic_plugins_lists_every_installed_plugin(tmp_path):
    result = run_civic("plugins", config=city_config(tmp_path, ["knowledge", "demo"]), data_dir=tmp_path)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "demo 0.3.0 [enabled] (civic-demo)\n    requires: knowledge\n    hooks: " in out
    assert "knowledge 0.1.0 [enabled] (civic-connect)\n    requires: -\n    hooks: " in out and "plugin_info" in out.split("knowledge 0.1.0")[1].splitlines()[2]
    assert "lazy 0.1.0 [disabled] (civic-oddities)\n" in out
    assert "fema 0.1.0 [disabled] (civic-connect)\n" in out
    hooks = out.split("demo 0.3.0 [enabled] (civic-demo)\n")[1].splitlines()[1].removeprefix("    hooks: ").split(", ")
    assert {"plugin_info", "register_migrations", "route_case", "case_created", "startup"} <= set(hooks)


def versions(url: str, table: str) -> list[str]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text(f"SELECT version_num FROM {table}")).scalars().all()
    finally:
        engine.dispose()


@pytest.mark.parametrize("backend", BACKENDS)
def test_db_upgrade_runs_core_then_plugin_and_a_disabled_plugins_tables_are_left_alone(backend, tmp_path):
    from core.services.users import create_user

    with fresh_database(backend, tmp_path) as url:
        with_demo = city_config(tmp_path, ["knowledge", "demo"], name="with-demo.toml")
        result = run_civic("db", "upgrade", config=with_demo, database_url=url, data_dir=tmp_path)
        assert result.returncode == 0, result.stderr
        ran = [line.split()[1] for line in result.stdout.splitlines() if line.startswith("migrations: ")]
        assert ran[0] == "core" and ran[-1] == "demo"
        assert versions(url, "alembic_version_demo") == ["demo_0001"]
        assert versions(url, "alembic_version_core") and "demo_0001" not in versions(url, "alembic_version_core")
        engine = sa.create_engine(url)
        with engine.begin() as conn:
            conn.execute(sa.text("INSERT INTO demo_note (title, body) VALUES ('kept', 'the city turned the plugin off')"))

        without_demo = city_config(tmp_path, ["knowledge"], name="without-demo.toml")
        result = run_civic("db", "upgrade", config=without_demo, database_url=url, data_dir=tmp_path)
        assert result.returncode == 0, result.stderr
        assert "demo" not in result.stdout
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT body FROM demo_note WHERE title = 'kept'")).scalar() == "the city turned the plugin off"
        engine.dispose()
        assert versions(url, "alembic_version_demo") == ["demo_0001"]

        app = build_app(url, without_demo)  # the plugin is disabled (and not even on sys.path here)
        try:
            prepare_database(app)
            with app.app_context():
                create_user("admin", PASSWORD, "Admin")
            admin = login(app.test_client(), "admin")
            assert admin.get("/").status_code == 200
            assert admin.get("/caseview/list/").status_code == 200
        finally:
            close_app(app)
