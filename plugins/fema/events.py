"""(stub: filled in by its owner)"""
from __future__ import annotations


def blueprints():
    return []


def tag_new_case(session, case):
    return None


def tag_new_task(session, task, changes):
    return None
