"""``civic fema ...`` (stub: each owner adds its commands)."""
from __future__ import annotations

import click


@click.group(help="FEMA Public Assistance: disasters, rates, exports.")
def fema():
    pass
