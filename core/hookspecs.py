"""Every hook of Civic Connect: one plain function each, one-line docstring.

Plugin authors implement them with ``from core import hookimpl``.  The exact
signatures and an example for each live in ``docs/plugin-hooks.md``.
"""
from __future__ import annotations

import pluggy

hookspec = pluggy.HookspecMarker("civic_connect")
hookimpl = pluggy.HookimplMarker("civic_connect")


@hookspec
def plugin_info():
    """Return a PluginInfo describing this plugin (name, version, description, requires)."""


@hookspec
def config_defaults():
    """Return a dict of defaults for this plugin's own TOML section."""


@hookspec
def validate_config(config):
    """Return a list of ConfigProblem for this plugin's section of the city config."""


@hookspec
def config_docs():
    """Return {dotted key: meaning} for every key of this plugin's config section (``layers[].code``: arrays of tables)."""


@hookspec
def register_migrations():
    """Return a list of MigrationSpec: Alembic environments this plugin owns."""


@hookspec
def translation_directories():
    """Return a list of directories holding this plugin's gettext catalogs."""


@hookspec
def register_roles():
    """Return a list of RoleSpec: roles and the permissions (regex pairs) they grant."""


@hookspec
def register_views():
    """Return a list of ViewSpec: Flask-AppBuilder views and their menu entries."""


@hookspec
def register_apis():
    """Return a list of Flask-AppBuilder API classes to register."""


@hookspec
def register_blueprints():
    """Return a list of Flask blueprints to register."""


@hookspec
def register_commands():
    """Return a list of click commands or groups to add to the ``civic`` command."""


@hookspec
def startup(app):
    """Called once the app is fully built, inside its application context."""


@hookspec
def waiting_work(connection):
    """Return ``{name: (how many wait, when the oldest came)}`` for the plugin's queues that the background worker
    empties (read on ``connection``, Core, one cheap statement: ``/health`` asks every few seconds, once every
    migration is current).  ``/health`` shows them and says ``degraded`` when one has waited over 15 minutes."""


@hookspec
def background_work(drain):
    """Do one round of queued work (inside an app context): the background worker (``civic notify run``) calls it
    after each round of the outbox.  Return True when more is waiting (the worker goes on without pausing).
    ``drain``: do all of it now, whatever the load (``civic notify run --once``)."""


@hookspec(firstresult=True)
def route_case(case, session):
    """Return a RoutingDecision for a new case; stops at the first non-None result."""


@hookspec(firstresult=True)
def case_reference(case, session):
    """Return the public reference for a new case; stops at the first non-None result."""


@hookspec
def case_created(case):
    """Called after a new case is committed."""


@hookspec
def case_updated(case, changes):
    """Called after a case change is committed, with {field: (old, new)}."""


@hookspec
def case_status_changed(case, old, new):
    """Called after a committed status change of a case."""


@hookspec
def task_changed(task, changes):
    """Called after a new case task or a change of one is committed, with {field: (old, new)}."""


@hookspec
def register_notifiers():
    """Return a list of Notifier: the channels (e-mail, SMS ...) the outbox worker delivers through."""


@hookspec
def case_panels(case):
    """Return a list of Panel to show on the staff case page."""


@hookspec
def dashboard_widgets():
    """Return a list of Panel to show on the staff dashboard."""


@hookspec
def suggest_articles(service_code, text, tags, locale, audience):
    """Return a list of Suggestion: help articles that may answer a request (service code, the words typed,
    tag names) in ``locale``; ``audience`` "public" (residents: public content only) or "all" (staff)."""


@hookspec(firstresult=True)
def user_locale(user_id):
    """Return the language to write to this user in (staff e-mails: mentions); stops at the first non-None result."""


@hookspec(firstresult=True)
def active_event_tag():
    """The tag of the active event (a declared disaster or an emergency), or None. Stops at first non-None result."""


@hookspec
def report_subjects():
    """Return a list of core.reports.subjects.Subject: what reports can be about (cases, calls, work orders,
    FEMA costs...), each with its rows, date, permission scope, dimensions, filters and measures."""


@hookspec
def report_fields():
    """Return a list of core.reports.subjects.SubjectFields: dimensions, filters and measures added to a
    subject registered elsewhere (ignored when that subject's plugin is not enabled)."""


@hookspec
def forget_contact(session, account, emails, case_ids):
    """Forget what this plugin keeps about a resident being anonymised (``account``, or None for an anonymous
    reporter) and their ``emails``; only on ``case_ids`` when given.  Runs in the caller's transaction."""


@hookspec
def expire_contacts(session, before):
    """Clear the contact details this plugin recorded before ``before`` (naive UTC) outside of cases and accounts
    (a phone call's caller...); return how many records changed.  Runs in the caller's transaction."""
