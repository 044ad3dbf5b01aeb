"""SQLite: a quick test, in SQL, of whether a case may hold the words of a search, before the full-text probe.

The case list, newest first, checks each case against the full-text index when the words are common (a probe
of ``case_fts`` per case, ~50-170 us: each word's list of a million matches is searched for the case).  When the
newest cases lack the words (thousands of them after a storm's reports), the page walks all of them first.
``civic_may_hold_words(reference, description, address, words)`` reads the case's own text instead (a few
microseconds): 0 when the case certainly lacks a word, 1 when it may hold them all, and the probe decides.

It is certain only where it tokenizes exactly as the index does (``unicode61 remove_diacritics 2``, migration
0007): ASCII text, split on anything but ASCII letters and digits, lower-cased, and ASCII words.  Text with any
other character (accents fold, other scripts split differently) is always "may": the probe decides, as before.
"""
from __future__ import annotations

import re

_ASCII_TOKEN = re.compile(r"[a-z0-9]+")


def may_hold_words(reference: str | None, description: str | None, address: str | None, words: str) -> int:
    """1 unless the case's text is ASCII and lacks one of ``words`` (lower-case ASCII, space-separated)."""
    text = " ".join(part for part in (reference, description, address) if part)
    if not text.isascii():
        return 1
    tokens = set(_ASCII_TOKEN.findall(text.lower()))
    return 1 if all(word in tokens for word in words.split()) else 0


def register_sqlite_functions(connection) -> None:
    """Give a new sqlite3 connection ``civic_may_hold_words`` (the engine's connect hook, core/app.py)."""
    connection.create_function("civic_may_hold_words", 4, may_hold_words, deterministic=True)
