"""The ``[fieldservice]`` section of the city config: map settings, map layers and sweep types.

Everything a city changes without code lives here (docs/fieldservice.md has a worked example)::

    [fieldservice]
    tile_url = ""            # base map tiles; empty: the city's own street layer is the base map
    raw_zoom = 15            # at and above this zoom, layers send raw features; below, grid cells
    hotspot_cell_m = 400     # side of an EOC hot-spot cell (metres) at the raw zoom
    refresh_seconds = 30     # EOC board and crew view refresh

    [[fieldservice.layers]]
    code = "hydrants"
    name = { en = "Fire hydrants", fr = "Bornes d'incendie" }
    source = "file"          # streets | zones | cases | meters | file | table
    file = "gis/hydrants.geojson"
    geometry = "point"       # point | line | polygon
    style = { color = "#c62828", radius = 4 }
    popup = ["HYDRANT_ID", "FLOW_GPM"]
    roles = ["Field crew", "Dispatcher"]   # empty: every staff member

    [[fieldservice.sweep_types]]
    code = "debris"
    name = { en = "Post-storm debris pass", fr = "Passage post-tempête (débris)" }
    [[fieldservice.sweep_types.statuses]]
    code = "not_checked"     # the first status is where every segment starts
    name = { en = "Not checked", fr = "Non vérifiée" }
    color = "#9e9e9e"
    [[fieldservice.sweep_types.statuses]]
    code = "clear"
    name = { en = "Clear", fr = "Dégagée" }
    color = "#2e7d32"
    cleared = true
    [[fieldservice.sweep_types.statuses]]
    code = "debris"
    name = { en = "Debris", fr = "Débris" }
    color = "#ef6c00"
    severity = 2             # 0..3: how much it weighs on the EOC hot-spot map
    service = "STORM_DEBRIS" # "create a case" from a segment in this status makes a case of this service
    attributes = { DEBRIS_TYPE = ["vegetative"] } # ... with these answers to the service's questions
    department = "PW"        # "create a work order" gives it to this department (default: the service's)

Accessors (``layers()``, ``sweep_types()``, ``sweep_type(code)``) read the app's merged plugin config;
``problems(config)`` checks it at start-up, one line per bad key.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask import current_app

from core.i18n_content import current_locale, default_locale
from core.records import ConfigProblem

SOURCES = ("streets", "zones", "cases", "meters", "file", "table")
GEOMETRIES = ("point", "line", "polygon")
BUILT_IN_GEOMETRY = {"streets": "line", "zones": "polygon", "cases": "point", "meters": "point"}
CODE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")
IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
STYLE_KEYS = {"color": str, "fill_color": str, "weight": (int, float), "radius": (int, float), "opacity": (int, float),
              "fill_opacity": (int, float)}
KNOWN = {"tile_url", "tile_attribution", "raw_zoom", "hotspot_cell_m", "refresh_seconds", "layers", "sweep_types"}
LAYER_KEYS = {"code", "name", "source", "file", "table", "geometry", "lat_column", "long_column", "geometry_column",
              "key_column", "style", "popup", "roles", "visible"}
TYPE_KEYS = {"code", "name", "statuses"}
STATUS_KEYS = {"code", "name", "color", "cleared", "severity", "service", "department", "attributes"}

# The layers a city gets when it declares none: its streets, zones, cases and meters.
DEFAULT_LAYERS: list[dict[str, Any]] = [
    {"code": "streets", "source": "streets", "name": {"en": "Streets", "fr": "Rues"}, "style": {"color": "#546e7a", "weight": 3}},
    {"code": "zones", "source": "zones", "name": {"en": "Zones", "fr": "Secteurs"},
     "style": {"color": "#1565c0", "weight": 2, "fill_opacity": 0.05}},
    {"code": "cases", "source": "cases", "name": {"en": "Open cases", "fr": "Dossiers ouverts"}, "style": {"radius": 6}},
    {"code": "meters", "source": "meters", "name": {"en": "Utility meters", "fr": "Compteurs"},
     "style": {"color": "#6a1b9a", "radius": 3}, "visible": False, "roles": ["Field crew", "Dispatcher", "Department staff"]},
]

DEFAULT_SWEEP_TYPES: list[dict[str, Any]] = [
    {
        "code": "debris",
        "name": {"en": "Post-storm debris pass", "fr": "Passage post-tempête (débris)"},
        "statuses": [
            {"code": "not_checked", "name": {"en": "Not checked", "fr": "Non vérifiée"}, "color": "#9e9e9e"},
            {"code": "clear", "name": {"en": "Clear", "fr": "Dégagée"}, "color": "#2e7d32", "cleared": True},
            {"code": "debris", "name": {"en": "Debris", "fr": "Débris"}, "color": "#ef6c00", "severity": 2},
            {"code": "blocked", "name": {"en": "Blocked", "fr": "Bloquée"}, "color": "#c62828", "severity": 3},
            {"code": "power_line_down", "name": {"en": "Power line down", "fr": "Ligne électrique au sol"}, "color": "#6a1b9a",
             "severity": 3},
            {"code": "flooded", "name": {"en": "Flooded", "fr": "Inondée"}, "color": "#0277bd", "severity": 2},
            {"code": "damaged", "name": {"en": "Damaged", "fr": "Endommagée"}, "color": "#8d6e63", "severity": 1},
        ],
    }
]


def text(value: Any, locale: str | None = None) -> str:
    """A config text in the user's language: plain text, or a {locale: text} table (default locale as fallback)."""
    if isinstance(value, dict):
        locale = locale or current_locale()
        return str(value.get(locale) or value.get(locale.split("_")[0]) or value.get(default_locale()) or next(iter(value.values()), ""))
    return "" if value is None else str(value)


