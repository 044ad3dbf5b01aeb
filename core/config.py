"""Load and validate a city's TOML config file.

Every problem becomes one line: ``FILE: KEY.PATH: what is wrong``.  No
traceback ever reaches the admin: ``ConfigError`` carries the lines.

Catalog texts residents see (department names; service name, description,
group, keywords; attribute descriptions and value names) are plain text in the
default locale or a table of locale -> text, ``name = { en = "Pothole", fr =
"Nid-de-poule" }``.  Once loaded, each holds its default text and the others
sit beside it: ``translations`` on departments and services, ``*_i18n`` tables
in attribute definitions (the form the database stores).
"""
from __future__ import annotations

import os
import re
import sysconfig
import tomllib
import unicodedata
import zoneinfo
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from core.records import ConfigProblem

# config/ beside the packages (a checkout, an editable install), else the copy that a non-editable
# install puts in <prefix>/share/civic-connect/config (setup.cfg: data_files).
_SOURCE_CONFIG_DIR = Path(__file__).resolve().parent.parent / "config"
_INSTALLED_CONFIG_DIR = Path(sysconfig.get_path("data")) / "share" / "civic-connect" / "config"
CONFIG_DIR = _SOURCE_CONFIG_DIR if _SOURCE_CONFIG_DIR.is_dir() else _INSTALLED_CONFIG_DIR
DEFAULT_CONFIG = "palm-coast.toml"

DATATYPES = ("string", "number", "datetime", "text", "singlevaluelist", "multivaluelist")
SERVICE_TYPES = ("realtime", "batch", "blackbox")
CODE = validate.Regexp(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$", error="must be 1-64 letters, digits, '-', '_' or '.'")
LOCALE_PATTERN = r"^[a-z]{2}(_[A-Z]{2})?$"

class ConfigError(Exception):
    """The city config cannot be used; ``lines`` are ready to print, one problem each."""

    def __init__(self, lines: list[str]):
        super().__init__("\n".join(lines))
        self.lines = lines

class _Strict(Schema):
    class Meta:
        ordered = True

class Localized(fields.Field):
    """Text in the city's default locale, or a table of locale -> text: ``{ en = "Pothole", fr = "Nid-de-poule" }``.

    Loads to the plain value or to a ``{locale: value}`` dict; ``LocaleRules.split`` then checks the
    locales against ``city.locales`` (which this field cannot see) and separates the default text.
    """

    def __init__(self, inner: fields.Field, **kwargs: Any):
        super().__init__(**kwargs)
        self.inner = inner

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, dict):
            return self.inner.deserialize(value)
        out, errors = {}, {}
        for locale, text in value.items():
            if not isinstance(locale, str) or not re.fullmatch(LOCALE_PATTERN, locale):
                errors[str(locale)] = ["not a locale code such as en, fr or fr_CA"]
                continue
            try:
                out[locale] = self.inner.deserialize(text)
            except ValidationError as exc:
                errors[locale] = exc.messages
        if errors:
            raise ValidationError(errors)
        return out

def _locale_texts(max_length: int | None = None, **kwargs: Any) -> fields.Dict:
    """The stored form of an attribute text's translations, also accepted as input: ``description_i18n = { fr = "..." }``."""
    return fields.Dict(
        keys=fields.String(validate=validate.Regexp(LOCALE_PATTERN, error="not a locale code such as en, fr or fr_CA")),
        values=fields.String(validate=validate.Length(min=1, max=max_length)),
        **kwargs,
    )

