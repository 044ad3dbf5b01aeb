"""The fieldservice plugin's whole contract with the core: the street-level map and its layers, storm
sweeps checked off street by street from a phone, work orders for crews, and the EOC hot-spot board."""
from __future__ import annotations

from pathlib import Path

from core import hookimpl
from core.records import MigrationSpec, PluginInfo

HERE = Path(__file__).resolve().parent


@hookimpl
def plugin_info():
    return PluginInfo(
        name="fieldservice",
        version="0.1.0",
        description="Street-level map, work orders and storm sweeps for field crews; the EOC board.",
        requires=(),
    )


@hookimpl
def config_defaults():
    # Each key is described in plugins/fieldservice/settings.py and docs/fieldservice.md.
    return {"tile_url": "", "tile_attribution": "", "raw_zoom": 15, "hotspot_cell_m": 400, "refresh_seconds": 30}


@hookimpl
def config_docs():
    from plugins.fieldservice.config_docs import DOCS

    return dict(DOCS)


@hookimpl
def validate_config(config):
    from plugins.fieldservice.settings import problems

    return problems(config)


@hookimpl
def register_migrations():
    return [MigrationSpec("fieldservice", str(HERE / "migrations"), "alembic_version_fieldservice", "fieldservice_")]


@hookimpl
def translation_directories():
    return [str(HERE / "translations")]


@hookimpl
def register_views():
    from plugins.fieldservice import screens

    return screens.view_specs()


@hookimpl
def register_roles():
    from plugins.fieldservice import screens

    return screens.role_specs()


@hookimpl
def register_blueprints():
    from plugins.fieldservice import assets

    return [assets.blueprint()]


@hookimpl
def register_commands():
    from plugins.fieldservice.cli import fieldservice

    return [fieldservice]


@hookimpl
def case_panels(case):
    from plugins.fieldservice import workorder_screens

    return workorder_screens.case_panels(case)


@hookimpl
def task_changed(task, changes):
    """Completing the last open work order of a case resolves the case (and so tells the resident)."""
    from core.extensions import db
    from plugins.fieldservice import workorders

    workorders.task_changed(db.session, task, changes)


@hookimpl
def dashboard_widgets():
    from plugins.fieldservice import eoc

    return eoc.dashboard_widgets()


@hookimpl
def report_subjects():
    from plugins.fieldservice.report_subjects import sweep_segment_subject, work_order_subject

    return [work_order_subject(), sweep_segment_subject()]
