"""Open311 API keys on the staff screens.  (Stub: the Open311 write side fills it in.)"""
from __future__ import annotations

from core.records import RoleSpec, ViewSpec


def view_specs() -> list[ViewSpec]:
    return []


def role_specs() -> list[RoleSpec]:
    return []
