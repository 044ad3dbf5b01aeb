"""The plugin's templates and static files (its own scripts, and Leaflet and MarkerCluster from their pip
packages: the map works without the internet).  (Leaflet routes: filled in by the map's owner.)"""
from __future__ import annotations

from pathlib import Path

from flask import Blueprint

HERE = Path(__file__).resolve().parent


def blueprint() -> Blueprint:
    return Blueprint("fieldservice_assets", __name__, url_prefix="/fieldservice/assets",
                     template_folder=str(HERE / "templates"), static_folder=str(HERE / "static"))