class CitySchema(_Strict):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200),
        metadata={"doc": "The city's name as residents and staff see it: page titles, e-mails, exports."})
    jurisdiction_id = fields.String(required=True, validate=validate.Length(min=1, max=100),
        metadata={"doc": "The Open311 jurisdiction id of the city (usually its web domain, such as palmcoast.gov); apps that send another one get a 404."})
    timezone = fields.String(load_default="UTC",
        metadata={"doc": "The city's IANA time zone (such as America/New_York): dates shown, SLA business hours and report send times use it."})
    default_locale = fields.String(load_default="en", validate=validate.Regexp(r"^[a-z]{2}(_[A-Z]{2})?$"),
        metadata={"doc": "The language every text is written in first and the fallback for a missing translation (en, fr, fr_CA...); must be one of locales."})
    locales = fields.List(fields.String(), load_default=lambda: ["en"],
        metadata={"doc": "The languages the city offers residents and staff (such as [\"en\", \"fr\"]); texts may then be given per language."})
    case_prefix = fields.String(load_default="CASE", validate=validate.Regexp(r"^[A-Z]{1,8}$", error="must be 1-8 capital letters"),
        metadata={"doc": "The first part of every case number: CASE gives CASE-2026-000123."})
    center = fields.List(fields.Float(), load_default=None, validate=validate.Length(equal=2),
        metadata={"doc": "Latitude and longitude the maps open on, such as [29.58, -81.21]; set it when maps are used (unset: they open on 0, 0)."})
    # Possible duplicates: a new case of the same service this close to, and this soon after, an open case.
    duplicate_radius_m = fields.Float(load_default=150.0, validate=validate.Range(min=1, max=10_000),
        metadata={"doc": "A new case of the same service within this many metres of an open case is flagged as a possible duplicate."})
    duplicate_window_hours = fields.Integer(load_default=72, validate=validate.Range(min=1, max=24 * 90),
        metadata={"doc": "... and only when that open case was reported less than this many hours earlier."})

    @validates_schema
    def _check(self, data, **kwargs):
        tz = data.get("timezone")
        if tz:
            try:
                zoneinfo.ZoneInfo(tz)
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                raise ValidationError(f"unknown timezone '{tz}'", "timezone")
        if data.get("default_locale") not in data.get("locales", ["en"]):
            raise ValidationError("must be one of city.locales", "default_locale")

class PluginsSchema(_Strict):
    enabled = fields.List(fields.String(), required=True,
        metadata={"doc": "The plugins this city turns on (the allow-list), such as [\"i18n\", \"intake\", \"knowledge\"]; an installed plugin left out is not loaded at all (`civic plugins` lists them)."})

class DepartmentSchema(_Strict):
    code = fields.String(required=True, validate=CODE,
        metadata={"doc": "The department's unique code (such as PW), used by services, routing rules and tasks; never change it once cases use it."})
    name = Localized(fields.String(validate=validate.Length(min=1, max=200)), required=True,
        metadata={"doc": "The department's name as staff and residents see it."})
    email = fields.Email(load_default=None,
        metadata={"doc": "The department's shared mailbox: overdue-case e-mails (`civic intake escalate`) and @mentions of the department go there; unset: none are sent to it."})
    phone = fields.String(load_default=None, validate=validate.Length(max=40),
        metadata={"doc": "The department's phone number, kept in the catalog for staff."})
    active = fields.Boolean(load_default=True,
        metadata={"doc": "false hides the department from new routing and screens without deleting it (cases keep it)."})

class ValueSchema(_Strict):
    key = fields.String(required=True, validate=validate.Length(min=1, max=100),
        metadata={"doc": "The value stored on the case and sent by Open311 apps (such as small)."})
    name = Localized(fields.String(validate=validate.Length(min=1, max=200)), required=True,
        metadata={"doc": "The value's label residents see (such as \"Smaller than a dinner plate\")."})
    name_i18n = _locale_texts(200,
        metadata={"doc": "The label in other languages, as stored (name = { en = ..., fr = ... } is the usual way to write it)."})

class AttributeSchema(_Strict):
    code = fields.String(required=True, validate=CODE,
        metadata={"doc": "The question's code, unique within its service: the key of the answer on the case and in Open311."})
    description = Localized(fields.String(validate=validate.Length(min=1, max=500)), required=True,
        metadata={"doc": "The question residents are asked (such as \"How big is the pothole?\")."})
    description_i18n = _locale_texts(500,
        metadata={"doc": "The question in other languages, as stored (description = { en = ..., fr = ... } is the usual way to write it)."})
    datatype = fields.String(required=True, validate=validate.OneOf(DATATYPES),
        metadata={"doc": "The kind of answer: string (one line), text (several lines), number, datetime, or a choice among values (singlevaluelist: one, multivaluelist: several)."})
    required = fields.Boolean(load_default=False,
        metadata={"doc": "true: a report of this service cannot be sent without an answer."})
    variable = fields.Boolean(load_default=True,
        metadata={"doc": "false: an information-only line shown with the form, never answered (Open311's variable = false)."})
    datatype_description = Localized(fields.String(), load_default="",
        metadata={"doc": "A hint shown under the answer box (such as \"in inches\")."})
    datatype_description_i18n = _locale_texts(
        metadata={"doc": "The hint in other languages, as stored (datatype_description = { en = ..., fr = ... } is the usual way to write it)."})
    order = fields.Integer(load_default=None, validate=validate.Range(min=1),
        metadata={"doc": "The question's place on the form (1 first); unset: the order of the file."})
    values = fields.List(fields.Nested(ValueSchema), load_default=list,
        metadata={"doc": "The choices of a singlevaluelist or multivaluelist question (required for those, refused for the others)."})

    @validates_schema
    def _check(self, data, **kwargs):
        lists = ("singlevaluelist", "multivaluelist")
        if data.get("datatype") in lists and not data.get("values"):
            raise ValidationError(f"a {data['datatype']} needs at least one value", "values")
        if data.get("datatype") not in lists and data.get("values"):
            raise ValidationError("only list datatypes take values", "values")

