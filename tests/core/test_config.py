"""The city config as an IT admin meets it: `civic config check`, start-up errors and `civic config sync`.

Every problem is one line, ``FILE: KEY.PATH: what is wrong``, exit status 2, never a traceback.
"""
from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import sqlalchemy as sa

from core.config import ConfigError
from tests.conftest import DEMO_CONFIG, ROOT, build_app
from tests.fixtures import BACKENDS, city_config, close_app, fresh_database, plugin_site, run_civic, run_civic_process

MINIMAL = ROOT / "config" / "default.toml"


@dataclass(frozen=True)
class Problem:
    """A broken copy of config/default.toml and the one line it must produce (after ``FILE: ``)."""

    key: str
    message: str
    enabled: list[str] = field(default_factory=list)
    replace: dict[str, str] = field(default_factory=dict)
    append: str = ""
    site: bool = False  # needs the third-party fixture plugins installed

    def write(self, directory: Path) -> Path:
        return city_config(directory, self.enabled, base=MINIMAL, replace=self.replace, append=self.append)


PROBLEMS = {
    "unknown-plugin": Problem("plugins.enabled", "plugin 'potholes' is not installed (installed: ", enabled=["potholes"]),
    "missing-requirement": Problem(
        "plugins.enabled", "plugin 'demo' requires 'knowledge', which is not enabled", enabled=["demo"], site=True
    ),
    "bad-sla-type": Problem("services[0].sla_hours", "not a valid integer", replace={"sla_hours = 72": 'sla_hours = "soon"'}),
    "unknown-department": Problem(
        "services[0].department", "unknown department 'ROADS' (service GENERAL)", replace={'department = "PW"': 'department = "ROADS"'}
    ),
    "toml-syntax-error": Problem(
        "line 19, column 22", "TOML syntax error: illegal character", replace={'name = "Other request"': 'name = "Other request'}
    ),
    "unknown-key": Problem("city.motto", "unknown key", replace={'case_prefix = "MC"': 'case_prefix = "MC"\nmotto = "Sunshine"'}),
    "misspelt-plugin-section": Problem("intkae", "unknown section (no installed plugin is called 'intkae'", append="\n[intkae]\nmailbox = \"x\"\n"),
    "bad-timezone": Problem(
        "city.timezone", "unknown timezone 'Mars/Olympus_Mons'", replace={'timezone = "UTC"': 'timezone = "Mars/Olympus_Mons"'}
    ),
    "routing-keyword-in-unknown-language": Problem(
        "routing[0].keyword.fr", "'fr' is not one of city.locales (en)",
        append='\n[[routing]]\nkeyword = { en = "flood", fr = "inondation" }\ndepartment = "PW"\n',
    ),
    "routing-keyword-empty-list": Problem(
        "routing[0].keyword", "must be a phrase or a list of phrases", append='\n[[routing]]\nkeyword = []\ndepartment = "PW"\n',
    ),
    "bad-open311-queue-mode": Problem(
        "intake.open311_queue", "must be one of off, busy, always, not 'sometimes'", enabled=["intake"],
        append='\n[intake]\nopen311_queue = "sometimes"\n',
    ),
    "bad-plugin-section-value": Problem(
        "demo.route_to", "unknown department 'PARKS'", enabled=["knowledge", "demo"], append='\n[demo]\nroute_to = "PARKS"\n', site=True
    ),
}


def assert_one_line(line: str, config: Path, problem: Problem) -> None:
    assert line.startswith(f"{config}: {problem.key}: "), line
    assert problem.message in line, line


@pytest.mark.parametrize("problem", PROBLEMS.values(), ids=PROBLEMS.keys())
def test_config_check_reports_each_problem_in_one_line(problem, tmp_path):
    config = problem.write(tmp_path)
    result = run_civic("config", "check", config=config, data_dir=tmp_path, site=problem.site)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert_one_line(lines[0], config, problem)


@pytest.mark.parametrize("problem", PROBLEMS.values(), ids=PROBLEMS.keys())
def test_create_app_refuses_each_problem_with_the_same_line(problem, tmp_path):
    config = problem.write(tmp_path)
    with plugin_site() if problem.site else nullcontext(), pytest.raises(ConfigError) as caught:
        build_app(f"sqlite:///{tmp_path / 'unused.db'}", config)
    assert len(caught.value.lines) == 1, caught.value.lines
    assert_one_line(caught.value.lines[0], config, problem)


def test_config_check_gives_one_line_for_each_of_several_problems(tmp_path):
    config = city_config(
        tmp_path,
        [],
        base=MINIMAL,
        replace={"sla_hours = 72": 'sla_hours = "soon"', 'timezone = "UTC"': 'timezone = "Mars/Olympus_Mons"'},
    )
    result = run_civic("config", "check", "--file", str(config), config=None, data_dir=tmp_path, site=False)
    assert result.returncode == 2
    lines = sorted(result.stderr.splitlines())
    assert len(lines) == 2, result.stderr
    assert lines[0].startswith(f"{config}: city.timezone: unknown timezone")
    assert lines[1].startswith(f"{config}: services[0].sla_hours: not a valid integer")


