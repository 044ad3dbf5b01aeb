"""Alembic, one environment per owner: the core first, then each enabled plugin.

Each environment has its own folder of versions and its own version table, and
only sees the tables it owns (by prefix), so a disabled plugin's tables are
left alone and its migrations never run.
"""
from __future__ import annotations

import re
from pathlib import Path

from alembic import command
from alembic.config import Config
from flask import current_app

from core.records import MigrationSpec

CORE_SPEC = MigrationSpec(
    name="core",
    directory=str(Path(__file__).resolve().parent / "migrations"),
    version_table="alembic_version_core",
    table_prefix="",
)


def specs() -> list[MigrationSpec]:
    """The core's environment, then the enabled plugins' in `requires` order."""
    return [CORE_SPEC] + current_app.extensions["civic"].pm.flatten("register_migrations")


def _owned(spec: MigrationSpec, all_specs: list[MigrationSpec]):
    prefixes = [s.table_prefix for s in all_specs if s.table_prefix]

    def include(name: str) -> bool:
        if name.startswith("alembic_version"):  # every environment's own bookkeeping, never a model
            return False
        if re.search(r"_fts($|_)", name):  # full-text indexes (FTS5 tables, tsvector tables): built by migrations only
            return False
        if spec.table_prefix:
            return name.startswith(spec.table_prefix)
        return not any(name.startswith(p) for p in prefixes)

    return include


def alembic_config(spec: MigrationSpec, all_specs: list[MigrationSpec] | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("path_separator", "os")
    cfg.set_main_option("script_location", spec.directory)
    cfg.set_main_option("version_locations", str(Path(spec.directory) / "versions"))
    cfg.attributes["spec"] = spec
    cfg.attributes["include_table"] = _owned(spec, all_specs or specs())
    return cfg


def upgrade(revision: str = "head") -> list[str]:
    """Bring every environment to ``revision``; returns the names upgraded."""
    done = []
    all_specs = specs()
    for spec in all_specs:
        command.upgrade(alembic_config(spec, all_specs), revision)
        done.append(spec.name)
    return done


def revision(name: str, message: str) -> None:
    """Autogenerate a new revision in one environment (for developers)."""
    all_specs = specs()
    spec = next(s for s in all_specs if s.name == name)
    command.revision(alembic_config(spec, all_specs), message=message, autogenerate=True)
