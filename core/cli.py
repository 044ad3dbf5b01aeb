"""The `civic` command: set-up, config, plugins, demo data and the server."""
from __future__ import annotations

import sys
from contextlib import contextmanager

import click
import sqlalchemy
import sqlalchemy.exc
from flask.cli import FlaskGroup, ScriptInfo
from flask_babel import force_locale, gettext

from core.config import ConfigError, load_city_config


def _create_app(*args, **kwargs):
    from core.app import create_app

    return create_app()


class CivicGroup(FlaskGroup):
    """A FlaskGroup that adds plugin commands and turns config errors into one line each."""

    def list_commands(self, ctx):
        self._add_plugin_commands(ctx)
        return super().list_commands(ctx)

    def get_command(self, ctx, name):
        self._add_plugin_commands(ctx)
        return super().get_command(ctx, name)

    def _add_plugin_commands(self, ctx):
        if getattr(self, "_plugins_added", False):
            return
        self._plugins_added = True
        try:
            app = ctx.ensure_object(ScriptInfo).load_app()
        except ConfigError:
            return
        for command in app.extensions["civic"].pm.flatten("register_commands"):
            if command.name in self.commands:
                raise click.UsageError(f"two plugins define the command 'civic {command.name}'")
            self.add_command(command)


cli = CivicGroup(create_app=_create_app, add_default_commands=False, add_version_option=False, help="Civic Connect: 311 and case management for cities.")


def main() -> None:
    try:
        cli.main(prog_name="civic")
    except ConfigError as exc:
        for line in exc.lines:
            click.echo(line, err=True)
        sys.exit(2)
    except (sqlalchemy.exc.DBAPIError, sqlalchemy.exc.ArgumentError, sqlalchemy.exc.NoSuchModuleError) as exc:
        click.echo(f"CIVIC_DATABASE_URL: {database_problem(exc)}", err=True)
        sys.exit(3)


def database_problem(exc: Exception) -> str:
    """One line about a database that cannot be used, without the password of the URL."""
    import os

    url = os.environ.get("CIVIC_DATABASE_URL")
    if not url:
        url = "the SQLite file in the data folder"
    else:
        try:
            url = sqlalchemy.engine.make_url(url).render_as_string(hide_password=True)
        except sqlalchemy.exc.ArgumentError:
            url = "(not a database URL)"
    first = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
    return f"cannot use {url}: {first}"


def _app():
    from flask import current_app

    return current_app


def cli_locale() -> str:
    """The language of the `civic` command's messages: CIVIC_LOCALE when the city offers it, else the city's default."""
    import os

    city = _app().extensions["civic"].config.city
    wanted = (os.environ.get("CIVIC_LOCALE") or "").split(".")[0].replace("-", "_")
    for candidate in (wanted, wanted.split("_")[0]):
        if candidate and candidate in city["locales"]:
            return candidate
    return city["default_locale"]


@contextmanager
def cli_language():
    """Messages printed inside this block speak the admin's language (see cli_locale)."""
    with force_locale(cli_locale()):
        yield


@cli.group()
def config():
    """Check the city config and load it into the database."""


@config.command("check", with_appcontext=False)  # checks --file even when $CIVIC_CONFIG is broken
@click.option("--file", "path", default=None, help="Config file (default: $CIVIC_CONFIG or the demo city).")
def config_check(path):
    """Validate the city config: one line per problem, exit status 2 when any."""
    from core.app import _plugin_config
    from core.plugins import build_plugin_manager

    try:
        city = load_city_config(path)
        pm = build_plugin_manager(city)
        _plugin_config(city, pm)
    except ConfigError as exc:
        for line in exc.lines:
            click.echo(line, err=True)
        sys.exit(2)
    click.echo(
        f"{city.path.name}: OK — {len(city.departments)} departments, {len(city.services)} services, "
        f"{len(city.routing)} routing rules, plugins: {', '.join(pm.enabled) or 'none'}"
    )


