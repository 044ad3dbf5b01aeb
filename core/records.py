"""Small typed records that hooks return; the core flattens and registers them."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable


@dataclass(frozen=True)
class PluginInfo:
    name: str
    version: str
    description: str = ""
    requires: tuple[str, ...] = ()


@dataclass(frozen=True)
class ConfigProblem:
    """One problem in the city config: the key path (``services[2].sla_hours``) and what is wrong."""

    key: str
    message: str


@dataclass(frozen=True)
class MigrationSpec:
    """An Alembic environment: its name, its folder of versions and its version table."""

    name: str
    directory: str
    version_table: str
    table_prefix: str


@dataclass(frozen=True)
class RoleSpec:
    """A role and its permissions, as (view-name regex, permission regex) pairs; ``includes`` names roles
    whose permissions (from every plugin) this one also gets: ``Supervisor`` includes ``Department staff``."""

    name: str
    permissions: tuple[tuple[str, str], ...]
    includes: tuple[str, ...] = ()


@dataclass(frozen=True)
class ViewSpec:
    """A Flask-AppBuilder view class and its menu entry (no menu when ``category`` is None)."""

    name: str
    view: type
    label: Any = None
    category: str | None = None
    category_label: Any = None
    icon: str = ""
    menu: bool = True


@dataclass(frozen=True)
class RoutingDecision:
    """Where a case goes, and which rule said so (recorded on the timeline)."""

    department_code: str
    rule: str


@dataclass(frozen=True)
class Panel:
    """A titled block of safe HTML that a plugin adds to a staff page."""

    title: Any
    html: str
    order: int = 100
    extra: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Notifier:
    """A delivery channel of the outbox: ``send(message)`` delivers one ``OutboxMessage`` or raises.

    ``send`` is any callable taking the message: a function, or the bound ``send`` of an object
    (``SmsGateway(settings).send``).  An exception means "not delivered": the worker retries later.
    """

    channel: str
    send: Callable[[Any], None]


@dataclass(frozen=True)
class Suggestion:
    """An article (or FAQ entry) that may answer a request: its title, where to read it, a short summary
    and its kind ("article" | "faq"; ``internal`` marks staff-only content, never shown to residents)."""

    title: str
    url: str
    summary: str = ""
    kind: str = "article"
    internal: bool = False
