"""SQLite's quick word test (core.sqlite_search) never hides a case the full-text index finds, and does pass over
cases whose plain text lacks a word: checked against a real FTS5 table with the index's own tokenizer."""
from __future__ import annotations

import sqlite3

import pytest

from core.sqlite_search import may_hold_words, register_sqlite_functions
from core.views.cases import search_words

TEXTS = [
    ("PC-2026-000123", "Pothole by the curb, 3 ft wide", "12 Palm Coast Pkwy"),
    ("PC-2026-000124", "École fermée: arbre tombé sur la route", "4 rue de l'Église"),
    ("PC-2026-000125", "DEBRIS_PILE on Belle-Terre; tree's branches", None),
    ("PC-2026-000126", "Straße gesperrt, Baum umgestürzt", "Hauptstraße 1"),
    ("PC-2026-000127", "naïve café sign down", "Cafe Row"),
    ("PC-2026-000128", "Streetlight out (pole #4471) near the school", ""),
    ("PC-2026-000129", "Flooding—water over the road…", "Seminole Woods Blvd"),
    ("PC-2026-000130", "ﬁre hydrant leaking", "Old Kings Rd"),
]
SEARCHES = ["pothole", "POTHOLE curb", "pc 2026 000123", "ecole", "École", "eglise", "debris", "pile", "debris_pile",
            "belle terre", "tree", "trees", "s", "strasse", "straße", "cafe", "naive", "4471", "pole 4471", "school",
            "flooding water", "fire", "fi", "kings", "palm pkwy", "nothing here"]


@pytest.fixture
def index():
    db = sqlite3.connect(":memory:")
    register_sqlite_functions(db)
    db.execute("CREATE TABLE cases (id INTEGER PRIMARY KEY, reference TEXT, description TEXT, address TEXT)")
    db.execute("CREATE VIRTUAL TABLE case_fts USING fts5(reference, description, address, content='cases', content_rowid='id', "
               "tokenize='unicode61 remove_diacritics 2')")  # as migration 0007 makes it
    db.executemany("INSERT INTO cases (reference, description, address) VALUES (?, ?, ?)", TEXTS)
    db.execute("INSERT INTO case_fts (case_fts) VALUES ('rebuild')")
    yield db
    db.close()


@pytest.mark.parametrize("typed", SEARCHES)
def test_the_quick_test_never_says_no_to_a_case_the_index_finds(index, typed):
    words = search_words(typed)
    match = " ".join(f'"{w}"' for w in words)
    found = {row[0] for row in index.execute("SELECT rowid FROM case_fts WHERE case_fts MATCH ?", (match,))}
    if not all(w.isascii() for w in words):
        return  # the list then probes the index alone (core.views.cases.text_search_clause)
    passed = {row[0] for row in index.execute(
        "SELECT id FROM cases WHERE civic_may_hold_words(reference, description, address, ?) = 1", (" ".join(w.lower() for w in words),))}
    assert found <= passed, (typed, found - passed)


def test_plain_text_without_a_word_is_passed_over_and_anything_else_is_left_to_the_index():
    assert may_hold_words("PC-2026-000123", "Pothole by the curb", "12 Palm Coast Pkwy", "pothole curb") == 1
    assert may_hold_words("PC-2026-000123", "Pothole by the curb", None, "pothole tree") == 0
    assert may_hold_words("PC-2026-000123", "Pothole", "12 Palm Coast Pkwy", "pc 2026 palm") == 1  # any column
    assert may_hold_words("PC-2026-000123", "Potholes everywhere", None, "pothole") == 0  # whole words, as the index
    assert may_hold_words("PC-2026-000124", "École fermée", None, "ecole") == 1  # accents: the index decides
    assert may_hold_words("PC-2026-000124", "Arbre tombé", None, "pothole") == 1
