"""``civic fieldservice ...``: (stub: filled in by its owner)"""
from __future__ import annotations

import click
from flask.cli import with_appcontext  # noqa: F401


@click.group(help="Field service: street network, map layers, sweeps.")
def fieldservice():
    pass
