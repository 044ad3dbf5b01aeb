"""Suggested articles on the agent's desk (case page, New call).  (Stub: task K3.)"""
from __future__ import annotations


def case_panels(case) -> list:
    return []
