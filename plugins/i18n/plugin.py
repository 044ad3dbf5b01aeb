"""The i18n plugin's whole contract with the core."""
from __future__ import annotations

from core import hookimpl
from core.records import PluginInfo


@hookimpl
def plugin_info():
    return PluginInfo(
        name="i18n",
        version="0.1.0",
        description="English and French everywhere: locale choice, catalogs, formats.",
        requires=(),
    )
