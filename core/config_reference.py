"""The configuration reference (``docs/config-reference.md``), generated from the code so it never drifts.

Core keys come from the marshmallow schemas of ``core.config``: type, default, allowed values (from the
validators), required or not, and the meaning in each field's ``metadata["doc"]``.  Plugin keys come from each
installed plugin's ``config_defaults`` (defaults) and ``config_docs`` (meanings) hooks.  Key paths are dotted;
``[]`` marks an array of tables: ``services[].attributes[].code`` is ``code`` in ``[[services.attributes]]``.

``civic config reference`` prints the Markdown; ``doc_problems`` lists what is undocumented or documented but
not a key (the tests keep both empty for the core and the built-in plugins).
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from importlib import metadata
from types import ModuleType
from typing import Any

from marshmallow import Schema, fields, validate
from marshmallow.utils import missing

from core.config import BusinessHours, CityConfig, CoreConfigSchema, Localized, Words
from core.plugins import ENTRY_POINT_GROUP, installed_plugins

COMMAND = "civic config reference > docs/config-reference.md"
NONE = "—"
UNSET = "(unset)"


@dataclass(frozen=True)
class KeyDoc:
    """One documented key: where it is, what it holds, what applies without it, and what it means."""

    path: str  # full dotted path, "[]" after an array of tables: "services[].attributes[].code"
    type: str
    default: str  # as written in TOML; "" when there is none
    allowed: str
    required: bool
    doc: str

    @property
    def parent(self) -> str:
        return self.path.rpartition(".")[0]

    @property
    def name(self) -> str:
        return self.path.rpartition(".")[2]


# ---------------------------------------------------------------- the core's keys, from the schemas


def toml_value(value: Any) -> str:
    """A default as the admin would write it in the file."""
    if value is None:
        return UNSET
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + " }" if value else "{}"
    return str(value)


def _nested(fld: fields.Field) -> tuple[Schema, bool] | None:
    """(schema, is an array of tables) for a table field, else None."""
    if isinstance(fld, fields.Nested):
        return fld.schema, False
    if isinstance(fld, fields.List) and isinstance(fld.inner, fields.Nested):
        return fld.inner.schema, True
    return None


def field_type(fld: fields.Field) -> str:
    """The kind of value a field takes, in words."""
    if isinstance(fld, Localized):
        inner = field_type(fld.inner)
        return f"{inner}, or a table of locale = " + ("the same" if " or " in inner else inner)
    if isinstance(fld, Words):
        return "phrase or list of phrases"
    if isinstance(fld, BusinessHours):
        return 'table of day = "HH:MM-HH:MM"'
    nested = _nested(fld)
    if nested:
        return "array of tables" if nested[1] else "table"
    if isinstance(fld, fields.List):
        inner = field_type(fld.inner)
        return "list of " + re.sub(r"^(date|number|whole number)\b", r"\1s", inner)
    if isinstance(fld, fields.Dict):
        return "table of locale = text"
    for kind, words in ((fields.Email, "e-mail address"), (fields.Boolean, "true or false"), (fields.Integer, "whole number"),
                        (fields.Float, "number"), (fields.Date, "date (YYYY-MM-DD)"), (fields.String, "text")):
        if isinstance(fld, kind):
            return words
    return type(fld).__name__


def _inner_fields(fld: fields.Field) -> list[fields.Field]:
    if isinstance(fld, Localized):
        return [fld.inner]
    if isinstance(fld, fields.List) and not isinstance(fld.inner, fields.Nested):
        return [fld.inner]
    if isinstance(fld, fields.Dict) and fld.value_field is not None:
        return [fld.value_field]
    return []


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _validator_words(v: Any, fld: fields.Field) -> str:
    unit = "items" if isinstance(fld, fields.List) else "characters"
    if isinstance(v, validate.Length):
        if v.min == 1 and v.max is None:
            return "not empty"
        if v.equal is not None:
            return f"exactly {v.equal} {unit}"
        if v.min is not None and v.max is not None:
            return f"{v.min} to {v.max} {unit}"
        return f"at least {v.min} {unit}" if v.min is not None else f"at most {v.max} {unit}"
    if isinstance(v, validate.Range):
        if v.min is not None and v.max is not None and v.min_inclusive and v.max_inclusive:
            return f"from {_number(v.min)} to {_number(v.max)}"
        low = None if v.min is None else (f"at least {_number(v.min)}" if v.min_inclusive else f"more than {_number(v.min)}")
        high = None if v.max is None else (f"at most {_number(v.max)}" if v.max_inclusive else f"less than {_number(v.max)}")
        return ", ".join(w for w in (low, high) if w)
    if isinstance(v, validate.OneOf):
        return "one of " + ", ".join(f"`{c}`" for c in v.choices)
    if isinstance(v, validate.Regexp):
        if v.error and v.error != validate.Regexp.default_message:
            return v.error.removeprefix("must be ")
        return f"matches `{v.regex.pattern}`"
    return ""


def allowed_values(fld: fields.Field) -> str:
    """The validators' rules in words: lengths, ranges, choices, patterns (of the field and of its items)."""
    words = [_validator_words(v, fld) for v in fld.validators]
    for inner in _inner_fields(fld):
        words += [f"each: {w}" if isinstance(fld, fields.List) else w for w in (_validator_words(v, inner) for v in inner.validators)]
    return "; ".join(w for w in words if w)