class TaskTemplateSchema(_Strict):
    """A task a new case gets by itself (``tasks = [...]`` on a service or a routing rule)."""
    department = fields.String(required=True,
        metadata={"doc": "The code of the department the task is for (one of [[departments]])."})
    title = Localized(fields.String(validate=validate.Length(min=1, max=200)), required=True,
        metadata={"doc": "The task's title as staff see it (such as \"Check the power line\")."})
    instructions = Localized(fields.String(validate=validate.Length(max=4000)), load_default="",
        metadata={"doc": "What the department is asked to do, shown on the task."})
    due_hours = fields.Float(load_default=None, validate=validate.Range(min=0, max=24 * 365, min_inclusive=False),
        metadata={"doc": "The task is due this many calendar hours after the report; unset: no due date."})

class ServiceSchema(_Strict):
    code = fields.String(required=True, validate=CODE,
        metadata={"doc": "The service's unique code (Open311 service_code, such as POTHOLE); never change it once cases use it."})
    name = Localized(fields.String(validate=validate.Length(min=1, max=200)), required=True,
        metadata={"doc": "The service's name as residents see it in the portal and Open311 apps."})
    description = Localized(fields.String(validate=validate.Length(max=2000)), load_default="",
        metadata={"doc": "A sentence telling residents what the service is for."})
    group = Localized(fields.String(validate=validate.Length(max=100)), load_default="",
        metadata={"doc": "The heading the service is listed under (Open311 group, such as Streets)."})
    keywords = Localized(fields.List(fields.String()), load_default=list,
        metadata={"doc": "Words that find this service in the portal's search and in Open311's keywords."})
    department = fields.String(required=True,
        metadata={"doc": "The code of the department its cases go to when no routing rule matches (one of [[departments]])."})
    sla_hours = fields.Integer(load_default=None, validate=validate.Range(min=1, max=24 * 365),
        metadata={"doc": "The service level: a case is overdue this many hours after it is reported (business hours when [sla] is set); unset: no target."})
    public = fields.Boolean(load_default=True,
        metadata={"doc": "false: an internal service that staff use but residents and Open311 apps do not see."})
    type = fields.String(load_default="realtime", validate=validate.OneOf(SERVICE_TYPES),
        metadata={"doc": "Open311 service type: realtime (a case at once), batch (accepted now, turned into a case by `civic open311 process-batch`) or blackbox."})
    active = fields.Boolean(load_default=True,
        metadata={"doc": "false retires the service: no new reports, its cases are kept."})
    attributes = fields.List(fields.Nested(AttributeSchema), load_default=list,
        metadata={"doc": "The questions a report of this service asks (Open311 service definition)."})

    @validates_schema
    def _check(self, data, **kwargs):
        codes = [a["code"] for a in data.get("attributes", [])]
        dupes = sorted({c for c in codes if codes.count(c) > 1})
        if dupes:
            raise ValidationError(f"duplicate attribute code {', '.join(dupes)}", "attributes")

class CityServiceSchema(ServiceSchema):
    """A service as the city config file declares it: the catalog row, and the tasks its cases get."""
    tasks = fields.List(fields.Nested(TaskTemplateSchema), load_default=list,
        metadata={"doc": "The tasks every new case of this service gets for other departments (see docs/tasks.md)."})

class Words(fields.Field):
    """A word or phrase, or a list of them: loads to a list of non-empty strings."""

    def _deserialize(self, value, attr, data, **kwargs):
        words = [value] if isinstance(value, str) else value
        if not isinstance(words, list) or not words or not all(isinstance(w, str) and w.strip() for w in words):
            raise ValidationError('must be a phrase or a list of phrases such as ["power line", "live wire"]')
        return [w.strip() for w in words]

