"""``[intake.email]``: the mailbox ``civic intake poll-email`` reads.  (Stub: the e-mail channel fills it in.)"""
from __future__ import annotations

from core.records import ConfigProblem


def config_problems(config) -> list[ConfigProblem]:
    return []
