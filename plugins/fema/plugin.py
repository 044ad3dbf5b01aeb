"""The fema plugin's whole contract with the core."""
from __future__ import annotations

from core import hookimpl
from core.records import PluginInfo


@hookimpl
def plugin_info():
    return PluginInfo(
        name="fema",
        version="0.1.0",
        description="FEMA Public Assistance: disaster events, cost capture, versioned exports.",
        requires=(),
    )