class RoutingRuleSchema(_Strict):
    name = fields.String(load_default=None,
        metadata={"doc": "The rule's name, shown on the case as the reason for its department; unset: routing[N]."})
    service = fields.String(load_default=None, metadata={"doc": "The rule matches cases of this service code only."})
    zone = fields.String(load_default=None,
        metadata={"doc": "The rule matches cases in this zone only (field service zones; case does not matter)."})
    # "power line", ["power line", "live wire"], or per language: { en = "power line", fr = "ligne électrique" }
    keyword = Localized(Words(), load_default=None,
        metadata={"doc": "The rule matches cases whose description holds one of these phrases (any case, any accents); a phrase, a list, or per language { en = [...], fr = [...] }."})
    tag = fields.String(load_default=None,
        metadata={"doc": "The rule matches cases with this tag only (such as hurricane)."})
    department = fields.String(required=True,
        metadata={"doc": "The code of the department a matching case goes to; rules are tried in order, the first match wins (a rule needs at least one of service, zone, keyword, tag)."})
    tasks = fields.List(fields.Nested(TaskTemplateSchema), load_default=list,
        metadata={"doc": "The tasks a matching case gets for other departments (see docs/tasks.md)."})

    @validates_schema
    def _check(self, data, **kwargs):
        if not any(data.get(k) for k in ("service", "zone", "keyword", "tag")):
            raise ValidationError("a rule needs at least one of service, zone, keyword, tag", "department")

class BusinessHours(fields.Field):
    """``{ mon = "08:00-17:00", ... }`` -> {weekday: (opens, closes)}; a day left out is closed."""

    def _deserialize(self, value, attr, data, **kwargs):
        from core.sla import WEEKDAYS, parse_hours

        if not isinstance(value, dict):
            raise ValidationError('must be a table such as { mon = "08:00-17:00" }')
        out, errors = {}, {}
        for day, hours in value.items():
            if day not in WEEKDAYS:
                errors[str(day)] = [f"unknown day (use {', '.join(WEEKDAYS)})"]
                continue
            try:
                out[WEEKDAYS.index(day)] = parse_hours(hours)
            except ValueError as exc:
                errors[day] = [str(exc)]
        if errors:
            raise ValidationError(errors)
        if not out:
            raise ValidationError("needs at least one open day")
        return out

class SlaSchema(_Strict):
    """Business hours (in city.timezone) and holidays: SLA hours then count working hours only."""
    hours = BusinessHours(required=True,
        metadata={"doc": "Business hours per weekday in city.timezone, such as { mon = \"08:00-17:00\", tue = \"08:00-17:00\" }; a day left out is closed."})
    holidays = fields.List(fields.Date(), load_default=list,
        metadata={"doc": "Closed days, such as [2026-12-25]: they count no SLA hours."})

OPEN_TASKS_RULES = ("confirm", "refuse")

class CasesSchema(_Strict):
    """How cases are worked: resolving a case whose tasks are still open asks to confirm, or is refused."""
    open_tasks_on_resolve = fields.String(load_default="confirm", validate=validate.OneOf(OPEN_TASKS_RULES),
        metadata={"doc": "Resolving a case whose tasks are still open: confirm asks the staff member to confirm, refuse does not allow it."})

class ReportsSchema(_Strict):
    """Reports and dashboards.  ``public_performance``: publish the city performance page (/performance/,
    no sign-in): cases received and closed per month and the median time to close of each public service,
    counts only, no personal data.  Off unless the city turns it on."""
    public_performance = fields.Boolean(load_default=False,
        metadata={"doc": "true publishes the city performance page /performance/ (no sign-in; counts only, no personal data)."})
    # Saved reports go to their subscribers at this hour of the city's day (``civic reports send`` from cron),
    # the weekly ones on this day.
    send_hour = fields.Integer(load_default=7, validate=validate.Range(min=0, max=23),
        metadata={"doc": "The hour of the city's day (0-23) at which `civic reports send` e-mails saved reports to their subscribers."})
    weekly_day = fields.String(load_default="mon", validate=validate.OneOf(("mon", "tue", "wed", "thu", "fri", "sat", "sun")),
        metadata={"doc": "The day weekly saved reports are sent."})

class PrivacySchema(_Strict):
    """Retention (``civic privacy anonymise``): a resident account unused for ``inactive_resident_days`` is
    anonymised, and a closed case reported without an account loses its contact details
    ``case_contact_days`` after it closed.  Nothing is ever deleted: see docs/privacy.md."""
    inactive_resident_days = fields.Integer(load_default=3 * 365, validate=validate.Range(min=30, max=36500),
        metadata={"doc": "A resident account unused for this many days is anonymised by `civic privacy anonymise` (see docs/privacy.md)."})
    case_contact_days = fields.Integer(load_default=2 * 365, validate=validate.Range(min=30, max=36500),
        metadata={"doc": "A closed case reported without an account loses the reporter's contact details this many days after it closed."})

