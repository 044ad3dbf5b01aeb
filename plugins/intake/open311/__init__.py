"""Open311 GeoReport v2 server (``/open311/v2``).  See /work/shared/design/OPEN311.md.

- ``views.py``: discovery, services, service definitions, request search and one request (GET), with
  the search extensions.
- ``write.py``: POST requests (API key, media), tokens of batch services.
- ``updates.py``: FixMyStreet-style ``servicerequestupdates`` (GET, and POST with a key).
- ``openapi.py``: the OpenAPI 3 description of the API (``openapi.json``, public).
- ``keys.py``: API keys (hashed) and their per-key rate limit; ``screens.py`` and ``cli.py`` manage them.
"""
from __future__ import annotations

from flask import Blueprint

open311 = Blueprint("open311", __name__, url_prefix="/open311/v2")


def blueprint() -> Blueprint:
    """The Open311 blueprint with its routes loaded."""
    from plugins.intake.open311 import openapi, updates, views, write  # noqa: F401

    return open311
