"""REST API for case tasks.  (Stub: filled in by the coordination work.)"""
from __future__ import annotations


def task_apis() -> list[type]:
    return []
