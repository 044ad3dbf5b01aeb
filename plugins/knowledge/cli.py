"""``civic knowledge ...``: the knowledge plugin's commands."""
from __future__ import annotations

import click
from flask.cli import with_appcontext


@click.group("knowledge")
def knowledge():
    """Knowledge base: articles and FAQ."""


@knowledge.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, readable=True))
@with_appcontext
def import_command(file):
    """Load topics, articles and FAQ from a TOML file (config/knowledge-sample.toml is an example).
    Articles are matched by slug, FAQ by English question: importing again updates them."""
    from core.cli import cli_language
    from core.extensions import db
    from plugins.knowledge.importer import ImportFileError, import_knowledge

    with cli_language():
        try:
            report = import_knowledge(db.session, file)
        except ImportFileError as exc:
            raise click.ClickException(f"{click.format_filename(file)}: {exc}") from None
        for line in report.lines():
            click.echo(line)
        if report.problems:
            raise SystemExit(2)
