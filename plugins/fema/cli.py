"""``civic fema ...``: disasters, rates, timesheets, exports, the demo and the export benchmark's data."""
from __future__ import annotations

import click
from flask.cli import with_appcontext


@click.group(help="FEMA Public Assistance: disasters, rates, exports.")
def fema():
    pass


@fema.command("import-rates")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--edition", required=True, help="The schedule's edition, such as 2019.")
@click.option("--effective-from", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="First declaration date it applies to (default: 1 January of the edition's year).")
@with_appcontext
def import_rates_command(file, edition, effective_from):
    """Load FEMA's Schedule of Equipment Rates from its CSV file; importing an edition again replaces it.
    Prints each line it skipped and why; exit status 1, nothing loaded, when the file cannot be read."""
    from core.cli import cli_language
    from core.extensions import db
    from plugins.fema.rates import RateFileError, import_rates

    with cli_language():
        try:
            report = import_rates(db.session, file, edition, effective_from.date() if effective_from else None)
        except RateFileError as exc:
            raise click.ClickException(f"{click.format_filename(file)}: {exc}") from None
        for line in report.lines():
            click.echo(line)


@fema.command("import-timesheets", help="Import a timesheet CSV as force-account labor of a disaster.")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--disaster", "number", required=True, help="Disaster number (DR-4468) or event tag.")
@with_appcontext
def import_timesheets_command(file, number):
    from plugins.fema import timesheets

    timesheets.run_cli_import(file, number)


@fema.command("import-declarations")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--state", default=None, help="Only this state's rows, such as FL.")
@click.option("--county", default=None, help="Only rows of this designated county, such as Flagler.")
@with_appcontext
def import_declarations_command(file, state, county):
    """Create or update disasters from an OpenFEMA DisasterDeclarationsSummaries file (CSV or JSON): one per
    declaration, its designated counties gathered.  Prints each row it skipped and why."""
    from flask_babel import gettext

    from core.cli import cli_language
    from core.extensions import db
    from plugins.fema.declarations import DeclarationFileError, import_declarations

    with cli_language():
        try:
            report = import_declarations(db.session, file, state=state, county=county)
        except DeclarationFileError as exc:
            db.session.rollback()
            raise click.ClickException(gettext("%(file)s: %(error)s (nothing was loaded)", file=click.format_filename(file), error=exc)) from None
        for line in report.lines():
            click.echo(line)


@fema.command("activate")
@click.argument("key")
@with_appcontext
def activate_command(key):
    """Make the disaster KEY (its number, DR-4468, or its tag) the active event; any other one ends."""
    from flask_babel import gettext

    from core.cli import cli_language
    from core.extensions import db
    from plugins.fema.events import activate, find_event

    with cli_language():
        disaster = find_event(db.session, key)
        if disaster is None:
            raise click.ClickException(gettext("no disaster with the number or tag %(key)s", key=key))
        activate(db.session, disaster)
        click.echo(gettext("Active event: %(title)s (new cases are tagged %(tag)s)", title=disaster.title, tag=disaster.tag))


@fema.command("deactivate")
@with_appcontext
def deactivate_command():
    """End the active event: new cases are no longer tagged and the portal banner goes away."""
    from flask_babel import gettext

    from core.cli import cli_language
    from core.extensions import db
    from plugins.fema.events import deactivate

    with cli_language():
        ended = deactivate(db.session)
        click.echo(gettext("Events ended: %(count)s", count=ended))


# ---------------------------------------------------------------- exports (plugins/fema/exporter.py)

@fema.command("export")
@click.option("--disaster", "key", required=True, help="Disaster number (DR-4468) or event tag.")
@click.option("--form", required=True, help="labor, equipment, materials, rentals, contracts, damage_inventory, load_tickets.")
@click.option("--format", "file_format", type=click.Choice(["csv", "xlsx", "pdf"]), default="csv", show_default=True)
@click.option("--edition", default=None, help="Use this profile edition (such as 1998) instead of the one in effect.")
@click.option("--category", default=None, help="Only records of this category (A-G).")
@click.option("--from", "date_from", type=click.DateTime(formats=["%Y-%m-%d"]), default=None, help="First work date.")
@click.option("--to", "date_to", type=click.DateTime(formats=["%Y-%m-%d"]), default=None, help="Last work date.")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="The file to write.")
@with_appcontext
def export_command(key, form, file_format, edition, category, date_from, date_to, output):
    """Write a FEMA summary record of a disaster (profile and rate schedule chosen by its declaration date) and log it."""
    import getpass

    from flask_babel import gettext

    from core.cli import cli_language
    from core.extensions import db
    from plugins.fema import exporter, profiles

    with cli_language():
        disaster = exporter.find_disaster(db.session, key)
        if disaster is None:
            raise click.ClickException(gettext("no disaster with the number or tag %(key)s", key=key))
        try:
            known = profiles.load_profiles(profiles.city_profiles_dir())
        except profiles.ProfileError as exc:
            raise click.ClickException(str(exc)) from None
        params = exporter.Params(form, file_format, edition, category, date_from.date() if date_from else None,
                                 date_to.date() if date_to else None)
        try:
            record, plan = exporter.run_export(db.session, disaster, params, output, f"cli:{getpass.getuser()}", known)
        except exporter.ExportError as exc:
            raise click.ClickException(f"--{exc.field.replace('_', '-')}: {exc.message}") from None
        click.echo(gettext("Export %(id)s: %(rows)s rows of %(form)s with profile %(profile)s written to %(file)s",
                           id=record.id, rows=record.row_count, form=form, profile=record.profile, file=output))
        if record.rate_edition:
            click.echo(gettext("Rate schedule: %(edition)s", edition=record.rate_edition))
        if plan.missing_rates:
            click.echo(gettext("Lines without an equipment rate: %(count)s", count=plan.missing_rates))
        click.echo(f"sha256 {record.file_sha256}")


