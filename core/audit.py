"""The admin audit log: every change to the city's set-up is recorded, whoever makes it and however.

Screens, the REST API, the ``civic`` command and the config sync all change rows through the same SQLAlchemy
session, so the log is written from the session's ``after_flush`` event: a change cannot reach the database
without its entry, and both commit (or roll back) together.  What is watched is declared with
``audit_model(Model, kind, ...)``: the core's catalog, roles and users here, a plugin's own set-up tables
(the intake plugin's Open311 API keys) next to their models.  Routing rules live in the config file, not in
the database: ``record_routing_rules`` compares the file with what the log last recorded, at each sync.

Never recorded: passwords, hashes, secrets and tokens (any column whose name says so, and the ``skip`` fields
of each model), nor residents' sign-in accounts (their changes are personal data, and erasing a resident must
not leave their old e-mail in an append-only log).

Not seen: bulk statements (``session.execute(update(Model)...)``) skip the session's unit of work, so code that
changes set-up rows goes through the ORM (load, set, commit), as every screen, API and command here does.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import wraps
from typing import Any

from flask import has_request_context, request
from flask_sqlalchemy.session import Session as FlaskSession
from sqlalchemy import event, insert, inspect, select
from sqlalchemy.orm import Session

from core.models import AuditEntry, Department, ServiceType, Tag
from core.models.base import utcnow

# Columns never written to the log, on any model (sign-in bookkeeping changes at every login).
ALWAYS_SKIPPED = frozenset({
    "password", "changed_on", "changed_by_fk", "created_on", "created_by_fk", "last_login", "login_count",
    "fail_login_count", "last_used_at", "version",
})
SECRET_NAME = re.compile(r"password|secret|hash|token|salt", re.IGNORECASE)
# Roles that make nobody staff: changes to these users' sign-in accounts are not set-up, and are personal data.
NON_STAFF_ROLES = frozenset({"Resident", "Public"})
MAX_LABEL = 200


@dataclass(frozen=True)
class AuditedModel:
    """How one model is recorded: its kind, its label, the fields left out, the relations recorded."""

    kind: str
    label: Callable[[Any], str]
    skip: frozenset[str] = frozenset()
    relations: tuple[str, ...] = ()  # many-to-one and many-to-many relations recorded by their labels
    include: Callable[[Session, Any], bool] | None = None  # None: every row


AUDITED: dict[type, AuditedModel] = {}


def audit_model(model: type, kind: str, label: Callable[[Any], str] | None = None, skip: tuple[str, ...] = (),
                relations: tuple[str, ...] = (), include: Callable[[Session, Any], bool] | None = None) -> None:
    """Record every created, changed and deleted row of ``model`` in the audit log as ``kind``."""
    AUDITED[model] = AuditedModel(kind, label or (lambda obj: str(obj)), frozenset(skip), tuple(relations), include)


# ---------------------------------------------------------------- who is acting

@dataclass(frozen=True)
class Actor:
    id: int | None
    label: str
    source: str  # screen | api | cli | config sync


_acting: ContextVar[Actor | None] = ContextVar("civic_audit_actor", default=None)


@contextmanager
def acting_as(label: str, source: str, actor_id: int | None = None) -> Iterator[None]:
    """Changes made inside the block are recorded as made by ``label`` through ``source``."""
    token = _acting.set(Actor(actor_id, label, source))
    try:
        yield
    finally:
        _acting.reset(token)


def as_config_sync(function: Callable) -> Callable:
    """Decorator: what ``function`` changes is recorded as done by the config sync."""

    @wraps(function)
    def wrapper(*args, **kwargs):
        with acting_as("config sync", "config sync"):
            return function(*args, **kwargs)

    return wrapper


def current_actor() -> Actor:
    """The block's actor (``acting_as``), else the signed-in user of the request, else the command line."""
    chosen = _acting.get()
    if chosen is not None:
        return chosen
    if has_request_context():
        from core.security import acting_user

        source = "api" if request.path.startswith("/api/") else "screen"
        user = acting_user()
        if user is not None and getattr(user, "is_authenticated", False):
            return Actor(user.id, user.username, source)
        return Actor(None, "anonymous", source)
    return Actor(None, "system", "cli")


# ---------------------------------------------------------------- values as the log keeps them

