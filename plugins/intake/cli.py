"""``civic intake ...``: the intake plugin's commands (one group; other intake channels add theirs to it)."""
from __future__ import annotations

import click
from flask.cli import with_appcontext


@click.group("intake")
def intake():
    """Resident portal and intake channels: imports and maintenance."""


@intake.command("import-utility-accounts")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, readable=True))
@with_appcontext
def import_utility_accounts_command(file):
    """Load the city's utility billing export (CSV): account number, service address, lat, long,
    holder last name, ZIP and an optional zone.  Upserts by account number; prints one line per
    refused row (never a holder's name)."""
    from core.cli import cli_language
    from core.extensions import db
    from plugins.intake.utility_import import ImportFileError, import_utility_accounts

    with cli_language():
        try:
            report = import_utility_accounts(db.session, file)
        except ImportFileError as exc:
            raise click.ClickException(f"{click.format_filename(file)}: {exc}") from None
        for line in report.lines():
            click.echo(line)


@intake.command("escalate")
@with_appcontext
def escalate_command():
    """Flag open cases past their expected date (once each) and e-mail each department its list.
    Safe to run from cron as often as wanted: a case is escalated only once."""
    from core.cli import cli_language
    from core.extensions import db
    from plugins.intake.escalation import escalate

    report = escalate(db.session)
    with cli_language():
        click.echo(report.line())