class ServerSchema(_Strict):
    """``civic serve`` (gunicorn): ``workers`` processes, each serving one request at a time (about two per core;
    each keeps its own database connections); ``timeout`` seconds before a stuck request's worker is restarted;
    ``max_waiting`` connections may queue before the servers answer part of them 503 (core.admission, 0 = never);
    ``proxies``: how many reverse proxies (TLS terminator, load balancer) stand in front and set
    X-Forwarded-For/-Proto/-Host -- their word is trusted only when this says they are there."""
    workers = fields.Integer(load_default=2, validate=validate.Range(min=1, max=64),
        metadata={"doc": "How many gunicorn worker processes `civic serve` starts, each serving one request at a time (about two per core)."})
    timeout = fields.Integer(load_default=60, validate=validate.Range(min=5, max=3600),
        metadata={"doc": "Seconds before a worker stuck on one request is restarted."})
    max_waiting = fields.Integer(load_default=32, validate=validate.Range(min=0, max=100_000),
        metadata={"doc": "Connections that may wait for a worker before the busy servers answer part of them 503 with Retry-After (0: never)."})
    proxies = fields.Integer(load_default=0, validate=validate.Range(min=0, max=5),
        metadata={"doc": "How many reverse proxies (TLS terminator, load balancer) stand in front and set X-Forwarded-For/-Proto/-Host; 0 trusts no such header."})

STORES = ("local", "s3")

class AttachmentsSchema(_Strict):
    """Where uploaded photos and documents are kept (core.storage): ``local`` = the data folder's uploads/ (a disk
    every app server shares), ``s3`` = an S3-compatible bucket; credentials come from the environment."""
    store = fields.String(load_default="local", validate=validate.OneOf(STORES),
        metadata={"doc": "Where uploaded photos and documents are kept: local (the data folder's uploads/, a disk every app server shares) or s3 (an S3-compatible bucket)."})
    s3_bucket = fields.String(load_default=None,
        metadata={"doc": "The bucket's name (required when store = \"s3\"); credentials come from the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY) or the server's role."})
    s3_endpoint_url = fields.String(load_default=None,
        metadata={"doc": "The S3-compatible service's address, such as https://minio.city.internal:9000 (empty: AWS S3)."})
    s3_region = fields.String(load_default=None, metadata={"doc": "The bucket's region, such as us-east-1 (empty: the environment's default)."})
    s3_prefix = fields.String(load_default="", metadata={"doc": "A folder inside the bucket for this city's files (empty: the bucket's root)."})

    @validates_schema
    def _check(self, data, **kwargs):
        if data.get("store") != "s3":
            return
        if not (data.get("s3_bucket") or "").strip():
            raise ValidationError('is required when store = "s3"', "s3_bucket")
        try:
            import boto3  # noqa: F401
        except ImportError:
            raise ValidationError("the s3 store needs boto3: pip install 'civic-connect[s3]'", "store") from None

class CoreConfigSchema(_Strict):
    city = fields.Nested(CitySchema, required=True,
        metadata={"doc": "Who the city is: name, Open311 jurisdiction, time zone, languages, case numbers, maps and duplicate checks."})
    plugins = fields.Nested(PluginsSchema, required=True,
        metadata={"doc": "Which installed plugins this city turns on."})
    departments = fields.List(fields.Nested(DepartmentSchema), load_default=list,
        metadata={"doc": "The city's departments, one [[departments]] table each: cases and tasks are routed to them."})
    services = fields.List(fields.Nested(CityServiceSchema), load_default=list,
        metadata={"doc": "The service catalog, one [[services]] table each: what residents can report, its questions, department and service level."})
    routing = fields.List(fields.Nested(RoutingRuleSchema), load_default=list,
        metadata={"doc": "Routing rules, one [[routing]] table each, tried in order before the service's own department: the first that matches a new case decides."})
    sla = fields.Nested(SlaSchema, load_default=None,
        metadata={"doc": "Business hours and holidays: when set, SLA hours count working hours only; left out, calendar hours."})
    cases = fields.Nested(CasesSchema, load_default=lambda: CasesSchema().load({}),
        metadata={"doc": "How staff work cases."})
    reports = fields.Nested(ReportsSchema, load_default=lambda: ReportsSchema().load({}),
        metadata={"doc": "Saved reports and the public performance page."})
    server = fields.Nested(ServerSchema, load_default=lambda: ServerSchema().load({}),
        metadata={"doc": "How `civic serve` runs the app (gunicorn workers, timeouts, overload, reverse proxies)."})
    attachments = fields.Nested(AttachmentsSchema, load_default=lambda: AttachmentsSchema().load({}),
        metadata={"doc": "Where uploaded photos and documents are kept (core.storage)."})
    privacy = fields.Nested(PrivacySchema, load_default=lambda: PrivacySchema().load({}),
        metadata={"doc": "How long personal data is kept (`civic privacy anonymise`, daily from cron)."})

