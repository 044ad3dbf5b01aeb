"""Packaging: the wheel carries everything a city needs, and an installed copy (not editable) works.

The wheel is built from a copy of the working tree, the way `pip install .`
builds it (pip fetches the build backend named in pyproject.toml from the
configured index), so the build never writes into the checkout.
"""
from __future__ import annotations

import configparser
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NOT_SOURCES = shutil.ignore_patterns(".git", ".venv", "var", "build", "dist", "*.egg-info", "__pycache__", "*.pyc", ".pytest_cache")
DATA_FOLDERS = ("templates", "static", "translations", "migrations")
PLUGINS = {"i18n", "intake", "knowledge", "fieldservice", "fema"}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("wheel")
    source = tmp / "source"
    shutil.copytree(ROOT, source, ignore=NOT_SOURCES)
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "--wheel-dir", str(tmp / "dist"), str(source)],
        capture_output=True, text=True, timeout=300,
    )
    assert built.returncode == 0, built.stdout + built.stderr
    (found,) = (tmp / "dist").glob("civic_connect-*.whl")
    return found


@pytest.fixture(scope="module")
def wheel_names(wheel) -> set[str]:
    with zipfile.ZipFile(wheel) as z:
        return set(z.namelist())


def package_data_files() -> list[str]:
    """Every file under a templates/static/translations/migrations folder of core and the plugins."""
    out = []
    for top in ("core", "plugins"):
        for path in (ROOT / top).rglob("*"):
            rel = path.relative_to(ROOT)
            if path.is_file() and "__pycache__" not in rel.parts and any(p in DATA_FOLDERS for p in rel.parts):
                out.append(rel.as_posix())
    return out


def test_wheel_ships_templates_static_files_translations_and_migrations(wheel_names):
    expected = package_data_files()
    assert "core/migrations/env.py" in expected and "core/migrations/script.py.mako" in expected
    assert any(n.startswith("core/templates/") for n in expected) and any(n.startswith("core/static/") for n in expected)
    assert [n for n in expected if n.startswith("core/migrations/versions/") and n.endswith(".py")]
    missing = sorted(set(expected) - wheel_names)
    assert not missing, f"left out of the wheel: {missing}"


def test_wheel_ships_the_city_configs_as_data_files(wheel_names):
    data = {n.split("/data/", 1)[1] for n in wheel_names if ".data/data/" in n}
    assert {"share/civic-connect/config/palm-coast.toml", "share/civic-connect/config/default.toml"} <= data


def test_wheel_declares_the_civic_command_and_the_five_plugins(wheel):
    with zipfile.ZipFile(wheel) as z:
        (name,) = [n for n in z.namelist() if n.endswith(".dist-info/entry_points.txt")]
        entry_points = configparser.ConfigParser()
        entry_points.read_string(z.read(name).decode())
    assert entry_points["console_scripts"]["civic"].strip() == "core.cli:main"
    plugins = dict(entry_points["civic_connect.plugins"])
    assert set(plugins) == PLUGINS
    assert all(plugins[p].strip() == f"plugins.{p}.plugin" for p in PLUGINS)


def test_an_installed_wheel_finds_the_demo_city_and_sets_up_a_database(wheel, tmp_path):
    """Install without -e into a new environment; the dependencies come from this one (a .pth line)."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    site = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"], capture_output=True, text=True, check=True).stdout.strip()
    Path(site, "civic-test-deps.pth").write_text(sysconfig.get_path("purelib") + "\n")
    installed = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-deps", "--no-index", str(wheel)],
        capture_output=True, text=True, timeout=300,
    )
    assert installed.returncode == 0, installed.stdout + installed.stderr

    env = {k: v for k, v in os.environ.items() if not k.startswith(("CIVIC_", "FLASK_"))}
    env["CIVIC_DATA_DIR"] = str(tmp_path / "data")
    civic = venv / "bin" / "civic"

    def run(*args):
        done = subprocess.run([civic, *args], capture_output=True, text=True, cwd=tmp_path, env=env, timeout=300)
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    where = subprocess.run(
        [python, "-c", "import core, core.config as c; print(core.__file__); print(c.config_path())"],
        capture_output=True, text=True, cwd=tmp_path, env=env, check=True,
    ).stdout.split()
    assert where[0].startswith(str(venv)) and where[1].startswith(str(venv)), where
    assert "palm-coast.toml: OK" in run("config", "check")
    out = run("init")  # the migrations run from the installed package
    assert "catalog: " in out and "admin: admin / " in out
    listed = run("plugins")
    assert all(f"{name} " in listed for name in PLUGINS) and "[enabled]" in listed
