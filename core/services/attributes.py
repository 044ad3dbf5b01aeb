"""Build a marshmallow schema from a service's Open311 attribute definitions."""
from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from flask_babel import get_locale, gettext
from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate

from core.validation import translate_errors


def _field(defn: dict[str, Any]) -> fields.Field:
    required = bool(defn.get("required"))
    keys = [v["key"] for v in defn.get("values", [])]
    kwargs: dict[str, Any] = {"required": required, "allow_none": not required}
    datatype = defn["datatype"]
    if datatype == "number":
        return fields.Float(**kwargs)
    if datatype == "datetime":
        return fields.DateTime(**kwargs)
    if datatype == "singlevaluelist":
        return fields.String(validate=validate.OneOf(keys, error=gettext("must be one of: {choices}")), **kwargs)
    if datatype == "multivaluelist":
        return fields.List(
            fields.String(validate=validate.OneOf(keys, error=gettext("must be one of: {choices}"))),
            validate=validate.Length(min=1) if required else None,
            **kwargs,
        )
    limit = 4000 if datatype == "text" else 1000
    return fields.String(validate=validate.Length(max=limit), **kwargs)


def attribute_schema(definitions: list[dict[str, Any]]) -> Schema:
    """A schema that validates and normalises ``Case.attributes`` for one service.

    Built once per definitions and language (its messages are translated when it is built) and kept: building a
    marshmallow schema costs more than the rest of an Open311 POST's checks."""
    return _schema(json.dumps(definitions, sort_keys=True, default=str), str(get_locale() or ""))


@lru_cache(maxsize=512)
def _schema(definitions_json: str, _locale: str) -> Schema:
    variable = [d for d in json.loads(definitions_json) if d.get("variable", True)]
    schema_cls = Schema.from_dict({d["code"]: _field(d) for d in variable}, name="CaseAttributes")
    return schema_cls(unknown=EXCLUDE)


def _clean(values: dict[str, Any], definitions: list[dict[str, Any]]) -> dict[str, Any]:
    """Empty values count as missing; a single value for a multivaluelist becomes a list."""
    kinds = {d["code"]: d["datatype"] for d in definitions}
    out: dict[str, Any] = {}
    for code, value in (values or {}).items():
        if value is None or value == "" or value == []:
            continue
        if kinds.get(code) == "multivaluelist" and not isinstance(value, list):
            value = [value]
        out[code] = value
    return out


def _flat(messages: Any, given: Any = None) -> list[str]:
    """A field's messages as a flat list of sentences.  A multivaluelist reports {position: [messages]}:
    each becomes "value 'moon': must be one of: ..." (translated: marshmallow's own text is translated by
    the caller, core.validation.translate_errors, so only the value's prefix is ours)."""
    if isinstance(messages, dict):
        out = []
        for position in sorted(messages, key=str):
            value = given[position] if isinstance(given, list) and isinstance(position, int) and position < len(given) else None
            for message in _flat(messages[position]):
                if value is None:
                    out.append(message)
                else:
                    out.append(gettext("value '%(value)s': %(message)s", value=str(value)[:100], message=translate_errors([message])[0]))
        return out
    if isinstance(messages, (list, tuple)):
        return [m for item in messages for m in _flat(item)]
    return [messages]


def validate_attributes(definitions: list[dict[str, Any]], values: dict[str, Any] | None) -> dict[str, Any]:
    """Return JSON-ready attributes, or raise ValidationError keyed by attribute code."""
    if values is not None and not isinstance(values, dict):
        raise ValidationError({"_schema": [gettext("attributes must be an object of code: value")]})
    known = {d["code"] for d in definitions}
    unknown = sorted(set(values or {}) - known)
    errors: dict[str, list[str]] = {code: [gettext("unknown attribute for this service")] for code in unknown}
    try:
        loaded = attribute_schema(definitions).load(_clean(values or {}, definitions))
    except ValidationError as exc:
        cleaned = _clean(values or {}, definitions)
        errors.update({code: _flat(msgs, cleaned.get(code)) for code, msgs in exc.messages.items()})
        loaded = {}
    if errors:
        raise ValidationError(errors)
    return {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in loaded.items() if v is not None}
