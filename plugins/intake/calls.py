"""The phone desk.  (Stub: the phone channel fills it in.)"""
from __future__ import annotations

from core.records import ConfigProblem, Panel, RoleSpec, ViewSpec


def config_problems(config) -> list[ConfigProblem]:
    return []


def view_specs() -> list[ViewSpec]:
    return []


def role_specs() -> list[RoleSpec]:
    return []


def dashboard_panel() -> Panel:
    return Panel(title="", html="", order=1000)
