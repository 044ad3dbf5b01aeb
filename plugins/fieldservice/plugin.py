"""The fieldservice plugin's whole contract with the core."""
from __future__ import annotations

from core import hookimpl
from core.records import PluginInfo


@hookimpl
def plugin_info():
    return PluginInfo(
        name="fieldservice",
        version="0.1.0",
        description="Street-level map, work orders and storm sweeps for field crews.",
        requires=(),
    )
