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
        # Report form: base map tiles ("https://tiles.example/{z}/{x}/{y}.png"; empty: a plain map around
        # city.center) and their credit line; sendings of the form per client per window (seconds);
        # address and "Is this it?" look-ups per client per window; "Is this it?" radius in metres.
        "tile_url": "",
        "tile_attribution": "",
        "report_limit": 20,
        "report_window": 3600,
        "lookup_limit": 300,
        "lookup_window": 3600,
        "nearby_radius": 200,
        # Open311: requests per minute per API key (a key's own rate_limit overrides it).
        "open311_rate_limit": 120,
        "open311_queue": "busy",
        # Phone desk: the wrap-up reasons of an information-only call (code = label, or {en, fr}).
        "call_wrap_up_reasons": {},
        # E-mail channel ([intake.email]): IMAP mailbox read by `civic intake poll-email`.
        "email": {},
    }


@hookimpl
def config_docs():
    from plugins.intake.config_docs import DOCS

    return dict(DOCS)


@hookimpl
def translation_directories():
    return [str(HERE / "translations")]


@hookimpl
def register_blueprints():
    from plugins.intake.open311 import blueprint as open311_blueprint
    from plugins.intake.portal import blueprint

    return [blueprint(), open311_blueprint()]


@hookimpl
def register_commands():
    from plugins.intake.cli import intake
    from plugins.intake.open311.cli import open311

    return [intake, open311]


@hookimpl
def dashboard_widgets():
    from plugins.intake.calls import dashboard_panel as calls_panel
    from plugins.intake.satisfaction import dashboard_panel, trend_panel

    return [dashboard_panel(), trend_panel(), calls_panel()]


@hookimpl
def waiting_work(connection):
    """/health: the Open311 reports waiting to become cases (queued during a surge, batch services)."""
    import sqlalchemy as sa

    count, oldest = connection.execute(sa.text(
        "SELECT count(*), min(created_at) FROM intake_batch_submission WHERE processed_at IS NULL")).one()
    return {"open311": (count, oldest)}


@hookimpl
def background_work(drain):
    """Open311 requests accepted into the queue (a surge, batch services) become cases: a few a round while the
    servers are still queueing (the surge goes on), all of them once it is over (or at once with ``drain``)."""
    from core.extensions import db
    from plugins.intake.open311.write import background_batch

    try:
        return background_batch(db.session, drain=drain)
    finally:
        db.session.remove()


@hookimpl
def case_created(case):
    from plugins.intake import notifications

    notifications.case_received(case)


@hookimpl
def case_status_changed(case, old, new):
    from plugins.intake import notifications

    notifications.status_changed(case, old, new)


@hookimpl
def case_updated(case, changes):
    from plugins.intake import notifications

    notifications.case_updated(case, changes)


@hookimpl
def register_views():
    from plugins.intake import calls, notices
    from plugins.intake.open311 import screens

    return notices.view_specs() + screens.view_specs() + calls.view_specs()


@hookimpl
def register_roles():
    from plugins.intake import calls, notices
    from plugins.intake.open311 import screens

    return notices.role_specs() + screens.role_specs() + calls.role_specs()


@hookimpl
def report_subjects():
    from plugins.intake.report_subjects import call_subject

    return [call_subject()]


@hookimpl
def report_fields():
    from plugins.intake.report_subjects import satisfaction_fields

    return [satisfaction_fields()]


@hookimpl
def validate_config(config):
    from plugins.intake.settings import problems

    return problems(config)


@hookimpl
def forget_contact(session, account, emails, case_ids):
    from plugins.intake.accounts import forget_contact as forget

    forget(session, account, emails, case_ids)


@hookimpl
def expire_contacts(session, before):
    from plugins.intake.accounts import expire_call_contacts

    return expire_call_contacts(session, before)
