"""``civic fieldservice ...``: load the street network, zones, meters and file layers; the demo city's field data.

``import-streets``, ``import-zones`` and ``import-meters`` print one line per feature they could not read and a
summary; a file that cannot be read at all prints one error and exits with status 1 (nothing loaded)."""
from __future__ import annotations

import click
from flask.cli import with_appcontext


@click.group(help="Field service: street network, map layers, sweeps.")
def fieldservice():
    pass


def _run_import(function, file: str, *args) -> None:
    """Run one importer on FILE and print its report; a file error exits with status 1."""
    from flask_babel import gettext

    from core.cli import cli_language
    from core.extensions import db
    from plugins.fieldservice.importer import ImportFileError

    with cli_language():
        try:
            report = function(db.session, *args, file)
        except ImportFileError as exc:
            db.session.rollback()
            raise click.ClickException(gettext("%(file)s: %(error)s (nothing was loaded)", file=click.format_filename(file), error=exc)) from None
        for line in report.lines():
            click.echo(line)


@fieldservice.command("import-streets")
@click.argument("file", type=click.Path(dir_okay=False))
@with_appcontext
def import_streets_command(file):
    """Load street segments from the city's GIS export: GeoJSON, a shapefile (.shp or .zip) or a CSV with a WKT
    column.  Segments are matched by their segment id: importing again updates them."""
    from plugins.fieldservice.importer import import_streets

    _run_import(import_streets, file)


@fieldservice.command("import-zones")
@click.argument("file", type=click.Path(dir_okay=False))
@with_appcontext
def import_zones_command(file):
    """Load zones (districts) from a GeoJSON file of polygons with a code and a name; matched by code."""
    from plugins.fieldservice.importer import import_zones

    _run_import(import_zones, file)


@fieldservice.command("import-meters")
@click.argument("file", type=click.Path(dir_okay=False))
@with_appcontext
def import_meters_command(file):
    """Load utility meters from a CSV file (meter number, account number, lat, long, kind); matched by meter number."""
    from plugins.fieldservice.importer import import_meters

    _run_import(import_meters, file)


def _load_file_layers(only_empty: bool = False) -> bool:
    """Load the config's ``file`` layers (``only_empty``: those with no feature yet); False when a file failed."""
    import sqlalchemy as sa
    from flask_babel import gettext

    from core.extensions import db
    from plugins.fieldservice.importer import ImportFileError, import_layer
    from plugins.fieldservice.models import LayerFeature
    from plugins.fieldservice.settings import config_dir, layers

    ok = True
    declared = [lay for lay in layers() if lay.source == "file" and lay.file]
    if not declared and not only_empty:
        click.echo(gettext("No layer with a file is declared in the city config."))
    for lay in declared:
        if only_empty and db.session.scalar(sa.select(LayerFeature.id).where(LayerFeature.layer == lay.code).limit(1)):
            continue
        path = config_dir() / lay.file
        try:
            report = import_layer(db.session, lay, path)
        except ImportFileError as exc:
            db.session.rollback()
            click.echo(gettext("%(file)s: %(error)s (nothing was loaded)", file=click.format_filename(str(path)), error=exc), err=True)
            ok = False
            continue
        for line in report.lines():
            click.echo(line)
    return ok


@fieldservice.command("load-layers")
@with_appcontext
def load_layers_command():
    """Load every layer the city config declares with a file (path relative to the config file), replacing its features."""
    from core.cli import cli_language

    with cli_language():
        ok = _load_file_layers()
    if not ok:
        raise SystemExit(1)


@fieldservice.command("demo")
@with_appcontext
def demo_command():
    """The demo city's field data: sample zones and streets (labelled as sample data), crews, a sweep, work orders,
    and the config's file layers not loaded yet.  Run after ``civic demo``; a second run adds nothing."""
    from flask_babel import gettext

    from core.cli import cli_language
    from core.extensions import db
    from plugins.fieldservice.demo import load_demo

    with cli_language():
        report = load_demo(db.session)
        network = report.network or {}
        click.echo(gettext("Sample map data added: %(zones)d zones, %(segments)d street segments, %(meters)d meters.",
                           zones=network.get("zones", 0), segments=network.get("segments", 0), meters=network.get("meters", 0)))
        if report.crews:
            click.echo(gettext("Crews: %(names)s", names=", ".join(report.crews)))
        if report.sweep:
            click.echo(gettext("Sweep: %(name)s", name=report.sweep))
        click.echo(gettext("Work orders added: %(count)d", count=report.work_orders))
        _load_file_layers(only_empty=True)
