"""The plugin's templates and static files (its own scripts, and Leaflet and MarkerCluster from their pip
packages: the map works without the internet).

Leaflet is served at ``/fieldservice/assets/leaflet/<file>`` (endpoint ``fieldservice_assets.leaflet``) and
MarkerCluster at ``/fieldservice/assets/markercluster/<file>`` (``fieldservice_assets.markercluster``), straight
from the XStatic packages' folders (``send_from_directory``: no path outside them).  ``map_assets()`` gives a
template every URL it needs, the plugin's own ``fieldmap.js`` included."""
from __future__ import annotations

from pathlib import Path

from flask import Blueprint, abort, send_from_directory, url_for

HERE = Path(__file__).resolve().parent


CACHE_SECONDS = 7 * 24 * 3600


def package_dir(name: str) -> str | None:
    """The data folder of an XStatic package (``leaflet``, ``leaflet_markercluster``), None when not installed."""
    try:
        if name == "leaflet":
            from xstatic.pkg import leaflet as package
        elif name == "leaflet_markercluster":
            from xstatic.pkg import leaflet_markercluster as package
        else:
            return None
    except ImportError:
        return None
    return package.BASE_DIR


def _serve(package: str, filename: str):
    folder = package_dir(package)
    if folder is None:
        abort(404)
    return send_from_directory(folder, filename, max_age=CACHE_SECONDS)  # refuses ../ and absolute paths


def map_assets() -> dict[str, str]:
    """URLs of Leaflet, MarkerCluster and the plugin's FieldMap helper, for a page's <link> and <script> tags."""
    return {
        "leaflet_css": url_for("fieldservice_assets.leaflet", filename="leaflet.css"),
        "leaflet_js": url_for("fieldservice_assets.leaflet", filename="leaflet.js"),
        "markercluster_css": url_for("fieldservice_assets.markercluster", filename="MarkerCluster.css"),
        "markercluster_default_css": url_for("fieldservice_assets.markercluster", filename="MarkerCluster.Default.css"),
        "markercluster_js": url_for("fieldservice_assets.markercluster", filename="leaflet.markercluster.js"),
        "fieldmap_js": url_for("fieldservice_assets.static", filename="fieldservice/fieldmap.js"),
    }


def blueprint() -> Blueprint:
    bp = Blueprint("fieldservice_assets", __name__, url_prefix="/fieldservice/assets",
                   template_folder=str(HERE / "templates"), static_folder=str(HERE / "static"))

    @bp.route("/leaflet/<path:filename>")
    def leaflet(filename: str):
        """Leaflet's files from the XStatic-Leaflet package."""
        return _serve("leaflet", filename)

    @bp.route("/markercluster/<path:filename>")
    def markercluster(filename: str):
        """Leaflet.markercluster's files from the XStatic-Leaflet-MarkerCluster package."""
        return _serve("leaflet_markercluster", filename)

    return bp
