"""The knowledge plugin's whole contract with the core."""
from __future__ import annotations

from core import hookimpl
from core.records import PluginInfo


@hookimpl
def plugin_info():
    return PluginInfo(
        name="knowledge",
        version="0.1.0",
        description="Knowledge base: articles and FAQ for agents and residents.",
        requires=(),
    )