@dataclass(frozen=True)
class SweepStatus:
    code: str
    name: Any
    color: str = "#9e9e9e"
    cleared: bool = False
    severity: int = 0
    service: str | None = None
    department: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)  # given to the case made from the segment

    @property
    def label(self) -> str:
        return text(self.name)

    @property
    def flagged(self) -> bool:
        """Something is wrong on the street (it shows on the hot-spot map and can become a case or work order)."""
        return self.severity > 0


@dataclass(frozen=True)
class SweepType:
    code: str
    name: Any
    statuses: tuple[SweepStatus, ...]

    @property
    def label(self) -> str:
        return text(self.name)

    @property
    def initial(self) -> SweepStatus:
        """Where every segment starts ("not checked")."""
        return self.statuses[0]

    def status(self, code: str) -> SweepStatus | None:
        return next((s for s in self.statuses if s.code == code), None)

    @property
    def cleared_codes(self) -> tuple[str, ...]:
        return tuple(s.code for s in self.statuses if s.cleared)

    @property
    def flagged_codes(self) -> tuple[str, ...]:
        return tuple(s.code for s in self.statuses if s.flagged)


@dataclass(frozen=True)
class Layer:
    code: str
    name: Any
    source: str
    geometry: str
    style: dict[str, Any] = field(default_factory=dict)
    popup: tuple[str, ...] = ()
    roles: tuple[str, ...] = ()
    visible: bool = True
    file: str | None = None  # source "file": a GeoJSON file (relative to the config file's folder)
    table: str | None = None  # source "table": a table or view of the city's database
    lat_column: str | None = None
    long_column: str | None = None
    geometry_column: str | None = None  # a column of GeoJSON geometry text (lines, polygons)
    key_column: str | None = None

    @property
    def label(self) -> str:
        return text(self.name)


def settings() -> dict[str, Any]:
    """The merged ``[fieldservice]`` section (defaults from plugin.py, then the city's keys)."""
    return current_app.extensions["civic"].plugin_config["fieldservice"]


def config_dir() -> Path:
    return current_app.extensions["civic"].config.path.parent


def _layer(raw: dict[str, Any]) -> Layer:
    source = raw.get("source", "file")
    return Layer(
        code=raw["code"], name=raw.get("name", raw["code"]), source=source,
        geometry=raw.get("geometry") or BUILT_IN_GEOMETRY.get(source, "point"),
        style=dict(raw.get("style") or {}), popup=tuple(raw.get("popup") or ()), roles=tuple(raw.get("roles") or ()),
        visible=bool(raw.get("visible", True)), file=raw.get("file"), table=raw.get("table"),
        lat_column=raw.get("lat_column"), long_column=raw.get("long_column"),
        geometry_column=raw.get("geometry_column"), key_column=raw.get("key_column"),
    )


def _sweep_type(raw: dict[str, Any]) -> SweepType:
    statuses = tuple(
        SweepStatus(code=s["code"], name=s.get("name", s["code"]), color=s.get("color", "#9e9e9e"), cleared=bool(s.get("cleared")),
                    severity=int(s.get("severity", 0)), service=s.get("service"), department=s.get("department"),
                    attributes=dict(s.get("attributes") or {}))
        for s in raw.get("statuses") or ()
    )
    return SweepType(code=raw["code"], name=raw.get("name", raw["code"]), statuses=statuses)


def layers() -> list[Layer]:
    """Every declared layer, in config order (the default four when the city declares none)."""
    return [_layer(raw) for raw in (settings().get("layers") or DEFAULT_LAYERS)]


def layer(code: str) -> Layer | None:
    return next((lay for lay in layers() if lay.code == code), None)


def sweep_types() -> list[SweepType]:
    return [_sweep_type(raw) for raw in (settings().get("sweep_types") or DEFAULT_SWEEP_TYPES)]


