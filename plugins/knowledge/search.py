"""Full-text search over articles and FAQ.  (Stub: task K2 fills it in; keep these signatures.)"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Hit:
    kind: str  # "article" | "faq"
    id: int
    locale: str  # the language of the text that matched
    title: str  # an article's title or a FAQ question
    snippet_html: str  # escaped text with <mark>…</mark> around the matched words
    score: float


def search(session, query: str, locale: str, *, audience: str = "public", kinds: tuple[str, ...] = ("article", "faq"),
           service_code: str | None = None, tags: list[str] | None = None, limit: int = 20, offset: int = 0) -> list[Hit]:
    """Published entries matching ``query``, best first.  ``audience``: "public" (residents) or "all" (staff)."""
    return []


def index_article(session, article) -> None:
    """(Re)index an article's texts; call after every change (no commit)."""


def index_faq(session, faq) -> None:
    """(Re)index a FAQ entry's texts; call after every change (no commit)."""
