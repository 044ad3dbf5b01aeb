"""The config reference (docs/config-reference.md): generated from the code, complete, and never behind it.

An admin reads every key of the city config there: its type, default, allowed values and meaning.  The core's keys
come from the marshmallow schemas, the plugins' from their ``config_defaults`` and ``config_docs`` hooks.
"""
from __future__ import annotations

import re
import tomllib
import types
from collections.abc import Iterator
from typing import Any

import pytest

from core.config import CONFIG_DIR, CitySchema, PrivacySchema, ServerSchema, load_city_config
from core.config_reference import COMMAND, core_keys, doc_problems, load_installed_plugins, plugin_keys
from tests.conftest import DEMO_CONFIG, ROOT
from tests.fixtures import BUILT_IN, run_civic

REFERENCE = ROOT / "docs" / "config-reference.md"


@pytest.fixture(scope="module")
def built_in() -> dict[str, types.ModuleType]:
    modules, failures = load_installed_plugins()
    assert not failures
    return {name: modules[name] for name in BUILT_IN}


@pytest.fixture(scope="module")
def probe_city():
    return load_city_config(CONFIG_DIR / "default.toml")


@pytest.fixture(scope="module")
def printed(tmp_path_factory) -> str:
    """What `civic config reference --strict` prints with only Civic Connect installed."""
    result = run_civic("config", "reference", "--strict", config=None, data_dir=tmp_path_factory.mktemp("ref"), site=False)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    return result.stdout


def row(markdown: str, heading: str, key: str) -> str:
    """The table row of ``key`` under the section ``### heading``."""
    section = markdown.split(f"\n### {heading}\n", 1)[1].split("\n### ", 1)[0].split("\n## ", 1)[0]
    found = [line for line in section.splitlines() if line.startswith(f"| `{key}` |")]
    assert len(found) == 1, f"no row for {key} under {heading}"
    return found[0]


def test_committed_reference_is_what_the_command_prints(printed):
    assert REFERENCE.read_text(encoding="utf-8") == printed, (
        f"docs/config-reference.md is behind the code: run `{COMMAND}` and commit the result"
    )


def test_every_core_key_has_a_meaning():
    keys = core_keys()
    assert len(keys) > 60  # every section, table and field of CoreConfigSchema, nested schemas included
    undocumented = [k.path for k in keys if not k.doc]
    assert not undocumented, f"give these fields metadata={{'doc': '...'}} in core/config.py: {undocumented}"


def test_every_plugin_default_key_has_a_meaning_and_every_documented_key_exists(built_in, probe_city):
    assert doc_problems(built_in, probe_city) == []


def key_paths(table: dict[str, Any], prefix: str = "") -> Iterator[str]:
    """Every key path a config file uses, ``[]`` after an array of tables."""
    for key, value in table.items():
        path = f"{prefix}{key}"
        yield path
        if isinstance(value, dict):
            yield from key_paths(value, path + ".")
        elif isinstance(value, list) and value and all(isinstance(item, dict) for item in value):
            for item in value:
                yield from key_paths(item, path + "[].")


@pytest.mark.parametrize("config", [DEMO_CONFIG, CONFIG_DIR / "default.toml"], ids=lambda p: p.name)
def test_every_key_the_shipped_configs_use_is_in_the_reference(config, built_in):
    documented = {k.path for k in core_keys()} | {k.path for name, m in built_in.items() for k in plugin_keys(name, m)} | set(built_in)
    parents = {p.rsplit(".", 1)[0].removesuffix("[]") for p in documented if "." in p}

    def covered(path: str) -> bool:
        # A key is covered when documented, or inside a documented free-form table (name = { en, fr }, sla.hours...).
        parts = path.split(".")
        for i in range(len(parts), 0, -1):
            head = ".".join(parts[:i])
            if head in documented or head.removesuffix("[]") in documented:
                return i == len(parts) or head.removesuffix("[]") not in parents
        return False

    used = set(key_paths(tomllib.loads(config.read_text(encoding="utf-8"))))
    assert sorted(p for p in used if not covered(p)) == []


def test_a_documented_key_the_plugin_does_not_know_is_an_error(built_in, probe_city):
    """A typo in config_docs is caught by asking the plugin's own validate_config about the key."""
    intake = built_in["intake"]
    misspelt = types.ModuleType("intake_with_typos")
    misspelt.config_defaults = intake.config_defaults
    misspelt.validate_config = intake.validate_config
    misspelt.config_docs = lambda: {
        **intake.config_docs(),
        "intake.email.hots": "The IMAP server (misspelt).",
        "intake.portal_colour": "Not a key of [intake].",
        "fema.applicant": "Another plugin's key.",
    }
    assert doc_problems({"intake": misspelt}, probe_city) == [
        "plugin 'intake': intake.email.hots: documented in config_docs, but the plugin does not know this key",
        "plugin 'intake': intake.portal_colour: documented in config_docs, but the plugin does not know this key",
        "plugin 'intake': fema.applicant: config_docs key outside the plugin's own section [intake]",
    ]