@config.command("reference", with_appcontext=False)  # needs neither a valid $CIVIC_CONFIG nor a database
@click.option("--strict", is_flag=True, help="Exit with status 2 when a key has no meaning or a documented key does not exist.")
def config_reference(strict):
    """Print every config key (type, default, allowed values, meaning) as Markdown: docs/config-reference.md."""
    from core.config import CONFIG_DIR
    from core.config_reference import doc_problems, load_installed_plugins, reference_markdown

    modules, failures = load_installed_plugins()
    click.echo(reference_markdown(modules), nl=False)
    # Problems go to stderr, so `civic config reference > docs/config-reference.md` still writes a clean file.
    problems = failures + doc_problems(modules, load_city_config(CONFIG_DIR / "default.toml"))
    for line in problems:
        click.echo(f"config reference: {line}", err=True)
    if strict and problems:
        sys.exit(2)


@config.command("sync")
def config_sync():
    """Load departments and services from the config (upsert by code; never deletes)."""
    from core.extensions import db
    from core.services.catalog import sync_catalog

    report = sync_catalog(db.session, _app().extensions["civic"].config)
    with cli_language():
        click.echo(catalog_line(report))


@cli.group()
def db():
    """Database migrations."""


@db.command("upgrade")
def db_upgrade():
    """Run the core's migrations, then each enabled plugin's."""
    from core import migrate

    names = migrate.upgrade()
    with cli_language():
        for name in names:
            click.echo(gettext("migrations: %(name)s is up to date", name=name))


@db.command("revision")
@click.argument("environment")
@click.option("-m", "--message", required=True)
def db_revision(environment, message):
    """Autogenerate a migration in one environment (core or a plugin name)."""
    from core import migrate

    migrate.revision(environment, message)


@cli.command("init")
def init():
    """Migrations, roles, the admin user and the catalog: everything a new city needs."""
    from core import migrate
    from core.extensions import db as database
    from core.services.catalog import sync_catalog
    from core.services.users import ensure_admin, sync_roles

    app = _app()
    migrate.upgrade()
    roles = sync_roles()
    report = sync_catalog(database.session, app.extensions["civic"].config)
    username, password, created = ensure_admin(app.extensions["civic"].data_dir)
    with cli_language():
        click.echo(gettext("roles: %(roles)s", roles=", ".join(roles)))
        click.echo(catalog_line(report))
        if password:
            click.echo(gettext("admin: %(user)s / %(password)s", user=username, password=password))
        elif created:
            click.echo(gettext("admin: %(user)s (created with the CIVIC_ADMIN_PASSWORD you set)", user=username))
        else:
            click.echo(gettext("admin: %(user)s (exists; password unchanged)", user=username))


def catalog_line(report) -> str:
    return gettext(
        "catalog: %(created)d created, %(updated)d updated, %(deactivated)d deactivated",
        created=len(report.created), updated=len(report.updated), deactivated=len(report.deactivated),
    )


@cli.command("demo")
@click.option("--cases", "count", default=3000, show_default=True, type=click.IntRange(0, 100_000), help="How many demo cases to load.")
def demo(count):
    """Load the Palm Coast demo: staff, residents and a year of cases (a second run adds nothing)."""
    from core.demo import load_demo

    try:
        report = load_demo(count)
    except (RuntimeError, ValueError) as exc:
        raise click.ClickException(str(exc))
    with cli_language():
        for line in report.lines():
            click.echo(line)


@cli.command("bench-data")
@click.option("--cases", "count", required=True, type=click.IntRange(1, 50_000_000), help="How many synthetic cases to add.")
@click.option("--open-share", default=0.03, show_default=True, type=click.FloatRange(0, 1), help="The share of them still open.")
def bench_data(count, open_share):
    """Add synthetic cases for benchmarks (tagged bench, references BENCH-...): never on a real city's database."""
    from core.benchdata import generate
    from core.extensions import db as database

    try:
        report = generate(database.session, count, open_share=open_share)
    except RuntimeError as exc:
        raise click.ClickException(str(exc))
    with cli_language():
        click.echo(gettext("bench data: %(cases)d cases and %(events)d timeline entries added in %(seconds).1f s",
                           cases=report.cases, events=report.events, seconds=report.seconds))


@cli.group()
def reports():
    """Saved reports: e-mail them to their subscribers."""


