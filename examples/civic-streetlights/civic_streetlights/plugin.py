"""The streetlights plugin's whole contract with Civic Connect: one hookimpl per hook it uses."""
from __future__ import annotations

from pathlib import Path

from flask import current_app
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from markupsafe import Markup, escape

from core import hookimpl
from core.records import ConfigProblem, MigrationSpec, Panel, PluginInfo, RoleSpec, ViewSpec

HERE = Path(__file__).resolve().parent
DEFAULTS = {
    "service": "STREETLIGHT",  # the cases that get the nearest-pole panel
    "radius_m": 80,  # how far from the reported spot a pole is looked for
}
# Who may open the pole register: dispatchers and department staff read it, admins (always) change it.
READ_POLES = ("StreetlightPoleView|Streetlight poles|Streetlights", "can_list|can_show|menu_access")


def settings() -> dict:
    return current_app.extensions["civic"].plugin_config["streetlights"]


@hookimpl
def plugin_info():
    return PluginInfo(name="streetlights", version="1.0.0", description="Streetlight poles and the nearest pole on streetlight cases.")


@hookimpl
def config_defaults():
    return dict(DEFAULTS)


@hookimpl
def config_docs():
    """What each key means, for the admin guide's generated config reference (``civic config reference``)."""
    return {
        "streetlights.service": "The service code of the cases that get the nearest-pole panel (a code of [[services]]).",
        "streetlights.radius_m": "How far from the reported spot, in metres (1 to 1000), a pole is looked for.",
    }


@hookimpl
def validate_config(config):
    section = config.section("streetlights")
    problems = [ConfigProblem(f"streetlights.{key}", "unknown key") for key in section if key not in DEFAULTS]
    service = section.get("service", DEFAULTS["service"])
    if service not in {s["code"] for s in config.services}:
        problems.append(ConfigProblem("streetlights.service", f"unknown service {service!r} (not in [[services]])"))
    radius = section.get("radius_m", DEFAULTS["radius_m"])
    if isinstance(radius, bool) or not isinstance(radius, (int, float)) or not 1 <= radius <= 1000:
        problems.append(ConfigProblem("streetlights.radius_m", "must be a number of metres from 1 to 1000"))
    return problems


@hookimpl
def register_migrations():
    return [MigrationSpec("streetlights", str(HERE / "migrations"), "alembic_version_streetlights", "streetlights_")]


@hookimpl
def translation_directories():
    return [str(HERE / "translations")]


@hookimpl
def register_roles():
    return [RoleSpec("Dispatcher", (READ_POLES,)), RoleSpec("Department staff", (READ_POLES,))]


@hookimpl
def register_views():
    from civic_streetlights.views import StreetlightPoleView

    return [ViewSpec("Streetlight poles", StreetlightPoleView, _l("Streetlight poles"), "Streetlights", _l("Streetlights"), "fa-lightbulb-o")]


@hookimpl
def register_commands():
    from civic_streetlights.cli import streetlights

    return [streetlights]


@hookimpl
def case_panels(case):
    """On a streetlight case with a location: the nearest poles, so the crew knows which one to fix."""
    if case.service_type is None or case.service_type.code != settings()["service"] or case.lat is None or case.long is None:
        return []
    from core.extensions import db

    from civic_streetlights.poles import nearest

    found = nearest(db.session, case.lat, case.long, float(settings()["radius_m"]))
    if not found:
        body = escape(gettext("No pole within %(metres)d m of the reported spot.", metres=int(settings()["radius_m"])))
    else:
        items = Markup("").join(
            Markup('<li class="streetlight-pole"><strong>{}</strong> {} &middot; {} &middot; {}</li>').format(
                pole.pole, pole.street, pole.lamp, gettext("%(metres)d m", metres=round(metres)))
            for pole, metres in found
        )
        body = Markup("<ul>{}</ul>").format(items)
    return [Panel(_l("Nearest streetlight poles"), str(body), order=60)]