def test_a_plugin_key_without_a_meaning_is_an_error(built_in, probe_city):
    fema = built_in["fema"]
    forgetful = types.ModuleType("fema_without_one_doc")
    forgetful.config_defaults = fema.config_defaults
    forgetful.validate_config = fema.validate_config
    forgetful.config_docs = lambda: {k: v for k, v in fema.config_docs().items() if k != "fema.profiles_dir"}
    assert doc_problems({"fema": forgetful}, probe_city) == [
        "plugin 'fema': fema.profiles_dir: no meaning (add it to the plugin's config_docs)"
    ]


def test_reference_shows_the_real_defaults_and_rules(printed):
    city, server, privacy = CitySchema().load({"name": "X", "jurisdiction_id": "x"}), ServerSchema().load({}), PrivacySchema().load({})
    assert row(printed, "`[city]`", "timezone").startswith(f'| `timezone` | text | `"{city["timezone"]}"` |')
    assert row(printed, "`[city]`", "case_prefix") == (
        '| `case_prefix` | text | `"CASE"` | 1-8 capital letters | The first part of every case number: CASE gives CASE-2026-000123. |'
    )
    assert row(printed, "`[city]`", "name").startswith("| `name` | text | **required** | 1 to 200 characters |")
    assert f"| `{server['workers']}` | from 1 to 64 |" in row(printed, "`[server]`", "workers")
    assert f"| `{privacy['inactive_resident_days']}` | from 30 to 36500 |" in row(printed, "`[privacy]`", "inactive_resident_days")
    assert "one of `realtime`, `batch`, `blackbox`" in row(printed, "`[[services]]`", "type")
    assert "more than 0, at most 8760" in row(printed, "`[[services.tasks]]`", "due_hours")
    assert row(printed, "`[[services]]`", "attributes").endswith("| See `[[services.attributes]]` below. |")
    # Plugins: the defaults their config_defaults hooks return.
    assert row(printed, "`[intake]`", "public_url").startswith('| `public_url` | text | `"http://127.0.0.1:8080"` |')
    assert row(printed, "`[fieldservice]`", "raw_zoom").startswith("| `raw_zoom` | whole number | `15` |")
    assert row(printed, "`[i18n]`", "format_locales").startswith('| `format_locales` | table | `{ en = "en_US", fr = "fr_CA" }` |')
    assert "(default INBOX)" in row(printed, "`[intake.email]`", "folder")
    assert "This plugin has no config keys." in printed.split("## Plugin `knowledge`", 1)[1]


def test_the_command_needs_neither_a_valid_config_nor_a_database(tmp_path):
    broken = tmp_path / "broken.toml"
    broken.write_text("[city\nname = ", encoding="utf-8")
    result = run_civic("config", "reference", config=broken, data_dir=tmp_path, database_url="postgresql://nobody@127.0.0.1:1/none",
                       site=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("# Configuration reference\n")


def guide_commands() -> dict[str, set[str]]:
    """Each `civic ...` command the admin guide shows (code blocks and inline code), with the options it uses."""
    text = (ROOT / "docs" / "admin-guide.md").read_text(encoding="utf-8")
    lines = re.findall(r"`(civic [^`]+)`", text)
    for block in re.findall(r"```sh\n(.*?)```", text, re.S):
        lines += [part.strip() for line in block.splitlines() for part in line.split("#")[0].split("&&")]
    commands: dict[str, set[str]] = {}
    for line in lines:
        words = line.split()
        if not words or words[0] != "civic":
            continue
        path = []
        for word in words[1:]:
            if not re.fullmatch(r"[a-z][a-z0-9-]*", word):
                break
            path.append(word)
        commands.setdefault(" ".join(path), set()).update(w.split("=")[0] for w in words if w.startswith("--"))
    return commands


def test_every_command_of_the_admin_guide_exists_with_its_options(tmp_path):
    commands = guide_commands()
    assert {"config check", "config sync", "init", "plugins", "fieldservice import-streets", "intake import-utility-accounts",
            "fema import-rates", "open311 create-key", "backup", "restore"} <= set(commands)
    for command, options in sorted(commands.items()):
        result = run_civic(*command.split(), "--help", config=None, data_dir=tmp_path, site=False)
        assert result.returncode == 0, f"`civic {command}` in docs/admin-guide.md: {result.stderr or result.stdout}"
        assert f"Usage: civic {command}" in result.stdout, f"`civic {command}` in docs/admin-guide.md is not a command"
        for option in options:
            assert option in result.stdout, f"`civic {command}` has no option {option} (docs/admin-guide.md)"
