"""Field › Map: the staff map of the city's layers, and the GeoJSON endpoint every map of the plugin reads.

``/fieldservice/map/`` shows a Leaflet map (from its pip package) with a layer switcher listing the layers the
user may see.  ``/fieldservice/map/layer/<code>.geojson?bbox=&zoom=&sweep=&status=`` answers one layer for the
map's box and zoom (``plugins.fieldservice.layers``): 400 naming the bad parameter, 403 for a layer kept to
other roles, 404 for an unknown layer.  Without a configured ``tile_url`` there are no tiles: the city's streets
and zones are the base map.
"""
from __future__ import annotations

from flask import current_app, jsonify, request, url_for
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access, has_access_api
from flask_babel import gettext
from flask_babel import lazy_gettext as _l

from core.extensions import db
from core.records import RoleSpec, ViewSpec
from plugins.fieldservice import geo, layers
from plugins.fieldservice.assets import map_assets
from plugins.fieldservice.settings import layer as find_layer
from plugins.fieldservice.settings import settings

MAP_ROLES = ("Dispatcher", "Department staff", "Field crew", "EOC viewer")

# Labels of the popup fields of the built-in layers (a file or table layer shows its own property names).
FIELD_LABELS = {
    "street": _l("Street"), "segment": _l("Segment"), "zone": _l("Zone"), "length_m": _l("Length (m)"),
    "status_label": _l("Status"), "name": _l("Name"), "code": _l("Code"), "reference": _l("Reference"),
    "service": _l("Service"), "created": _l("Created"), "meter_number": _l("Meter"), "account_number": _l("Account"),
    "kind": _l("Kind"), "count": _l("Count"),
}


def map_config(visible: list, **extra) -> dict:
    """What ``FieldMap.create`` needs: centre, zoom, tiles, the layers' display settings, texts and URLs."""
    section = settings()
    center = current_app.extensions["civic"].config.city.get("center") or [0, 0]
    return {
        "center": list(center),
        "zoom": layers.raw_zoom(),  # opens where each street shows: the streets are the base map
        "raw_zoom": layers.raw_zoom(),
        "tile_url": section.get("tile_url") or "",
        "tile_attribution": section.get("tile_attribution") or "",
        "layer_url": url_for("FieldMapView.layer", code="LAYERCODE").replace("LAYERCODE", "{code}"),
        "layers": [layers.client_config(lay) for lay in visible],
        "labels": {key: str(label) for key, label in FIELD_LABELS.items()},
        "texts": {"open_case": gettext("Open the case"), "items": gettext("%(count)s here"), "truncated":
                  gettext("Only part of this layer is shown: zoom in to see it all."), "failed": gettext("This layer could not be loaded.")},
        **extra,
    }


def _error(status: int, field: str | None, message: str):
    body = {"message": gettext("%(field)s: %(message)s", field=field, message=message) if field else message}
    if field:
        body["errors"] = {field: [message]}
    return jsonify(body), status


class FieldMapView(BaseView):
    """The staff map (Field › Map) and the layers' GeoJSON."""

    route_base = "/fieldservice/map"
    default_view = "index"
    base_permissions = ["can_list"]
    method_permission_name = {"index": "list", "layer": "list"}

    @expose("/")
    @has_access
    def index(self):
        visible = layers.visible_layers()
        config = map_config(visible)
        return self.render_template("fieldservice/map.html", title=gettext("Map"), map_config=config, assets=map_assets(),
                                    has_tiles=bool(config["tile_url"]))

    @expose("/layer/<string:code>.geojson")
    @has_access_api
    def layer(self, code: str):
        found = find_layer(code)
        if found is None:
            return _error(404, None, gettext("No such layer: %(code)s", code=code[:64]))
        if not layers.may_see(found):
            return _error(403, None, gettext("This layer is not shown to your role."))
        try:
            query = layers.parse_query(found, request.args)
            collection = layers.layer_geojson(db.session, found, query)
        except geo.GeoError as exc:
            return _error(400, exc.field, exc.message)
        except layers.LayerUnavailable as exc:
            current_app.logger.warning("map layer %s unavailable: %s", found.code, exc)
            return _error(503, None, gettext("This layer cannot be read now; the city's administrator has been told."))
        response = jsonify(collection)
        response.headers["Cache-Control"] = "private, no-store"
        return response


# ---------------------------------------------------------------- registration (screens.py)


def view_specs() -> list[ViewSpec]:
    return [ViewSpec("Field map", FieldMapView, _l("Map"), "Field", _l("Field"), "fa-map")]


def role_specs() -> list[RoleSpec]:
    permissions = (("FieldMapView", "can_list"), ("Field|Field map", "menu_access"))
    return [RoleSpec(role, permissions) for role in MAP_ROLES]