def _default(fld: fields.Field) -> str:
    if fld.required or fld.load_default is missing or isinstance(fld, fields.Nested):
        return ""  # a single table's defaults are its keys'; an array of tables defaults to [] like a list
    value = fld.load_default() if callable(fld.load_default) else fld.load_default
    return toml_value(value)


def schema_keys(schema: Schema, prefix: str = "") -> list[KeyDoc]:
    """Every field of a schema and of the schemas it nests, depth first, in declaration order."""
    out: list[KeyDoc] = []
    for name, fld in schema.fields.items():
        path = f"{prefix}.{name}" if prefix else name
        out.append(KeyDoc(path, field_type(fld), _default(fld), allowed_values(fld), bool(fld.required),
                          str(fld.metadata.get("doc") or "").strip()))
        nested = _nested(fld)
        if nested:
            out.extend(schema_keys(nested[0], path + ("[]" if nested[1] else "")))
    return out


def core_keys() -> list[KeyDoc]:
    return schema_keys(CoreConfigSchema())


# ---------------------------------------------------------------- the plugins' keys, from their hooks


def load_installed_plugins() -> tuple[dict[str, ModuleType], list[str]]:
    """Every installed plugin's module by name (imported, enabled or not), and a line per plugin that fails."""
    modules: dict[str, ModuleType] = {}
    failures: list[str] = []
    for name in sorted(installed_plugins()):
        try:
            modules[name] = next(iter(metadata.entry_points(group=ENTRY_POINT_GROUP, name=name))).load()
        except Exception as exc:  # noqa: BLE001 -- a broken third-party plugin is named, not a traceback
            failures.append(f"plugin '{name}' failed to import: {exc}")
    return modules, failures


def _call(module: ModuleType, hook: str, **kwargs: Any) -> Any:
    function = getattr(module, hook, None)
    return function(**kwargs) if callable(function) else None


def _lookup(defaults: dict[str, Any], parts: list[str]) -> Any:
    value: Any = defaults
    for part in parts:
        if not isinstance(value, dict) or part not in value:
            return missing
        value = value[part]
    return value


def _value_type(value: Any) -> str:
    if value is missing:
        return NONE
    for kind, words in ((bool, "true or false"), (int, "whole number"), (float, "number"), (str, "text"), (list, "list"), (dict, "table")):
        if isinstance(value, kind):
            return words
    return type(value).__name__