def sweep_type(code: str) -> SweepType | None:
    return next((t for t in sweep_types() if t.code == code), None)


# ---------------------------------------------------------------- checks at start-up


def _texts(value: Any, key: str, rules, found: list[ConfigProblem]) -> None:
    if isinstance(value, str) and value.strip():
        return
    if isinstance(value, dict):
        unknown = [loc for loc in value if loc not in rules.locales]
        if unknown:
            found.append(ConfigProblem(key, f"unknown locale {', '.join(map(repr, unknown))} (city.locales: {', '.join(rules.locales)})"))
        if not isinstance(value.get(rules.default), str) or not value.get(rules.default).strip():
            found.append(ConfigProblem(key, f"the text in the default locale '{rules.default}' is required"))
        return
    found.append(ConfigProblem(key, 'must be a text ("Fire hydrants") or a table of locale = text'))


def _style(style: Any, key: str, found: list[ConfigProblem]) -> None:
    if not isinstance(style, dict):
        found.append(ConfigProblem(key, "must be a table such as { color = \"#c62828\", weight = 3 }"))
        return
    for name, value in style.items():
        if name not in STYLE_KEYS:
            found.append(ConfigProblem(f"{key}.{name}", f"unknown style key (known: {', '.join(sorted(STYLE_KEYS))})"))
        elif name in ("color", "fill_color") and not (isinstance(value, str) and COLOR.match(value)):
            found.append(ConfigProblem(f"{key}.{name}", f"must be a colour like \"#c62828\", not {value!r}"))
        elif name not in ("color", "fill_color") and (isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0):
            found.append(ConfigProblem(f"{key}.{name}", f"must be a number of at least 0, not {value!r}"))


def _layer_problems(raw: Any, key: str, config, rules, found: list[ConfigProblem]) -> None:
    if not isinstance(raw, dict):
        found.append(ConfigProblem(key, "must be a table ([[fieldservice.layers]])"))
        return
    for name in raw:
        if name not in LAYER_KEYS:
            found.append(ConfigProblem(f"{key}.{name}", f"unknown key (known: {', '.join(sorted(LAYER_KEYS))})"))
    code = raw.get("code")
    if not isinstance(code, str) or not CODE.match(code):
        found.append(ConfigProblem(f"{key}.code", "is required: lower-case letters, digits and _ (e.g. hydrants)"))
    _texts(raw.get("name", code or ""), f"{key}.name", rules, found)
    source = raw.get("source", "file")
    if source not in SOURCES:
        found.append(ConfigProblem(f"{key}.source", f"must be one of: {', '.join(SOURCES)}, not {source!r}"))
        return
    geometry = raw.get("geometry")
    if geometry is not None and geometry not in GEOMETRIES:
        found.append(ConfigProblem(f"{key}.geometry", f"must be one of: {', '.join(GEOMETRIES)}, not {geometry!r}"))
    if source == "file":
        path = raw.get("file")
        if not isinstance(path, str) or not path:
            found.append(ConfigProblem(f"{key}.file", 'is required for source = "file" (a GeoJSON file, relative to the config file)'))
        elif not (config.path.parent / path).is_file():
            found.append(ConfigProblem(f"{key}.file", f"no such file: {path} (relative to {config.path.parent})"))
    if source == "table":
        for name in ("table", "lat_column", "long_column", "geometry_column", "key_column"):
            value = raw.get(name)
            if value is not None and not (isinstance(value, str) and IDENTIFIER.match(value)):
                found.append(ConfigProblem(f"{key}.{name}", f"must be a plain table or column name, not {value!r}"))
        if not raw.get("table"):
            found.append(ConfigProblem(f"{key}.table", 'is required for source = "table"'))
        if not raw.get("geometry_column") and not (raw.get("lat_column") and raw.get("long_column")):
            found.append(ConfigProblem(key, 'a table layer needs lat_column and long_column, or geometry_column (GeoJSON text)'))
    _style(raw.get("style", {}), f"{key}.style", found)
    popup = raw.get("popup", [])
    if not isinstance(popup, list) or not all(isinstance(p, str) and p for p in popup):
        found.append(ConfigProblem(f"{key}.popup", 'must be a list of property names, e.g. ["HYDRANT_ID", "FLOW_GPM"]'))
    roles = raw.get("roles", [])
    if not isinstance(roles, list) or not all(isinstance(r, str) and r for r in roles):
        found.append(ConfigProblem(f"{key}.roles", 'must be a list of role names, e.g. ["Field crew", "Dispatcher"]'))
    if "visible" in raw and not isinstance(raw["visible"], bool):
        found.append(ConfigProblem(f"{key}.visible", "must be true or false"))


