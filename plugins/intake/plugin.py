"""The intake plugin's whole contract with the core."""
from __future__ import annotations

from pathlib import Path

from core import hookimpl
from core.records import MigrationSpec, PluginInfo

HERE = Path(__file__).resolve().parent


@hookimpl
def plugin_info():
    return PluginInfo(
        name="intake",
        version="0.1.0",
        description="Resident portal, Open311 GeoReport v2, e-mail and phone channels.",
        requires=(),
    )


@hookimpl
def register_migrations():
    return [MigrationSpec("intake", str(HERE / "migrations"), "alembic_version_intake", "intake_")]