def plugin_keys(name: str, module: ModuleType) -> list[KeyDoc]:
    """A plugin's keys: every documented one, in the plugin's order, then any default it left undocumented."""
    defaults = _call(module, "config_defaults") or {}
    docs = dict(_call(module, "config_docs") or {})
    paths = list(docs) + [f"{name}.{key}" for key in defaults if f"{name}.{key}" not in docs]
    out = []
    for path in paths:
        parts = path.split(".")[1:]
        value = missing if any(p.endswith("[]") for p in parts) else _lookup(defaults, parts)
        out.append(KeyDoc(path, _value_type(value), "" if value is missing else toml_value(value), "", False,
                          str(docs.get(path) or "").strip()))
    return out


def _probe_section(parts: list[str], value: Any) -> dict[str, Any]:
    """The smallest section that sets one key: ["layers[]", "style", "color"] -> {"layers": [{"style": {"color": v}}]}."""
    for part in reversed(parts):
        value = {part[:-2]: [value]} if part.endswith("[]") else {part: value}
    return value


UNKNOWN_KEY = re.compile(r"^unknown( \w+)? key")


def _not_a_key(name: str, module: ModuleType, path: str, defaults: dict[str, Any], probe_config: CityConfig) -> bool:
    """True when the plugin's own validate_config calls a documented key unknown (or one of the tables it is in)."""
    parts = path.split(".")[1:]
    value = missing if any(p.endswith("[]") for p in parts) else _lookup(defaults, parts)
    if value is not missing:
        return False
    if not callable(getattr(module, "validate_config", None)):
        return True  # nothing but the defaults can vouch for it
    section = _probe_section(parts, "probe")
    config = replace(probe_config, sections={**probe_config.sections, name: section})
    try:
        problems = _call(module, "validate_config", config=config) or []
    except Exception:  # noqa: BLE001 -- a check that breaks on a probe value cannot tell; the plugin's own tests will
        return False
    for problem in problems:
        key = re.sub(r"\[\d+\]", "[]", problem.key)
        if UNKNOWN_KEY.match(problem.message) and (path == key or path.startswith(key + ".") or path.startswith(key + "[]")):
            return True
    return False


def doc_problems(modules: dict[str, ModuleType], probe_config: CityConfig) -> list[str]:
    """Every hole in the reference, one sentence each: a core field or a plugin key without a meaning, or a
    documented plugin key that the plugin does not know.  ``probe_config`` is any valid city config: each
    documented key is set alone in it and the plugin's ``validate_config`` must not call it unknown."""
    problems = [f"core: {k.path}: no meaning (give the field metadata={{\"doc\": \"...\"}} in core/config.py)"
                for k in core_keys() if not k.doc]
    for name, module in modules.items():
        defaults = _call(module, "config_defaults") or {}
        docs = _call(module, "config_docs") or {}
        for key in plugin_keys(name, module):
            if not key.doc:
                problems.append(f"plugin '{name}': {key.path}: no meaning (add it to the plugin's config_docs)")
        for path in docs:
            if path != name and not path.startswith(name + "."):
                problems.append(f"plugin '{name}': {path}: config_docs key outside the plugin's own section [{name}]")
            elif _not_a_key(name, module, path, defaults, probe_config):
                problems.append(f"plugin '{name}': {path}: documented in config_docs, but the plugin does not know this key")
    return problems


# ---------------------------------------------------------------- Markdown


def _text(text: str) -> str:
    """Plain text in Markdown: a <folder> placeholder must not be read as an HTML tag."""
    return text.replace("<", "&lt;").replace(">", "&gt;")


def _cell(text: str) -> str:
    return _text(text).replace("|", "\\|").replace("\n", " ") or NONE


def _heading(group: str) -> str:
    plain = group.replace("[]", "")
    return f"`[[{plain}]]`" if group.endswith("[]") else f"`[{plain}]`"


