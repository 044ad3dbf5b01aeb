"""Issue 6 screens: tasks.  (Stub: filled in by the coordination work.)"""
from __future__ import annotations

from core.records import Panel, RoleSpec, ViewSpec


def view_specs() -> list[ViewSpec]:
    return []


def role_specs() -> list[RoleSpec]:
    return []


def case_panels(case) -> list[Panel]:
    """Blocks this module adds to the staff case page (through the core's ``case_panels`` hookimpl)."""
    return []