@fema.command("exports")
@click.option("--disaster", "key", default=None, help="Only this disaster's exports.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 10000))
@with_appcontext
def exports_command(key, limit):
    """The log of exports, newest first: id, when, who, disaster, form, profile, format, rows, checksum."""
    from flask_babel import gettext
    from sqlalchemy import select

    from core.cli import cli_language
    from core.extensions import db
    from plugins.fema import exporter
    from plugins.fema.models import ExportRecord

    with cli_language():
        stmt = select(ExportRecord).order_by(ExportRecord.id.desc()).limit(limit)
        if key:
            disaster = exporter.find_disaster(db.session, key)
            if disaster is None:
                raise click.ClickException(gettext("no disaster with the number or tag %(key)s", key=key))
            stmt = stmt.where(ExportRecord.disaster_id == disaster.id)
        for r in db.session.scalars(stmt):
            click.echo("\t".join(str(v) for v in (r.id, r.created_at.isoformat(sep=" ", timespec="seconds"), r.created_by,
                                                   r.disaster.number or r.disaster.tag, r.form, r.profile, r.file_format,
                                                   r.row_count, r.file_sha256)))


@fema.command("reproduce")
@click.argument("export_id", type=int)
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="The file to write.")
@with_appcontext
def reproduce_command(export_id, output):
    """Re-run export EXPORT_ID with its recorded profile, rate schedule and parameters; exit status 1 when the
    new file's checksum differs from the recorded one."""
    from flask_babel import gettext

    from core.cli import cli_language
    from core.extensions import db
    from plugins.fema import exporter
    from plugins.fema.models import ExportRecord

    with cli_language():
        record = db.session.get(ExportRecord, export_id)
        if record is None:
            raise click.ClickException(gettext("no export with the number %(id)s", id=export_id))
        result = exporter.reproduce(db.session, record, output)
        for note in result.notes:
            click.echo(note)
        if not result.matches:
            raise click.ClickException(gettext("checksum differs: %(new)s, recorded %(old)s", new=result.sha256, old=record.file_sha256))
        click.echo(gettext("Checksum matches: %(sha)s", sha=result.sha256))


@fema.command("demo")
@with_appcontext
def demo_command():
    """The demo city's FEMA records: the sample rate schedule, the demo hurricane as a (sample) declared disaster,
    employees, equipment, sites and a week of labor and equipment records.  Run after ``civic demo``."""
    from flask_babel import gettext

    from core.cli import cli_language
    from core.extensions import db
    from plugins.fema.demo import load_demo

    with cli_language():
        report = load_demo(db.session)
        click.echo(gettext("Disaster: %(name)s", name=report.disaster))
        click.echo(gettext("Added: %(rates)d equipment rates, %(employees)d employees, %(equipment)d units of equipment, "
                           "%(labor)d labor records, %(uses)d equipment records.", rates=report.rates, employees=report.employees,
                           equipment=report.equipment, labor=report.labor, uses=report.equipment_use))


@fema.command("bench-data")
@click.option("--rows", "count", required=True, type=click.IntRange(1, 10_000_000), help="How many labor records (and as many equipment and material records) to add.")
@click.option("--disaster", "key", default=None, help="Add them to this disaster (number or tag) instead of the sample one.")
@with_appcontext
def bench_data_command(count, key):
    """Add synthetic labor, equipment and material records for the export benchmark (sample disaster DR-9990): never on a real city's database."""
    from flask_babel import gettext

    from core.cli import cli_language
    from core.extensions import db
    from plugins.fema import exporter
    from plugins.fema.benchdata import generate

    with cli_language():
        disaster = None
        if key:
            disaster = exporter.find_disaster(db.session, key)
            if disaster is None:
                raise click.ClickException(gettext("no disaster with the number or tag %(key)s", key=key))
        report = generate(db.session, count, disaster=disaster)
        click.echo(gettext("FEMA bench data on %(disaster)s: %(labor)d labor, %(equipment)d equipment and %(materials)d material records added in %(seconds).1f s",
                           disaster=report.disaster, labor=report.labor, equipment=report.equipment, materials=report.materials,
                           seconds=report.seconds))
