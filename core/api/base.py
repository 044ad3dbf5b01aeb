"""What every core REST API shares: JWT only, field-named 400s, ids and filters checked before SQL."""
from __future__ import annotations

from datetime import datetime
from typing import Any

import prison
from dateutil import parser as date_parser
from flask import jsonify, request
from flask_appbuilder.api import ModelRestApi
from flask_appbuilder.const import API_FILTERS_RIS_KEY, API_PAGE_INDEX_RIS_KEY, API_URI_RIS_KEY
from flask_appbuilder.exceptions import ApplyFilterException
from flask_babel import gettext
from sqlalchemy import BigInteger
from sqlalchemy import inspect as sa_inspect

from core.validation import translate_errors
from werkzeug.wrappers import Response

# Ids above these do not fit the column (BIGINT, or INTEGER on PostgreSQL): answer 404 or 400 rather than let the
# driver overflow into a 500.
MAX_ID = 2**63 - 1
MAX_SMALL_ID = 2**31 - 1

# A 400's ``message`` when it names fields: ``{"attributes[0].datatype": ["..."]}``.
FIELD_MESSAGES = {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}}}

# Filter operators that take a list of values instead of one.
_LIST_OPERATORS = {"in", "not_in"}


def flatten_errors(messages: Any, prefix: str = "") -> dict[str, list[str]]:
    """marshmallow's nested errors as ``{"attributes[0].datatype": ["..."]}``: one flat key per field."""
    if not isinstance(messages, dict):
        items = messages if isinstance(messages, list) else [messages]
        return {prefix or "_schema": [str(m) for m in items]}
    out: dict[str, list[str]] = {}
    for key, value in messages.items():
        if key == "_schema":
            path = prefix or "_schema"
        elif isinstance(key, int):
            path = f"{prefix}[{key}]"
        else:
            path = f"{prefix}.{key}" if prefix else str(key)
        for field, msgs in flatten_errors(value, path).items():
            out.setdefault(field, []).extend(msgs)
    return out


def id_limit(column) -> int:
    """The largest value ``column`` holds on every engine: BIGINT ids (cases, events...) or INTEGER ones."""
    return MAX_ID if isinstance(column.type, BigInteger) else MAX_SMALL_ID


def nul_path(value: Any, path: str = "") -> str | None:
    """Where a NUL character hides in a JSON value (PostgreSQL cannot store one), or None."""
    if isinstance(value, str):
        return path if "\x00" in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            found = where if "\x00" in str(key) else nul_path(item, where)
            if found is not None:
                return found
    if isinstance(value, list):
        for i, item in enumerate(value):
            found = nul_path(item, f"{path}[{i}]")
            if found is not None:
                return found
    return None


def require_sign_in_provider() -> Response | None:
    """``POST /api/v1/security/login`` without ``provider``: FAB's schema leaves it optional, then its code reads it
    (a KeyError, a 500).  Answer the 400 naming the field instead (a ``before_request`` of FAB's SecurityApi)."""
    if request.method != "POST" or not request.path.endswith("/login"):
        return None
    body = request.get_json(silent=True) if request.is_json else None
    if isinstance(body, dict) and "provider" not in body:
        return jsonify(message={"provider": [gettext("is required: send \"provider\": \"db\"")]}), 400
    return None


