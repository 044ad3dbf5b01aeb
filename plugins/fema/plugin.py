"""The fema plugin's whole contract with the core: disasters and the active event, cost records linked to
cases, work orders and sweeps, FEMA equipment rate schedules, and versioned Public Assistance exports."""
from __future__ import annotations

from pathlib import Path

from core import hookimpl
from core.records import MigrationSpec, PluginInfo

HERE = Path(__file__).resolve().parent


@hookimpl
def plugin_info():
    return PluginInfo(
        name="fema",
        version="0.1.0",
        description="FEMA Public Assistance: disaster events, cost capture, versioned exports.",
        requires=(),
    )


@hookimpl
def config_defaults():
    # Described in plugins/fema/settings.py and docs/fema.md.
    return {"applicant": "", "applicant_pa_id": "", "emergency_services": [], "profiles_dir": "", "certifier": {}}


@hookimpl
def config_docs():
    from plugins.fema.config_docs import DOCS

    return dict(DOCS)


@hookimpl
def validate_config(config):
    from plugins.fema.settings import problems

    return problems(config)


@hookimpl
def register_migrations():
    return [MigrationSpec("fema", str(HERE / "migrations"), "alembic_version_fema", "fema_")]


@hookimpl
def translation_directories():
    return [str(HERE / "translations")]


@hookimpl
def register_views():
    from plugins.fema import screens

    return screens.view_specs()


@hookimpl
def register_roles():
    from plugins.fema import screens

    return screens.role_specs()


@hookimpl
def register_blueprints():
    from plugins.fema import events

    return events.blueprints()


@hookimpl
def register_commands():
    from plugins.fema.cli import fema

    return [fema]


@hookimpl
def task_changed(task, changes):
    from core.extensions import db
    from plugins.fema import events

    events.tag_new_task(db.session, task, changes)


@hookimpl
def active_event_tag():
    """The tag of the active event, for plugins that must not import this one (sweeps)."""
    from core.extensions import db
    from plugins.fema import events

    event = events.active_event(db.session)
    return event.tag if event is not None else None


@hookimpl
def report_subjects():
    from plugins.fema import report_subjects

    return report_subjects.subjects()


@hookimpl
def report_fields():
    from plugins.fema import report_subjects

    return report_subjects.fields()
