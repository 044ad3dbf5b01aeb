"""The plugin manager: entry-point discovery, the config allow-list, `requires` order.

Installed plugins are found through the ``civic_connect.plugins`` entry-point
group.  Only the plugins the city enables are imported.  The core's own
defaults (``core.defaults``) are always registered, last in precedence.
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass
from importlib import metadata

import pluggy

from core import hookspecs
from core.config import CityConfig, ConfigError, display_path
from core.records import PluginInfo

ENTRY_POINT_GROUP = "civic_connect.plugins"
PROJECT = "civic_connect"


@dataclass(frozen=True)
class InstalledPlugin:
    name: str
    module: str
    distribution: str
    version: str


def installed_plugins() -> dict[str, InstalledPlugin]:
    """Every plugin installed in this environment, by name, without importing any."""
    found: dict[str, InstalledPlugin] = {}
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        dist = ep.dist
        found.setdefault(
            ep.name,
            InstalledPlugin(ep.name, ep.value, dist.name if dist else "?", dist.version if dist else "?"),
        )
    return found


def _load(plugin: InstalledPlugin):
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP, name=plugin.name):
        return ep.load()
    raise LookupError(plugin.name)


class CivicPluginManager(pluggy.PluginManager):
    """pluggy's manager plus what the core needs to know about each enabled plugin."""

    def __init__(self) -> None:
        super().__init__(PROJECT)
        self.add_hookspecs(hookspecs)
        self.infos: dict[str, PluginInfo] = {}

    @property
    def enabled(self) -> list[str]:
        return list(self.infos)

    def flatten(self, hook_name: str, **kwargs) -> list:
        """Call a registration hook and flatten the lists it returns (core last)."""
        results = getattr(self.hook, hook_name)(**kwargs)
        out: list = []
        for item in reversed(results):  # pluggy returns last-registered first
            if item is None:
                continue
            out.extend(item if isinstance(item, (list, tuple)) else [item])
        return out


def _order_by_requires(names: list[str], infos: dict[str, PluginInfo]) -> list[str]:
    """Plugins after the plugins they require; otherwise in config order."""
    ordered: list[str] = []
    visiting: set[str] = set()

    def visit(name: str) -> None:
        if name in ordered:
            return
        if name in visiting:
            raise ConfigError([f"plugin '{name}' is part of a `requires` cycle"])
        visiting.add(name)
        for req in infos[name].requires:
            visit(req)
        visiting.discard(name)
        ordered.append(name)

    for name in names:
        visit(name)
    return ordered


def build_plugin_manager(config: CityConfig) -> CivicPluginManager:
    """Import and register exactly the enabled plugins; stop with one line per problem."""
    from core import defaults

    shown = display_path(config.path)
    installed = installed_plugins()
    stray = sorted(name for name in config.sections if name not in installed)
    if stray:
        have = ", ".join(sorted(installed)) or "none"
        raise ConfigError([f"{shown}: {name}: unknown section (no installed plugin is called '{name}'; installed: {have})" for name in stray])
    missing = [n for n in config.enabled_plugins if n not in installed]
    if missing:
        have = ", ".join(sorted(installed)) or "none"
        raise ConfigError(
            [f"{shown}: plugins.enabled: plugin '{n}' is not installed (installed: {have})" for n in missing]
        )
    modules = {}
    infos: dict[str, PluginInfo] = {}
    for name in config.enabled_plugins:
        try:
            module = _load(installed[name])
        except Exception as exc:  # a broken third-party plugin must not give a traceback
            raise ConfigError([f"{shown}: plugins.enabled: plugin '{name}' failed to import: {exc}"])
        info = module.plugin_info() if hasattr(module, "plugin_info") else None
        if not isinstance(info, PluginInfo):
            raise ConfigError([f"{shown}: plugins.enabled: plugin '{name}' has no plugin_info() returning PluginInfo"])
        modules[name], infos[name] = module, info
    problems = []
    for name, info in infos.items():
        for req in info.requires:
            if req not in infos:
                problems.append(f"{shown}: plugins.enabled: plugin '{name}' requires '{req}', which is not enabled")
    if problems:
        raise ConfigError(problems)
    pm = CivicPluginManager()
    pm.register(defaults, name="core")
    for name in _order_by_requires(config.enabled_plugins, infos):
        try:
            pm.register(modules[name], name=name)
        except pluggy.PluginValidationError as exc:  # a hookimpl asks for an argument its hook does not pass
            raise ConfigError([f"{shown}: plugins.enabled: plugin '{name}': {'; '.join(str(exc).splitlines())}"])
        pm.infos[name] = infos[name]
    unknown = _unknown_hooks(pm)
    if unknown:
        raise ConfigError([f"{shown}: plugins.enabled: {line}" for line in unknown])
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        raise ConfigError([f"{shown}: plugins.enabled: {exc}"])
    return pm


def _unknown_hooks(pm: CivicPluginManager) -> list[str]:
    """A hookimpl whose name is no hook (a typo) would never be called: name it and the hook meant."""
    callers = {name: caller for name, caller in vars(pm.hook).items() if not name.startswith("_")}
    known = [name for name, caller in callers.items() if caller.has_spec()]
    lines = []
    for name, caller in callers.items():
        if caller.has_spec():
            continue
        for impl in caller.get_hookimpls():
            if not impl.optionalhook:
                close = difflib.get_close_matches(name, known, n=1)
                hint = f" (did you mean '{close[0]}'?)" if close else ""
                lines.append(f"plugin '{impl.plugin_name}' implements '{name}', which is not a hook{hint}")
    return lines