def test_config_check_file_option_checks_that_file_even_when_the_configured_one_is_broken(tmp_path):
    broken = PROBLEMS["toml-syntax-error"].write(tmp_path)
    result = run_civic("config", "check", "--file", str(MINIMAL), config=broken, data_dir=tmp_path, site=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("default.toml: OK")


def test_config_check_accepts_the_demo_city(tmp_path):
    result = run_civic("config", "check", config=DEMO_CONFIG, data_dir=tmp_path, site=False)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert result.stdout.startswith("palm-coast.toml: OK")


# --- civic config sync ----------------------------------------------------------------------------

CATALOG_V1 = """
[city]
name = "Bunnell"
jurisdiction_id = "bunnell.example.gov"
timezone = "America/New_York"
case_prefix = "BN"

[plugins]
enabled = []

[[departments]]
code = "PW"
name = "Public Works"

[[departments]]
code = "PARKS"
name = "Parks"

[[services]]
code = "POTHOLE"
name = "Pothole"
department = "PW"
sla_hours = 72

[[services]]
code = "TREE"
name = "Fallen tree"
department = "PARKS"
sla_hours = 48

[[services]]
code = "GENERAL"
name = "Other request"
department = "PW"
"""
# The city renames a service, drops the tree service and the parks department.
CATALOG_V2 = CATALOG_V1.replace('name = "Pothole"', 'name = "Pothole or sinkhole"').replace(
    '[[departments]]\ncode = "PARKS"\nname = "Parks"\n', ""
).replace('[[services]]\ncode = "TREE"\nname = "Fallen tree"\ndepartment = "PARKS"\nsla_hours = 48\n', "")


@pytest.mark.parametrize("backend", BACKENDS)
def test_config_sync_upserts_by_code_and_deactivates_what_the_file_no_longer_lists(backend, tmp_path):
    from core import migrate
    from core.extensions import db
    from core.models import Case, Department, ServiceType
    from core.services.cases import create_case

    assert "TREE" not in CATALOG_V2 and "PARKS" not in CATALOG_V2 and "Pothole or sinkhole" in CATALOG_V2
    v1, v2 = tmp_path / "v1.toml", tmp_path / "v2.toml"
    v1.write_text(CATALOG_V1)
    v2.write_text(CATALOG_V2)
    with fresh_database(backend, tmp_path) as url:
        app = build_app(url, v1)
        try:
            with app.app_context():
                migrate.upgrade()
            sync = run_civic("config", "sync", config=v1, database_url=url, data_dir=tmp_path, site=False)
            assert sync.returncode == 0, sync.stderr
            assert sync.stdout.strip() == "catalog: 5 created, 0 updated, 0 deactivated"
            with app.app_context():
                ids = dict(db.session.execute(sa.select(ServiceType.code, ServiceType.id)).all())
                tree_case = create_case(db.session, service_code="TREE", description="Oak across Moody Blvd")
                case_id = tree_case.id
                db.session.remove()

            sync = run_civic("config", "sync", config=v2, database_url=url, data_dir=tmp_path, site=False)
            assert sync.returncode == 0, sync.stderr
            assert sync.stdout.strip() == "catalog: 0 created, 1 updated, 2 deactivated"
            again = run_civic("config", "sync", config=v2, database_url=url, data_dir=tmp_path, site=False)
            assert again.stdout.strip() == "catalog: 0 created, 0 updated, 0 deactivated"

            with app.app_context():
                services = {s.code: s for s in db.session.scalars(sa.select(ServiceType))}
                assert {code: s.id for code, s in services.items()} == ids  # updated in place, nothing deleted
                assert services["POTHOLE"].name == "Pothole or sinkhole"
                assert (services["TREE"].active, services["POTHOLE"].active) == (False, True)
                assert db.session.scalar(sa.select(Department.active).where(Department.code == "PARKS")) is False
                case = db.session.get(Case, case_id)
                assert (case.service_type.code, case.department.code) == ("TREE", "PARKS")  # the case keeps its service
                db.session.remove()
        finally:
            close_app(app)


def test_an_unreachable_database_is_one_line_without_the_password(tmp_path):
    """In a process of its own: the command's exit status, not only its line."""
    result = run_civic_process("db", "upgrade", config=DEMO_CONFIG, data_dir=tmp_path,
                       database_url="postgresql://clerk:hunter2@127.0.0.1:1/nowhere", site=False)
    assert result.returncode == 3
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("CIVIC_DATABASE_URL: cannot use postgresql://clerk:***@127.0.0.1:1/nowhere: ")
    assert "hunter2" not in result.stderr
