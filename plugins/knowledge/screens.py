"""Staff screens of the knowledge base.  (Stub: task K1.)"""
from __future__ import annotations


def view_specs() -> list:
    return []


def role_specs() -> list:
    return []
