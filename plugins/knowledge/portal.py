"""The public help centre and the read-only JSON API.  (Stub: task K3 / K2.)"""
from __future__ import annotations


def blueprints() -> list:
    return []