@reports.command("send")
def reports_send():
    """Queue the reports due to their subscribers (daily and weekly, at [reports] send_hour); run it hourly from cron."""
    from core.extensions import db as database
    from core.reports.schedule import send_due

    result = send_due(database.session)
    with cli_language():
        click.echo(gettext("reports queued: %(sent)d, skipped: %(skipped)d", sent=len(result.sent), skipped=len(result.skipped)))
        for line in result.skipped:
            click.echo(gettext("skipped: %(line)s", line=line))


@cli.group()
def privacy():
    """Retention of residents' personal data (see docs/privacy.md)."""


@privacy.command("anonymise")
@click.option("--dry-run", is_flag=True, help="Print what would change and change nothing.")
def privacy_anonymise(dry_run):
    """Anonymise accounts inactive for [privacy] inactive_resident_days and the contact details of anonymous
    reporters' cases closed for [privacy] case_contact_days; no case is deleted.  Safe to repeat (cron: daily)."""
    from core.extensions import db as database
    from core.privacy import run_retention

    app = _app()
    rules = app.extensions["civic"].config.privacy
    report = run_retention(database.session, dry_run=dry_run, **rules)
    with cli_language():
        if dry_run:
            click.echo(gettext("dry run: nothing was changed"))
            click.echo(gettext("accounts to anonymise (inactive for %(days)d days): %(count)d, with %(cases)d cases",
                               days=rules["inactive_resident_days"], count=len(report.accounts), cases=report.account_cases))
            for account_id in report.accounts[:20]:
                click.echo("  " + gettext("account #%(id)d", id=account_id))
            click.echo(gettext("closed cases whose contact details would be cleared (closed over %(days)d days ago, no account): %(count)d",
                               days=rules["case_contact_days"], count=len(report.cases)))
            for reference in report.cases[:20]:
                click.echo(f"  {reference}")
            click.echo(gettext("other records whose contact details would be cleared (phone calls...): %(count)d", count=report.other_records))
        else:
            click.echo(gettext("accounts anonymised: %(count)d (their cases: %(cases)d); closed cases whose contact details were cleared: %(closed)d",
                               count=len(report.accounts), cases=report.account_cases, closed=len(report.cases)))
            click.echo(gettext("other records whose contact details were cleared (phone calls...): %(count)d", count=report.other_records))
        if report.skipped_staff:
            click.echo(gettext("left alone: %(count)d inactive accounts whose login is a staff login (remove the staff roles first)",
                               count=report.skipped_staff))


@cli.group()
def notify():
    """Deliver the notifications waiting in the outbox."""


@notify.command("run")
@click.option("--interval", default=10.0, show_default=True, type=click.FloatRange(0.1, 3600), help="Seconds between looks at the outbox when nothing is due.")
@click.option("--once", is_flag=True, help="Deliver what is due now, then exit.")
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, 10_000), help="Messages per round.")
def notify_run(interval, once, limit):
    """Deliver due messages, retry failures with backoff; runs until stopped (Ctrl-C or SIGTERM)."""
    import signal
    import threading

    from core.notify import run_worker

    stop = threading.Event()
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda *_: stop.set())  # finish the message being sent, then stop

    def show(report):
        with cli_language():
            click.echo(delivery_line(report))

    try:
        total = run_worker(interval=interval, once=once, limit=limit, stop=stop, on_report=None if once else show)
    except KeyboardInterrupt:
        return
    if once:
        show(total)


def delivery_line(report) -> str:
    return gettext("notifications: %(sent)d sent, %(retrying)d to retry, %(failed)d failed",
                   sent=report.sent, retrying=report.retrying, failed=report.failed)


@cli.command("backup")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--force", is_flag=True, help="Replace FILE when it exists.")
def backup(file, force):
    """Write the whole database (core and plugins) to FILE, while the server runs (see docs/operations.md)."""
    from core.backup import BackupError, backup as write_backup

    with cli_language():
        try:
            done = write_backup(_app().config["SQLALCHEMY_DATABASE_URI"], file, force=force)
        except BackupError as exc:
            raise click.ClickException(str(exc))
        click.echo(gettext("backup: %(cases)d cases of %(database)s written to %(file)s (%(size).1f MB)",
                           cases=done.cases, database=done.database, file=done.path, size=done.size / 1e6))


