"""``civic intake ...``: the intake plugin's commands (one group; other intake channels add theirs to it)."""
from __future__ import annotations

import click
from flask.cli import with_appcontext
from flask_babel import gettext


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


# ---------------------------------------------------------------- the e-mail channel

EX_DATAERR, EX_TEMPFAIL = 65, 75  # sysexits.h: an MTA bounces the first, retries the second


@intake.command("poll-email")
@with_appcontext
def poll_email_command():
    """Read the city's mailbox ([intake.email]) once: each new message becomes a case, or a note on the
    case it answers; auto-replies, bounces and lists are ignored.  Run it from cron (every minute is fine)."""
    import sys

    from core.cli import cli_language
    from plugins.intake.email.imap import MailboxError, poll
    from plugins.intake.email.settings import SettingsError, current, require_mailbox

    with cli_language():
        try:
            settings = current()
            password = require_mailbox(settings)
        except SettingsError as exc:
            click.echo(f"{exc.key}: {exc.message}", err=True)
            sys.exit(2)
        try:
            report = poll(settings, password)
        except MailboxError as exc:
            click.echo(str(exc), err=True)
            sys.exit(1)
        click.echo(report.line(settings.folder))
    sys.exit(1 if report.failed else 0)


def _read_message(stream, limit: int) -> tuple[bytes, bool]:
    """At most ``limit`` bytes of the message, and whether it was longer (the rest is read and dropped)."""
    data = stream.read(limit + 1)
    if len(data) <= limit:
        return data, False
    while stream.read(1024 * 1024):
        pass
    return data[:limit], True


@intake.command("email")
@click.argument("file", required=False, default="-", type=click.File("rb"))
@with_appcontext
def email_command(file):
    """Take in one e-mail (RFC 822) from FILE or standard input: for an MTA pipe (Postfix pipe(8), an
    alias "|civic intake email").  Exit status 0 when the message was taken in or deliberately ignored;
    75 (EX_TEMPFAIL: the MTA retries later) with one line when it could not be processed now."""
    import sys

    import sqlalchemy.exc

    from core.cli import cli_language, database_problem
    from core.extensions import db
    from plugins.intake.email.ingest import IngestError, ingest
    from plugins.intake.email.settings import SettingsError, current

    with cli_language():
        try:
            settings = current()
        except SettingsError as exc:
            click.echo(f"{exc.key}: {exc.message}", err=True)
            sys.exit(EX_TEMPFAIL)
        raw, truncated = _read_message(file, settings.max_bytes)
        if not raw.strip():
            click.echo(gettext("no message: the input is empty"), err=True)
            sys.exit(EX_DATAERR)
        try:
            outcome = ingest(raw, settings, truncated=truncated)
        except IngestError as exc:
            db.session.rollback()
            click.echo(str(exc), err=True)
            sys.exit(EX_TEMPFAIL)
        except sqlalchemy.exc.DBAPIError as exc:
            db.session.rollback()
            click.echo(f"CIVIC_DATABASE_URL: {database_problem(exc)}", err=True)
            sys.exit(EX_TEMPFAIL)
        except Exception as exc:  # noqa: BLE001 -- one line, and the MTA keeps the message to retry it
            db.session.rollback()
            problem = type(exc).__name__ + ": " + (str(exc).strip().splitlines() or [""])[0][:200]
            click.echo(gettext("could not take the message in: %(problem)s", problem=problem), err=True)
            sys.exit(EX_TEMPFAIL)
        click.echo(outcome_line(outcome))


def outcome_line(outcome) -> str:
    """What became of one message, in the command's language."""
    if outcome.kind == "case":
        return gettext("new case %(reference)s", reference=outcome.reference)
    if outcome.kind == "reply":
        return gettext("note added to case %(reference)s", reference=outcome.reference)
    if outcome.kind == "ignored":
        return gettext("ignored (%(reason)s)", reason=outcome.reason)
    return gettext("already taken in before: nothing to do")
