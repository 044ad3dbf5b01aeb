"""The knowledge plugin's whole contract with the core: articles and FAQ for agents and residents."""
from __future__ import annotations

from pathlib import Path

from core import hookimpl
from core.records import MigrationSpec, PluginInfo

HERE = Path(__file__).resolve().parent


@hookimpl
def plugin_info():
    return PluginInfo(
        name="knowledge",
        version="0.1.0",
        description="Knowledge base: articles and FAQ for agents and residents.",
        requires=(),
    )


@hookimpl
def config_docs():
    return {}  # no [knowledge] section: articles and FAQ are data (`civic knowledge import`), not config


@hookimpl
def register_migrations():
    return [MigrationSpec("knowledge", str(HERE / "migrations"), "alembic_version_knowledge", "knowledge_")]


@hookimpl
def translation_directories():
    return [str(HERE / "translations")]


@hookimpl
def register_views():
    from plugins.knowledge import screens

    return screens.view_specs()


@hookimpl
def register_roles():
    from plugins.knowledge import screens

    return screens.role_specs()


@hookimpl
def register_commands():
    from plugins.knowledge.cli import knowledge

    return [knowledge]


@hookimpl
def register_blueprints():
    from plugins.knowledge import portal

    return portal.blueprints()


@hookimpl
def case_panels(case):
    from plugins.knowledge import desk

    return desk.case_panels(case)


@hookimpl
def suggest_articles(service_code, text, tags, locale, audience):
    from core.extensions import db
    from plugins.knowledge import desk, suggest

    matches = suggest.suggestions(db.session, service_code, text, tags, locale, audience)
    return desk.as_suggestions(matches, audience)


@hookimpl
def case_created(case):
    """A visitor who read articles from the report form sent a report after all: not a deflection."""
    from core.extensions import db
    from plugins.knowledge import visitors

    visitors.cancel_deflections(db.session)


@hookimpl
def report_subjects():
    from plugins.knowledge.report_subjects import article_subject

    return [article_subject()]