@cli.command("restore")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--force", is_flag=True, help="Replace the database when it is not empty.")
def restore(file, force):
    """Load a backup made by `civic backup` into the database, which must be empty unless --force."""
    from core.backup import BackupError, restore as load_backup

    with cli_language():
        try:
            done = load_backup(_app().config["SQLALCHEMY_DATABASE_URI"], file, force=force)
        except BackupError as exc:
            raise click.ClickException(str(exc))
        click.echo(gettext("restore: %(cases)d cases from %(file)s restored into %(database)s",
                           cases=done.cases, file=done.path, database=done.database))


@cli.command("plugins")
def plugins():
    """List installed plugins: version, enabled or not, requires, hooks implemented."""
    from core.plugins import installed_plugins

    pm = _app().extensions["civic"].pm
    with cli_language():
        for name, plugin in sorted(installed_plugins().items()):
            enabled = name in pm.infos
            state = gettext("enabled") if enabled else gettext("disabled")
            line = f"{name} {plugin.version} [{state}] ({plugin.distribution})"
            if enabled:
                info = pm.infos[name]
                hooks = sorted(h.name for h in pm.get_hookcallers(pm.get_plugin(name)) or [])
                line += "\n    " + gettext("requires: %(names)s", names=", ".join(info.requires) or "-")
                line += "\n    " + gettext("hooks: %(names)s", names=", ".join(hooks))
            click.echo(line)


@cli.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=int, envvar="PORT")
@click.option("--workers", type=click.IntRange(1, 64), default=None, help="Worker processes (default: [server] workers).")
@click.option("--dev", is_flag=True, help="Werkzeug's development server, one process (no gunicorn).")
def serve(host, port, workers, dev):
    """Serve the app: gunicorn with the [server] settings of the city config (``--dev``: Werkzeug's server)."""
    app = _app()._get_current_object()
    server = app.extensions["civic"].config.server
    with cli_language():
        url = f"http://{host}:{port}/"
        click.echo(gettext("Civic Connect for %(city)s: %(url)s  (staff sign-in: %(url)slogin/)", city=app.config["APP_NAME"], url=url))
        for line in _login_hints(app):
            click.echo(f"  {line}")
        if not dev:
            click.echo(gettext("%(workers)d worker processes (gunicorn); stop with Ctrl-C.", workers=workers or server["workers"]))
    if dev:
        from werkzeug.serving import run_simple

        from core.privacy import AccessLogWithoutAddress

        # Not app.run(): Flask ignores it inside a `flask`-style CLI command.
        run_simple(host, port, app, threaded=True, use_reloader=False, use_debugger=False, request_handler=AccessLogWithoutAddress)
        return
    from core.extensions import db as database
    from core.server import run

    with app.app_context():
        database.engine.dispose()  # the workers open their own connections; none is carried across the fork
    run(host, port, server, workers)


def _login_hints(app) -> list[str]:
    """The admin login (and the demo logins) again, right before the server starts."""
    import os

    from sqlalchemy.exc import SQLAlchemyError
    from werkzeug.security import check_password_hash

    from core.demo import login_hint
    from core.extensions import db as database

    directory = app.extensions["civic"].data_dir
    username = os.environ.get("CIVIC_ADMIN_USER") or "admin"
    try:
        user = app.appbuilder.sm.find_user(username=username)
        if user is None:
            return [gettext("admin login: none yet (run `civic init` to create %(user)s)", user=username)]
        saved = directory / "admin-password"
        if os.environ.get("CIVIC_ADMIN_PASSWORD"):
            lines = [gettext("admin login: %(user)s / (the CIVIC_ADMIN_PASSWORD you set)", user=username)]
        elif saved.exists() and check_password_hash(user.password, saved.read_text().strip()):
            lines = [gettext("admin login: %(user)s / %(password)s", user=username, password=saved.read_text().strip())]
        else:
            lines = [gettext("admin login: %(user)s (password changed since it was generated)", user=username)]
        demo_line = login_hint(directory)
        return lines + ([demo_line] if demo_line else [])
    except SQLAlchemyError:
        return [gettext("the database is not set up yet: run `civic init`")]
    finally:
        database.session.remove()


if __name__ == "__main__":
    main()
