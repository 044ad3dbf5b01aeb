"""``civic open311 ...``: API keys and batch submissions."""
from __future__ import annotations

import click
from flask.cli import with_appcontext


@click.group("open311")
def open311():
    """Open311 GeoReport v2: API keys for the apps that report to the city."""


@open311.command("create-key")
@click.argument("name")
@click.option("--rate-limit", type=int, default=None, help="Requests per minute for this key (default: [intake] open311_rate_limit).")
@with_appcontext
def create_key_command(name, rate_limit):
    """Create an API key named NAME (who uses it: "FixMyStreet") and print it, once."""
    from flask_babel import gettext

    from core.cli import cli_language
    from core.extensions import db
    from plugins.intake.open311.keys import KeyProblem, create_key

    with cli_language():
        try:
            key, plain = create_key(db.session, name, rate_limit=rate_limit)
        except KeyProblem as exc:
            raise click.ClickException(gettext("%(field)s: %(message)s", field=exc.field, message=exc.message)) from None
        click.echo(plain)
        click.echo(gettext("API key '%(name)s' created (starts with %(prefix)s). Keep it now: it will not be shown again.",
                           name=key.name, prefix=key.prefix), err=True)


@open311.command("revoke-key")
@click.argument("name")
@with_appcontext
def revoke_key_command(name):
    """Revoke the API key named NAME: it stops working at once."""
    from flask_babel import gettext

    from core.cli import cli_language
    from core.extensions import db
    from plugins.intake.open311.keys import find_key, revoke_key

    with cli_language():
        key = find_key(db.session, name)
        if key is None:
            raise click.ClickException(gettext("no API key is named '%(name)s' (see civic open311 list-keys)", name=name))
        if revoke_key(db.session, key):
            click.echo(gettext("API key '%(name)s' revoked.", name=key.name))
        else:
            click.echo(gettext("API key '%(name)s' was already revoked.", name=key.name))


@open311.command("list-keys")
@with_appcontext
def list_keys_command():
    """List the API keys: name, first characters, rate limit, created, last used, revoked (never the key)."""
    from flask_babel import gettext
    from sqlalchemy import select

    from core.cli import cli_language
    from core.extensions import db
    from plugins.intake.models import ApiKey
    from plugins.intake.open311.formats import utc

    with cli_language():
        keys = list(db.session.scalars(select(ApiKey).order_by(ApiKey.name)))
        if not keys:
            click.echo(gettext("No API keys yet: civic open311 create-key NAME"))
            return
        for key in keys:
            limit = str(key.rate_limit) if key.rate_limit else gettext("default")
            click.echo("\t".join([
                key.name, key.prefix + "…", gettext("%(limit)s/min", limit=limit), gettext("created %(when)s", when=utc(key.created_at)),
                gettext("last used %(when)s", when=utc(key.last_used_at)) if key.last_used_at else gettext("never used"),
                gettext("revoked %(when)s", when=utc(key.revoked_at)) if key.revoked_at else gettext("active"),
            ]))


@open311.command("process-batch")
@with_appcontext
def process_batch_command():
    """Turn pending submissions of batch services into cases (safe to run from cron as often as wanted)."""
    from core.cli import cli_language
    from core.extensions import db
    from plugins.intake.open311.write import process_batch

    with cli_language():
        report = process_batch(db.session)
        for line in report.lines():
            click.echo(line)
