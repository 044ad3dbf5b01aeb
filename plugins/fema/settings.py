"""Checks of the ``[fema]`` section (stub: filled in by its owner)."""
from __future__ import annotations


def problems(config):
    return []
