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


@hookimpl
def config_defaults():
    return {
        # The address residents use to reach the portal: links in e-mails are built from it.
        "public_url": "http://127.0.0.1:8080",
    }


@hookimpl
def translation_directories():
    return [str(HERE / "translations")]


@hookimpl
def register_blueprints():
    from plugins.intake.portal import blueprint

    return [blueprint()]
