"""The intake plugin's whole contract with the core."""
from __future__ import annotations

from core import hookimpl
from core.records import PluginInfo


@hookimpl
def plugin_info():
    return PluginInfo(
        name="intake",
        version="0.1.0",
        description="Resident portal, Open311 GeoReport v2, e-mail and phone channels.",
        requires=(),
    )
