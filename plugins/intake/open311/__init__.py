"""Open311 GeoReport v2 server, read side (``/open311/v2``): discovery, services, service
definitions, request search and one request, in XML and JSON.  See /work/shared/design/OPEN311.md
and ``views.py``.  Only GET: no CSRF exemption is needed.
"""
from __future__ import annotations

from flask import Blueprint

open311 = Blueprint("open311", __name__, url_prefix="/open311/v2")


def blueprint() -> Blueprint:
    """The Open311 blueprint with its routes loaded."""
    from plugins.intake.open311 import views  # noqa: F401

    return open311