def plain(value: Any) -> Any:
    """A value as JSON can hold it: related rows by their label, times in ISO 8601."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [plain(v) for v in value]
    return str(value)


def item_label(item: Any) -> str:
    """A related row as the log names it: users by username, permissions as "can_list on CaseView"."""
    if hasattr(item, "username"):
        return item.username
    if hasattr(item, "permission") and hasattr(item, "view_menu"):
        return f"{item.permission.name} on {item.view_menu.name}"
    return str(item)


def _labels(items) -> list[str]:
    return sorted(item_label(item) for item in items or ())


def _related(value: Any, many: bool) -> Any:
    if many:
        return _labels(value)
    return None if value is None else item_label(value)


def _recorded_columns(obj, spec: AuditedModel) -> list[str]:
    mapper = inspect(obj).mapper
    keys = {mapper.get_property_by_column(column).key for column in mapper.primary_key}  # the entry's object_id
    return [attr.key for attr in mapper.column_attrs if attr.key not in keys
            and attr.key not in ALWAYS_SKIPPED and attr.key not in spec.skip and not SECRET_NAME.search(attr.key)]


def _snapshot(obj, spec: AuditedModel) -> dict[str, Any]:
    """The row's values as loaded (never loads anything: this runs inside a flush)."""
    state = inspect(obj)
    values = {key: plain(state.dict.get(key)) for key in _recorded_columns(obj, spec) if state.dict.get(key) is not None}
    for rel in spec.relations:
        if rel in state.dict:
            values[rel] = _related(state.dict[rel], state.mapper.relationships[rel].uselist)
            for column in state.mapper.relationships[rel].local_columns:
                values.pop(column.key, None)
    return {k: v for k, v in values.items() if v not in (None, [], {}, "")}


def _changes(obj, spec: AuditedModel) -> dict[str, list]:
    """{field: [old, new]} of a changed row, from the session's attribute history."""
    state = inspect(obj)
    out: dict[str, list] = {}
    for key in _recorded_columns(obj, spec):
        history = state.attrs[key].history
        if not history.has_changes():
            continue
        old = plain(history.deleted[0]) if history.deleted else None
        new = plain(history.added[0]) if history.added else None
        if old != new:
            out[key] = [old, new]
    for rel in spec.relations:
        history = state.attrs[rel].history
        if not history.has_changes():
            continue
        if state.mapper.relationships[rel].uselist:
            old, new = _labels([*history.unchanged, *history.deleted]), _labels([*history.unchanged, *history.added])
        else:
            old = _related(history.deleted[0], False) if history.deleted else None
            new = _related(history.added[0], False) if history.added else None
        if old != new:
            out[rel] = [old, new]
        # The relation says it by name: its foreign key's bare number would say it twice.
        for column in state.mapper.relationships[rel].local_columns:
            out.pop(column.key, None)
    return out


def _entry(obj, spec: AuditedModel, action: str, changes: dict, actor: Actor, at: datetime) -> dict[str, Any]:
    state = inspect(obj)
    # From the row's values: a row inserted by this flush has no identity key yet.
    parts = [state.dict.get(state.mapper.get_property_by_column(column).key) for column in state.mapper.primary_key]
    object_id = "-".join(str(part) for part in parts) if all(p is not None for p in parts) else None
    try:
        label = spec.label(obj)
    except Exception:  # noqa: BLE001 -- a label that needs an unloaded row must not lose the entry
        label = object_id or ""
    return {
        "at": at, "actor_id": actor.id, "actor_label": (actor.label or "system")[:120], "action": action,
        "object_kind": spec.kind, "object_id": object_id, "object_label": str(label or "")[:MAX_LABEL],
        "changes": changes, "source": actor.source,
    }


def _after_flush(session: Session, flush_context) -> None:
    found: list[tuple[Any, AuditedModel, str, dict]] = []
    for action, objects in (("created", session.new), ("changed", session.dirty), ("deleted", session.deleted)):
        for obj in objects:
            spec = AUDITED.get(type(obj))
            if spec is None:
                continue
            if action == "created":
                changes = {k: [None, v] for k, v in _snapshot(obj, spec).items()}
            elif action == "deleted":
                changes = {k: [v, None] for k, v in _snapshot(obj, spec).items()}
            else:
                changes = _changes(obj, spec)
                if not changes:
                    continue
            if spec.include is not None and not spec.include(session, obj):
                continue
            found.append((obj, spec, action, changes))
    if not found:
        return
    actor, at = current_actor(), utcnow()
    rows = [_entry(obj, spec, action, changes, actor, at) for obj, spec, action, changes in found]
    session.connection().execute(insert(AuditEntry.__table__), rows)


# ---------------------------------------------------------------- set-up kept in the config file, not the database

ROUTING_KIND = "routing rule"
ROUTING_FIELDS = ("service", "zone", "keyword", "tag", "department", "tasks")
TASK_TEMPLATES_KIND = "task templates"
SLA_KIND = "sla calendar"


def routing_rule_name(rule: dict, index: int) -> str:
    """A rule's name in the log and in routing decisions: its ``name``, else its place in the file."""
    return rule.get("name") or f"routing[{index}]"


def recorded_config_items(session: Session, kind: str) -> dict[str, dict[str, Any]]:
    """Config-file items of one kind as the log last recorded them: {name: {field: value}}."""
    items: dict[str, dict[str, Any]] = {}
    stmt = select(AuditEntry.action, AuditEntry.object_id, AuditEntry.changes).where(
        AuditEntry.object_kind == kind).order_by(AuditEntry.id)
    for action, name, changes in session.execute(stmt):
        if action == "deleted":
            items.pop(name, None)
            continue
        item = items.setdefault(name, {})
        for key, (_, new) in (changes or {}).items():
            if new is None:
                item.pop(key, None)
            else:
                item[key] = new
    return items