CORE_SECTIONS = set(CoreConfigSchema().fields)

@dataclass
class CityConfig:
    """The validated city config.  Plugin sections stay plain dicts in ``sections``."""

    path: Path
    city: dict[str, Any]
    enabled_plugins: list[str]
    departments: list[dict[str, Any]]
    services: list[dict[str, Any]]
    routing: list[dict[str, Any]]
    sections: dict[str, dict[str, Any]] = field(default_factory=dict)
    sla: dict[str, Any] | None = None  # [sla]: hours {weekday: (opens, closes)} and holidays; None = calendar hours
    cases: dict[str, Any] = field(default_factory=lambda: {"open_tasks_on_resolve": "confirm"})  # [cases]
    reports: dict[str, Any] = field(default_factory=lambda: ReportsSchema().load({}))  # [reports]
    server: dict[str, Any] = field(default_factory=lambda: ServerSchema().load({}))  # [server]
    attachments: dict[str, Any] = field(default_factory=lambda: AttachmentsSchema().load({}))  # [attachments]
    privacy: dict[str, Any] = field(default_factory=lambda: PrivacySchema().load({}))  # [privacy]

    def section(self, name: str) -> dict[str, Any]:
        return self.sections.get(name, {})

    @property
    def locale_rules(self) -> "LocaleRules":
        return LocaleRules.of_city(self.city)

def config_path(path: str | os.PathLike | None = None) -> Path:
    """The config file to use: the argument, else ``CIVIC_CONFIG``, else the demo city."""
    chosen = path or os.environ.get("CIVIC_CONFIG") or DEFAULT_CONFIG
    p = Path(chosen)
    if not p.is_absolute() and not p.exists() and (CONFIG_DIR / p).exists():
        p = CONFIG_DIR / p
    return p

def display_path(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)

def flatten_errors(messages: Any, prefix: str = "") -> list[ConfigProblem]:
    """Turn marshmallow's nested error dict into ``key.path[2].field`` problems."""
    out: list[ConfigProblem] = []
    if isinstance(messages, dict):
        for key, value in messages.items():
            if isinstance(key, int):
                path = f"{prefix}[{key}]"
            elif key == "_schema":
                path = prefix
            else:
                path = f"{prefix}.{key}" if prefix else str(key)
            out.extend(flatten_errors(value, path))
    elif isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        for m in messages:
            msg = "unknown key" if m == "Unknown field." else m.rstrip(".")
            out.append(ConfigProblem(prefix or "(file)", msg[:1].lower() + msg[1:] if msg else msg))
    elif isinstance(messages, list):
        for i, m in enumerate(messages):
            out.extend(flatten_errors(m, f"{prefix}[{i}]"))
    else:
        out.append(ConfigProblem(prefix or "(file)", str(messages)))
    return out

# ---------------------------------------------------------------- text in several languages

# The resident-visible texts of the catalog; each may be plain text (the default locale's) or a locale table.
DEPARTMENT_TEXTS = ("name",)
SERVICE_TEXTS = ("name", "description", "group", "keywords")
ATTRIBUTE_TEXTS = ("description", "datatype_description")