class CivicModelApi(ModelRestApi):
    """A ModelRestApi that answers bad input with 400 and field messages, never with a 500."""

    allow_browser_login = False  # JWT only: FAB APIs are CSRF-exempt, so no cookie sessions here
    max_page_size = 100

    def create_blueprint(self, appbuilder, *args: Any, **kwargs: Any):
        blueprint = super().create_blueprint(appbuilder, *args, **kwargs)
        blueprint.before_request(self.refuse_broken_rison)
        return blueprint

    def refuse_broken_rison(self) -> Response | None:
        """FAB's ``@rison`` catches only the parser's own error; other broken ``q`` values (``q=-2e``: a
        ValueError) would reach ``@safe`` and become a 500."""
        value = request.args.get(API_URI_RIS_KEY)
        if not value:
            return None
        try:
            prison.loads(value)
        except prison.decoder.ParserException:
            return None  # FAB answers these itself (and tries the value as JSON)
        except Exception:  # noqa: BLE001 -- whatever else the decoder raises, the value is not Rison
            return self.response_fields({API_URI_RIS_KEY: [gettext("is not a valid Rison or JSON value")]})
        return None

    # -- responses ---------------------------------------------------------------------------

    def add_apispec_components(self, api_spec) -> None:
        """FAB describes every 400's ``message`` as a string; ours (like FAB's own validation errors) is often
        ``{field: [messages]}``, so the served description says both (clients and Schemathesis rely on it)."""
        super().add_apispec_components(api_spec)
        bad_request = api_spec.components.responses.get("400")
        if bad_request:
            message = bad_request["content"]["application/json"]["schema"]["properties"]
            message["message"] = {"oneOf": [{"type": "string"}, FIELD_MESSAGES]}

    def response_fields(self, errors: dict[str, Any], code: int = 400) -> Response:
        """``{"message": {field: [messages]}}``."""
        return self.response(code, message=flatten_errors(translate_errors(errors)))

    def json_object(self) -> tuple[dict[str, Any] | None, Response | None]:
        """The request body as a dict, or the 400 that says why it is not one."""
        body = request.get_json(silent=True) if request.is_json else None
        if not isinstance(body, dict):
            return None, self.response_fields({"_schema": [gettext("The request body must be a JSON object (Content-Type: application/json).")]})
        where = nul_path(body)
        if where is not None:
            return None, self.response_fields({where or "_schema": [gettext("must not contain NUL characters")]})
        return body, None

    def id_in_range(self, pk: int) -> bool:
        return 0 < pk <= id_limit(sa_inspect(self.datamodel.obj).primary_key[0])

    # -- reading -----------------------------------------------------------------------------

    def get_headless(self, pk, **kwargs: Any) -> Response:
        if not self.id_in_range(pk):
            return self.response_404()
        return super().get_headless(pk, **kwargs)

    def get_list_headless(self, **kwargs: Any) -> Response:
        args = kwargs.get("rison", {})
        errors = self.filter_errors(args.get(API_FILTERS_RIS_KEY, []))
        if not 0 <= (args.get(API_PAGE_INDEX_RIS_KEY) or 0) <= MAX_ID // self.max_page_size:
            errors["page"] = [gettext("must be a page number, 0 or more")]
        if errors:
            return self.response_fields(errors)
        try:
            return super().get_list_headless(**kwargs)
        except ApplyFilterException:
            self.datamodel.session.rollback()
            return self.response_fields({"filters": [gettext("A filter value does not match its column.")]})

    def filter_errors(self, filters: Any) -> dict[str, list[str]]:
        """Check each filter's value against its column's type, so SQL never sees a mismatch."""
        errors: dict[str, list[str]] = {}
        if not isinstance(filters, list):
            return {"filters": [gettext("must be a list of {col, opr, value}")]}
        for i, flt in enumerate(filters):
            if not isinstance(flt, dict) or not {"col", "opr", "value"} <= set(flt):
                errors[f"filters[{i}]"] = [gettext("needs col, opr and value")]
                continue
            col, opr, value = flt["col"], flt["opr"], flt["value"]
            if col not in self.search_columns:
                errors[f"filters[{i}].col"] = [gettext("cannot filter on '%(col)s'; allowed: %(cols)s", col=col, cols=", ".join(self.search_columns))]
                continue
            if opr in _LIST_OPERATORS and not isinstance(value, list):
                errors[f"filters[{i}].value"] = [gettext("must be a list for operator '%(opr)s'", opr=opr)]
                continue
            values = value if opr in _LIST_OPERATORS else [value]
            problem = next((p for p in (self._value_problem(col, v) for v in values) if p), None)
            if problem:
                errors[f"filters[{i}].value"] = [problem]
        return errors

    def _value_problem(self, col: str, value: Any) -> str | None:
        dm = self.datamodel
        if dm.is_relation(col) or dm.is_integer(col):
            mapper = sa_inspect(dm.obj)
            column = mapper.relationships[col].mapper.primary_key[0] if dm.is_relation(col) else mapper.columns[col]
            ok = isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= id_limit(column)
            return None if ok else gettext("must be an id (a whole number)")
        if dm.is_boolean(col):
            return None if isinstance(value, bool) else gettext("must be true or false")
        if dm.is_datetime(col) or dm.is_date(col):
            if isinstance(value, str):
                try:
                    if isinstance(date_parser.isoparse(value), datetime):
                        return None
                except (ValueError, OverflowError):
                    pass
            return gettext("must be a date or date-time such as 2026-01-31 or 2026-01-31T08:00:00")
        if dm.is_string(col) or dm.is_text(col):
            if not isinstance(value, str):
                return gettext("must be text")
            return gettext("must not contain NUL characters") if "\x00" in value else None
        return None

