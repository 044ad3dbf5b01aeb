"""``civic open311 ...``: API keys and batch submissions."""
from __future__ import annotations

import click


@click.group("open311")
def open311():
    """Open311 GeoReport v2: API keys for the apps that report to the city."""