@dataclass(frozen=True)
class LocaleRules:
    """The city's locales: which ones a text may name, and which one every text must have."""

    default: str
    locales: tuple[str, ...]

    @classmethod
    def of_city(cls, city: dict[str, Any]) -> "LocaleRules":
        return cls(city.get("default_locale", "en"), tuple(city.get("locales") or ["en"]))

    def split(self, value: Any, path: str, problems: list[ConfigProblem], *, empty: Any = "",
              explicit: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any]]:
        """(the default locale's text, {other locale: text}) from plain text or a locale table.

        ``explicit`` is the stored form's ``<field>_i18n`` table (``path`` + ``_i18n`` in messages);
        entries of the plain table win over it.  Problems are added, one line each.
        """
        others: dict[str, Any] = {}
        for locale, text in (explicit or {}).items():
            if locale not in self.locales:
                problems.append(ConfigProblem(f"{path}_i18n.{locale}", self._unknown(locale)))
            elif locale != self.default and text:
                others[locale] = text
        if not isinstance(value, dict):
            return value, others
        for locale in value:
            if locale not in self.locales:
                problems.append(ConfigProblem(f"{path}.{locale}", self._unknown(locale)))
        if self.default not in value:
            problems.append(ConfigProblem(path, f"the text in the default locale '{self.default}' is required "
                                                f"(plain text, or {self.default} = ... in the table)"))
        others.update({loc: text for loc, text in value.items() if loc != self.default and loc in self.locales and text})
        return value.get(self.default, empty), others

    def _unknown(self, locale: str) -> str:
        return f"unknown locale '{locale}' (city.locales: {', '.join(self.locales)})"


