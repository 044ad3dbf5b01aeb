"""What each key of the ``[fieldservice]`` section means (the ``config_docs`` hook; docs/config-reference.md shows them).

Layer and sweep-type keys have no entry in ``config_defaults``: their defaults are quoted here from settings.py.
"""
from __future__ import annotations

from plugins.fieldservice.settings import GEOMETRIES, SOURCES, SweepStatus

_LAYERS = "fieldservice.layers[]"
_STATUSES = "fieldservice.sweep_types[].statuses[]"

DOCS = {
    "fieldservice.tile_url": "Base map tiles of the staff maps (https://tiles.example/{z}/{x}/{y}.png); empty: no tiles, the "
                             "city's street layer is the base map (works without internet).",
    "fieldservice.tile_attribution": "The credit line the tile provider asks for, shown on the maps.",
    "fieldservice.raw_zoom": "At this zoom level and closer, map layers send their features; farther out, counts per grid cell.",
    "fieldservice.hotspot_cell_m": "The side of an EOC hot-spot cell at the raw zoom, in metres.",
    "fieldservice.refresh_seconds": "How often, in seconds, the EOC board and the crew view refresh themselves.",
    "fieldservice.layers": "The map layers, one [[fieldservice.layers]] table each, in the layer switcher's order; none: "
                           "streets, zones, open cases and meters.",
    f"{_LAYERS}.code": "The layer's code in URLs (lower-case letters, digits and _, such as hydrants); required and unique.",
    f"{_LAYERS}.name": "The label in the layer switcher: text, or { en = \"...\", fr = \"...\" }; default: the code.",
    f"{_LAYERS}.source": f"Where the features come from: {', '.join(SOURCES)} (streets, zones, cases and meters are built in; "
                         "file is a GeoJSON file; table is a table or view of the database); default file.",
    f"{_LAYERS}.file": "For source = \"file\": the GeoJSON file, relative to the config file; `civic fieldservice load-layers` "
                       "loads it.",
    f"{_LAYERS}.table": "For source = \"table\": the table or view of the city's database that holds the features.",
    f"{_LAYERS}.geometry": f"The features' shape: {', '.join(GEOMETRIES)} (built-in sources know theirs; otherwise point).",
    f"{_LAYERS}.lat_column": "For source = \"table\": the latitude column of a table of points (with long_column).",
    f"{_LAYERS}.long_column": "For source = \"table\": the longitude column of a table of points (with lat_column).",
    f"{_LAYERS}.geometry_column": "For source = \"table\": a column of GeoJSON geometry text, for lines and polygons (instead of "
                                  "lat_column and long_column).",
    f"{_LAYERS}.key_column": "For source = \"table\": the column that identifies a row (optional).",
    f"{_LAYERS}.style": "How the layer is drawn: a table of the keys below, such as { color = \"#c62828\", radius = 4 }.",
    f"{_LAYERS}.style.color": "The line or point colour, #rrggbb.",
    f"{_LAYERS}.style.fill_color": "The fill colour of polygons and points, #rrggbb.",
    f"{_LAYERS}.style.weight": "The line width, in pixels.",
    f"{_LAYERS}.style.radius": "The radius of points, in pixels.",
    f"{_LAYERS}.style.opacity": "The opacity of lines, from 0 (invisible) to 1.",
    f"{_LAYERS}.style.fill_opacity": "The opacity of fills, from 0 (invisible) to 1.",
    f"{_LAYERS}.popup": "The feature properties shown when a feature is clicked, in this order (such as [\"HYDRANT_ID\"]); nothing "
                        "else leaves the server.",
    f"{_LAYERS}.roles": "Only staff with one of these roles see the layer (Admin always does); empty (the default): every staff "
                        "member who sees the map.",
    f"{_LAYERS}.visible": "false: the layer is listed but off until switched on (default true).",
    "fieldservice.sweep_types": "The kinds of street sweep (such as a post-storm debris pass), one [[fieldservice.sweep_types]] "
                                "table each; none: the built-in debris pass.",
    "fieldservice.sweep_types[].code": "The sweep type's code (lower-case letters, digits and _, such as debris); required and unique.",
    "fieldservice.sweep_types[].name": "The sweep type's label: text, or { en = \"...\", fr = \"...\" }; default: the code.",
    "fieldservice.sweep_types[].statuses": "The statuses a street segment can have in this sweep, one "
                                           "[[fieldservice.sweep_types.statuses]] table each; at least two, the first is where "
                                           "every segment starts.",
    f"{_STATUSES}.code": "The status's code (at most 32 lower-case letters, digits and _, such as power_line_down); unique in its "
                         "sweep type.",
    f"{_STATUSES}.name": "The status's label: text, or { en = \"...\", fr = \"...\" }; default: the code.",
    f"{_STATUSES}.color": f"The colour of segments in this status on the maps, #rrggbb (default {SweepStatus.color}).",
    f"{_STATUSES}.cleared": "true: a segment in this status counts as cleared in the sweep's progress (default false; not on "
                            "the first status).",
    f"{_STATUSES}.severity": f"0 to 3: how much the status weighs on the EOC hot-spot map; above 0 the segment is flagged "
                             f"(default {SweepStatus.severity}; not on the first status).",
    f"{_STATUSES}.service": "\"Create a case\" from a segment in this status makes a case of this service code (one of "
                            "[[services]]).",
    f"{_STATUSES}.department": "\"Create a work order\" from a segment in this status gives it to this department code; default: "
                               "the service's department.",
    f"{_STATUSES}.attributes": "The answers the case made from the segment gets, by attribute code of the service, such as "
                               "{ DEBRIS_TYPE = [\"vegetative\"] }.",
}