def _type_problems(raw: Any, key: str, config, rules, found: list[ConfigProblem]) -> None:
    if not isinstance(raw, dict):
        found.append(ConfigProblem(key, "must be a table ([[fieldservice.sweep_types]])"))
        return
    for name in raw:
        if name not in TYPE_KEYS:
            found.append(ConfigProblem(f"{key}.{name}", f"unknown key (known: {', '.join(sorted(TYPE_KEYS))})"))
    code = raw.get("code")
    if not isinstance(code, str) or not CODE.match(code):
        found.append(ConfigProblem(f"{key}.code", "is required: lower-case letters, digits and _ (e.g. debris)"))
    _texts(raw.get("name", code or ""), f"{key}.name", rules, found)
    statuses = raw.get("statuses")
    if not isinstance(statuses, list) or len(statuses) < 2:
        found.append(ConfigProblem(f"{key}.statuses", "needs at least two statuses: where segments start (first) and one more"))
        return
    services = {s["code"]: s for s in config.services}
    departments = {d["code"] for d in config.departments}
    seen: set[str] = set()
    for j, status in enumerate(statuses):
        skey = f"{key}.statuses[{j}]"
        if not isinstance(status, dict):
            found.append(ConfigProblem(skey, "must be a table ([[fieldservice.sweep_types.statuses]])"))
            continue
        for name in status:
            if name not in STATUS_KEYS:
                found.append(ConfigProblem(f"{skey}.{name}", f"unknown key (known: {', '.join(sorted(STATUS_KEYS))})"))
        scode = status.get("code")
        if not isinstance(scode, str) or not CODE.match(scode) or len(scode) > 32:
            found.append(ConfigProblem(f"{skey}.code", "is required: at most 32 lower-case letters, digits and _ (e.g. power_line_down)"))
        elif scode in seen:
            found.append(ConfigProblem(f"{skey}.code", f"'{scode}' is listed twice"))
        seen.add(scode if isinstance(scode, str) else "")
        _texts(status.get("name", scode or ""), f"{skey}.name", rules, found)
        color = status.get("color", "#9e9e9e")
        if not (isinstance(color, str) and COLOR.match(color)):
            found.append(ConfigProblem(f"{skey}.color", f"must be a colour like \"#2e7d32\", not {color!r}"))
        if "cleared" in status and not isinstance(status["cleared"], bool):
            found.append(ConfigProblem(f"{skey}.cleared", "must be true or false"))
        severity = status.get("severity", 0)
        if isinstance(severity, bool) or not isinstance(severity, int) or not 0 <= severity <= 3:
            found.append(ConfigProblem(f"{skey}.severity", f"must be a whole number from 0 to 3, not {severity!r}"))
        if j == 0 and (status.get("cleared") or severity):
            found.append(ConfigProblem(f"{skey}", "the first status is where every segment starts: it cannot be cleared or have a severity"))
        service = status.get("service")
        if service is not None and service not in services:
            found.append(ConfigProblem(f"{skey}.service", f"unknown service '{service}' (see [[services]])"))
        if "attributes" in status and not isinstance(status["attributes"], dict):
            found.append(ConfigProblem(f"{skey}.attributes", 'must be a table of attribute code = value, e.g. { DEBRIS_TYPE = "vegetative" }'))
        department = status.get("department")
        if department is not None and department not in departments:
            found.append(ConfigProblem(f"{skey}.department", f"unknown department '{department}' (see [[departments]])"))


def problems(config) -> list[ConfigProblem]:
    section = config.section("fieldservice")
    rules = config.locale_rules
    found = [
        ConfigProblem(f"fieldservice.{key}", f"unknown key (known: {', '.join(sorted(KNOWN))})") for key in section if key not in KNOWN
    ]
    for key, low, high in (("raw_zoom", 1, 22), ("hotspot_cell_m", 10, 100_000), ("refresh_seconds", 5, 3600)):
        value = section.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high):
            found.append(ConfigProblem(f"fieldservice.{key}", f"must be a whole number from {low} to {high}, not {value!r}"))
    for key in ("tile_url", "tile_attribution"):
        value = section.get(key)
        if value is not None and not isinstance(value, str):
            found.append(ConfigProblem(f"fieldservice.{key}", "must be text"))
    for name, check in (("layers", _layer_problems), ("sweep_types", _type_problems)):
        items = section.get(name)
        if items is None:
            continue
        if not isinstance(items, list):
            found.append(ConfigProblem(f"fieldservice.{name}", f"must be a list of tables ([[fieldservice.{name}]])"))
            continue
        codes = [item.get("code") for item in items if isinstance(item, dict)]
        for i, item in enumerate(items):
            check(item, f"fieldservice.{name}[{i}]", config, rules, found)
            if isinstance(item, dict) and codes.count(item.get("code")) > 1 and codes.index(item.get("code")) < i:
                found.append(ConfigProblem(f"fieldservice.{name}[{i}].code", f"'{item.get('code')}' is used twice"))
    return found