def _by_locale(per_field: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """{"name": {"fr": ...}, "group": {"fr": ...}} -> {"fr": {"name": ..., "group": ...}}."""
    out: dict[str, dict[str, Any]] = {}
    for name, texts in per_field.items():
        for locale, text in texts.items():
            out.setdefault(locale, {})[name] = text
    return out


def localize_texts(data: dict[str, Any], names: tuple[str, ...], path: str, rules: LocaleRules,
                   problems: list[ConfigProblem]) -> dict[str, dict[str, Any]]:
    """Replace each locale table among ``names`` by its default text; return the other locales' texts by locale."""
    per_field = {}
    for name in names:
        if name in data:
            empty = [] if isinstance(data[name], list) or name == "keywords" else ""
            data[name], per_field[name] = rules.split(data[name], f"{path}.{name}" if path else name, problems, empty=empty)
    return _by_locale(per_field)


def localize_attribute(defn: dict[str, Any], path: str, rules: LocaleRules, problems: list[ConfigProblem]) -> dict[str, Any]:
    """An attribute definition in its stored form: default texts, translations inline (``description_i18n``,
    ``datatype_description_i18n``, and ``name_i18n`` on each value).  Changes ``defn`` and returns it."""
    for name in ATTRIBUTE_TEXTS:
        key = f"{name}_i18n"
        defn[name], others = rules.split(defn.get(name, ""), f"{path}.{name}", problems, explicit=defn.pop(key, None))
        if others:
            defn[key] = others
    for i, value in enumerate(defn.get("values") or []):
        value["name"], others = rules.split(value["name"], f"{path}.values[{i}].name", problems, explicit=value.pop("name_i18n", None))
        if others:
            value["name_i18n"] = others
    return defn


def _localize(data: dict[str, Any]) -> list[ConfigProblem]:
    """Check every catalog text's locales against city.locales and split off the translations (in place)."""
    rules = LocaleRules.of_city(data["city"])
    problems: list[ConfigProblem] = []
    for i, dept in enumerate(data["departments"]):
        dept["translations"] = localize_texts(dept, DEPARTMENT_TEXTS, f"departments[{i}]", rules, problems)
    for i, svc in enumerate(data["services"]):
        svc["translations"] = localize_texts(svc, SERVICE_TEXTS, f"services[{i}]", rules, problems)
        for j, defn in enumerate(svc["attributes"]):
            localize_attribute(defn, f"services[{i}].attributes[{j}]", rules, problems)
    return problems


def _cross_check(data: dict[str, Any]) -> list[ConfigProblem]:
    problems: list[ConfigProblem] = []
    depts = [d["code"] for d in data["departments"]]
    for code in sorted({c for c in depts if depts.count(c) > 1}):
        problems.append(ConfigProblem("departments", f"duplicate department code '{code}'"))
    known = set(depts)
    locales = list(data["city"].get("locales") or [])
    codes = [s["code"] for s in data["services"]]
    for code in sorted({c for c in codes if codes.count(c) > 1}):
        problems.append(ConfigProblem("services", f"duplicate service code '{code}'"))
    for i, svc in enumerate(data["services"]):
        if svc["department"] not in known:
            problems.append(ConfigProblem(f"services[{i}].department", f"unknown department '{svc['department']}' (service {svc['code']})"))
    for i, rule in enumerate(data["routing"]):
        if rule["department"] not in known:
            problems.append(ConfigProblem(f"routing[{i}].department", f"unknown department '{rule['department']}'"))
        if rule.get("service") and rule["service"] not in codes:
            problems.append(ConfigProblem(f"routing[{i}].service", f"unknown service '{rule['service']}'"))
        rule["keywords"] = _rule_keywords(rule.get("keyword"), f"routing[{i}].keyword", locales, problems)
    return problems


def _task_templates(data: dict[str, Any]) -> list[ConfigProblem]:
    """Check the task templates of services and routing rules (in place): known departments, and titles and
    instructions in the city's locales.  A task is staff data: it keeps the default locale's text
    (the others stay in ``title_i18n`` / ``instructions_i18n``)."""
    rules = LocaleRules.of_city(data["city"])
    known = {d["code"] for d in data["departments"]}
    problems: list[ConfigProblem] = []
    for section in ("services", "routing"):
        for i, owner in enumerate(data[section]):
            for j, template in enumerate(owner.get("tasks") or []):
                path = f"{section}[{i}].tasks[{j}]"
                if template["department"] not in known:
                    problems.append(ConfigProblem(f"{path}.department", f"unknown department '{template['department']}'"))
                for name in ("title", "instructions"):
                    template[name], others = rules.split(template[name], f"{path}.{name}", problems)
                    if others:
                        template[f"{name}_i18n"] = others
    return problems


def _rule_keywords(keyword: Any, path: str, locales: list[str], problems: list[ConfigProblem]) -> list[str]:
    """Every phrase of a routing rule's keyword, in every language, folded for matching (see fold_text)."""
    if keyword is None:
        return []
    per_locale = keyword if isinstance(keyword, dict) else {"": keyword}
    for locale in per_locale:
        if locale and locale not in locales:
            problems.append(ConfigProblem(f"{path}.{locale}", f"'{locale}' is not one of city.locales ({', '.join(locales)})"))
    return sorted({fold_text(w) for words in per_locale.values() for w in words})


def fold_text(text: str) -> str:
    """Lower case without accents, single spaces: "Ligne  Électrique" -> "ligne electrique"."""
    decomposed = unicodedata.normalize("NFKD", text or "")
    return " ".join("".join(c for c in decomposed if not unicodedata.combining(c)).casefold().split())

def _syntax_problem(shown: str, exc: tomllib.TOMLDecodeError) -> str:
    """``FILE: line 3, column 7: TOML syntax error: ...`` (tomllib ends its message with the place)."""
    m = re.fullmatch(r"(.*) \((at line \d+, column \d+|at end of document)\)", str(exc), re.S)
    what, where = (m.group(1), m.group(2).removeprefix("at ")) if m else (str(exc), "(file)")
    return f"{shown}: {where}: TOML syntax error: {what[:1].lower() + what[1:]}"

def load_city_config(path: str | os.PathLike | None = None) -> CityConfig:
    """Read, parse and validate the core part of a city config; raise ConfigError on any problem."""
    p = config_path(path)
    shown = display_path(p)
    try:
        raw = tomllib.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError([f"{shown}: file not found (set CIVIC_CONFIG to a city config file)"])
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([f"{shown}: cannot read the file: {exc}"])
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([_syntax_problem(shown, exc)])
    core_part = {k: v for k, v in raw.items() if k in CORE_SECTIONS}
    sections = {k: v for k, v in raw.items() if k not in CORE_SECTIONS}
    problems: list[ConfigProblem] = []
    for name, value in sections.items():
        if not isinstance(value, dict):
            problems.append(ConfigProblem(name, "unknown key (plugin sections are tables named after the plugin)"))
    try:
        data = CoreConfigSchema().load(core_part)
    except ValidationError as exc:
        problems.extend(flatten_errors(exc.messages))
        raise ConfigError([f"{shown}: {p.key}: {p.message}" for p in problems])
    problems.extend(_localize(data))
    problems.extend(_cross_check(data))
    problems.extend(_task_templates(data))
    if problems:
        raise ConfigError([f"{shown}: {p.key}: {p.message}" for p in problems])
    return CityConfig(
        path=p,
        city=data["city"],
        enabled_plugins=list(dict.fromkeys(data["plugins"]["enabled"])),
        departments=data["departments"],
        services=data["services"],
        routing=data["routing"],
        sections={k: v for k, v in sections.items() if isinstance(v, dict)},
        sla=data.get("sla"),
        cases=data["cases"],
        reports=data["reports"],
        server=data["server"],
        attachments=data["attachments"],
        privacy=data["privacy"],
    )

def format_problems(config: CityConfig, problems: list[ConfigProblem]) -> list[str]:
    shown = display_path(config.path)
    return [f"{shown}: {p.key}: {p.message}" for p in problems]