def record_config_items(session: Session, kind: str, now: dict[str, dict[str, Any]]) -> int:
    """Log how the config file's items of ``kind`` ({name: {field: value}}) differ from what the log last
    recorded (as the config sync); returns the number of entries.  Not committed: the sync commits."""
    before = recorded_config_items(session, kind)
    now = {name: {k: plain(v) for k, v in values.items() if v not in (None, [], {}, "")} for name, values in now.items()}
    actor = _acting.get() or Actor(None, "config sync", "config sync")
    at, rows = utcnow(), []

    def row(action: str, name: str, changes: dict) -> None:
        rows.append({"at": at, "actor_id": actor.id, "actor_label": actor.label, "action": action,
                     "object_kind": kind, "object_id": name[:64], "object_label": name[:MAX_LABEL],
                     "changes": changes, "source": actor.source})

    for name, values in now.items():
        old = before.get(name)
        if old is None:
            row("created", name, {k: [None, v] for k, v in values.items()})
            continue
        changes = {k: [old.get(k), values.get(k)] for k in sorted(set(old) | set(values)) if old.get(k) != values.get(k)}
        if changes:
            row("changed", name, changes)
    for name, values in before.items():
        if name not in now:
            row("deleted", name, {k: [v, None] for k, v in values.items()})
    if rows:
        session.execute(insert(AuditEntry.__table__), rows)
    return len(rows)


def record_config_setup(session: Session, config) -> int:
    """What the config file alone holds: routing rules, the tasks each service's cases get, the SLA calendar."""
    routing = {routing_rule_name(rule, i): {key: rule.get(key) for key in ROUTING_FIELDS}
               for i, rule in enumerate(config.routing)}
    templates = {service["code"]: {"tasks": service.get("tasks")} for service in config.services if service.get("tasks")}
    from core.sla import WEEKDAYS

    sla = getattr(config, "sla", None)
    calendar = {}
    if sla:
        calendar["city"] = {
            "hours": {WEEKDAYS[day]: "-".join(t.strftime("%H:%M") for t in hours) for day, hours in sorted((sla.get("hours") or {}).items())},
            "holidays": sorted(str(d) for d in sla.get("holidays") or ()),
        }
    return (record_config_items(session, ROUTING_KIND, routing) + record_config_items(session, TASK_TEMPLATES_KIND, templates)
            + record_config_items(session, SLA_KIND, calendar))


# ---------------------------------------------------------------- what the core records

def _is_staff_user(session: Session, user) -> bool:
    """A user whose account is set-up (any role but Resident, now or before this change)."""
    state = inspect(user)
    names: set[str] = set()
    if "roles" in state.dict:
        history = state.attrs.roles.history
        names |= {r.name for r in [*history.unchanged, *history.added, *history.deleted]}
    elif user.id is not None:
        from flask_appbuilder.security.sqla.models import Role, assoc_user_role

        stmt = select(Role.name).join(assoc_user_role, assoc_user_role.c.role_id == Role.id).where(
            assoc_user_role.c.user_id == user.id)
        names |= set(session.connection().scalars(stmt))
    return bool(names - NON_STAFF_ROLES)


_installed = False


def install() -> None:
    """Watch the core's set-up tables and hook the session (once per process)."""
    global _installed
    if _installed:
        return
    from flask_appbuilder.security.sqla.models import Group, Role, User

    from core.models import Crew, ReportShare

    audit_model(ServiceType, "service", label=lambda s: f"{s.code}: {s.name}", relations=("department",))
    audit_model(Department, "department", label=lambda d: f"{d.code}: {d.name}", relations=("staff",))
    audit_model(Tag, "tag", label=lambda t: t.name)
    audit_model(Crew, "crew", label=lambda c: c.name, relations=("department", "members"))
    audit_model(Role, "role", label=lambda r: r.name, relations=("permissions",))
    audit_model(Group, "group", label=lambda g: g.name, relations=("roles", "users"))
    audit_model(User, "user", label=lambda u: u.username, relations=("roles", "groups"), include=_is_staff_user)
    audit_model(ReportShare, "report share", label=_report_share_label)
    event.listen(FlaskSession, "before_flush", _refuse_case_deletion)
    event.listen(FlaskSession, "after_flush", _after_flush)
    _installed = True


def _refuse_case_deletion(session: Session, flush_context, instances) -> None:
    """Say it plainly before the flush would first try to detach the case's timeline entries."""
    from core.models import Case

    if any(isinstance(obj, Case) for obj in session.deleted):
        raise PermissionError("cases are evidence: close a case (or mark it a duplicate), never delete it")


def _report_share_label(share) -> str:
    state = inspect(share).dict
    report = state.get("report")
    who = f"role {share.role_id}" if share.role_id else f"department {share.department_id}"
    return f"{report.name if report is not None else share.report_id} -> {who}"
