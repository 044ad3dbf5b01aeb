"""``civic streetlights ...``: the plugin's commands (added to the ``civic`` command by ``register_commands``)."""
from __future__ import annotations

import click
from flask.cli import with_appcontext
from flask_babel import gettext


@click.group("streetlights")
def streetlights():
    """Streetlight poles: the register behind the nearest-pole panel."""


@streetlights.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, readable=True))
@with_appcontext
def import_command(file):
    """Add or update poles from a CSV file (columns pole, street, lat, long, and optionally lamp)."""
    from core.cli import cli_language
    from core.extensions import db

    from civic_streetlights.poles import ImportFileError, import_poles

    with cli_language():
        try:
            report = import_poles(db.session, file)
        except ImportFileError as exc:
            raise click.ClickException(str(exc)) from None
        for line, why in report.skipped:
            click.echo(gettext("line %(line)d skipped: %(why)s", line=line, why=why))
        click.echo(gettext("Streetlight poles: %(added)d added, %(updated)d updated, %(skipped)d skipped.",
                           added=report.added, updated=report.updated, skipped=len(report.skipped)))