def _groups(keys: list[KeyDoc]) -> dict[str, list[KeyDoc]]:
    """Keys by the table they are written in, tables in order of first appearance."""
    groups: dict[str, list[KeyDoc]] = {}
    for key in keys:
        groups.setdefault(key.parent, []).append(key)
    return groups


def _table_rows(rows: list[KeyDoc], groups: dict[str, list[KeyDoc]], allowed: bool, overview: bool = False) -> list[str]:
    """The rows of one table; ``allowed``: with the validators' column (the core's; plugins say it in the meaning);
    ``overview``: the list of sections, each with its meaning (elsewhere a sub-table's meaning introduces it)."""
    head = ["Key", "Type", "Default", "Allowed values", "Meaning"] if allowed else ["Key", "Type", "Default", "Meaning"]
    lines = ["| " + " | ".join(head) + " |", "| " + " | ".join("---" for _ in head) + " |"]
    for key in rows:
        sub = key.path + "[]" if key.path + "[]" in groups else key.path if key.path in groups else None
        default = "**required**" if key.required else "unset" if key.default == UNSET else f"`{key.default}`" if key.default else NONE
        meaning = key.doc or "(no description)"
        if sub:
            meaning = f"{key.doc} See {_heading(sub)}." if overview and key.doc else f"See {_heading(sub)} below."
        cells = [f"`{key.name}`", _cell(key.type), _cell(default)] + ([_cell(key.allowed)] if allowed else []) + [_cell(meaning)]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _sections(keys: list[KeyDoc], intro: dict[str, str], top_title: str | None, allowed: bool = True) -> list[str]:
    groups = _groups(keys)
    by_path = {k.path: k for k in keys}
    lines: list[str] = []
    for group, rows in groups.items():
        if not group:
            if top_title is None:
                continue
            lines += ["", f"### {top_title}", ""]
        else:
            lines += ["", f"### {_heading(group)}", ""]
            table = by_path.get(group.removesuffix("[]"))
            text = table.doc if table else intro.get(group, "")
            if text:
                lines += [_text(text), ""]
        lines += _table_rows(rows, groups, allowed, overview=not group)
    return lines


def reference_markdown(modules: dict[str, ModuleType]) -> str:
    """The whole reference: the core's sections, then each plugin's (by name)."""
    lines = [
        "# Configuration reference",
        "",
        f"<!-- Generated by `{COMMAND}`: do not edit by hand. -->",
        "",
        "Every key of a city config file (the TOML file named by `CIVIC_CONFIG`): its type, its default, the values it",
        "allows and what it means. This page is generated from the code (the config schemas of `core/config.py` and",
        "each installed plugin's `config_defaults` and `config_docs` hooks), and a test fails when it falls behind:",
        f"run `{COMMAND}` after changing a key.",
        "",
        "**Default** is what applies when the key is left out; a **required** key has none. A section written",
        "`[[name]]` is an array of tables: write it once per item. Secrets and the database URL never go in this",
        "file: they come from the environment (see the README's Configuration table). `civic config check` checks a",
        "file against these rules; [the admin guide](admin-guide.md) walks through a city's set-up.",
        "",
        "## Core",
        "",
        "Sections every city config has, whatever plugins it enables.",
    ]
    lines += _sections(core_keys(), {}, "Sections of the file")
    for name, module in modules.items():
        info = _call(module, "plugin_info")
        keys = plugin_keys(name, module)
        lines += ["", f"## Plugin `{name}`", ""]
        about = getattr(info, "description", "") or ""
        requires = ", ".join(f"`{r}`" for r in getattr(info, "requires", ()) or ())
        lines.append(f"{about} Turned on by `\"{name}\"` in `[plugins] enabled`" + (f" (requires {requires})." if requires else "."))
        if not keys:
            lines += ["", "This plugin has no config keys."]
            continue
        lines += _sections(keys, {name: "The plugin's own section; every key is optional."}, None, allowed=False)
    return "\n".join(lines).rstrip() + "\n"
