"""Full-text search over articles and FAQ.

One index row per entry and language (``kind``, ``ref_id``, ``locale``, ``title``, ``body``, ``tags``):
on SQLite the FTS5 table ``knowledge_fts`` (unicode61, diacritics removed; ranked by ``bm25()``, snippets
by ``snippet()``); on PostgreSQL the table ``knowledge_fts`` with a weighted ``tsvector`` per row (GIN
index) built with the language's dictionary, ranked by ``ts_rank``, snippets by ``ts_headline``.  Accents
are folded in Python before PostgreSQL sees the text, so "ecole" finds "école".  Users' words are reduced
to plain terms: no query syntax reaches the database.  Only published entries are indexed and found.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

import sqlalchemy as sa
from markupsafe import escape

from core.i18n_content import default_locale

DICTIONARIES = {"en": "english", "fr": "french"}
START, STOP = "\x02", "\x03"
MAX_TERMS = 12
_WORD = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True)
class Hit:
    kind: str  # "article" | "faq"
    id: int
    locale: str  # the language of the text that matched
    title: str  # an article's title or a FAQ question
    snippet_html: str  # escaped text with <mark>…</mark> around the matched words
    score: float


def dictionary(locale: str) -> str:
    """The PostgreSQL text search configuration for a locale: en -> english, fr -> french, else simple."""
    return DICTIONARIES.get(language(locale), "simple")


def language(locale: str | None) -> str:
    return (locale or default_locale()).replace("-", "_").partition("_")[0].lower()


def fold(text: str) -> str:
    """Accents removed character by character (same length, so positions match the original)."""
    out = []
    for ch in text:
        base = "".join(c for c in unicodedata.normalize("NFD", ch) if not unicodedata.combining(c))
        out.append(base if len(base) == 1 else ch)
    return "".join(out)


def terms(query: str) -> list[str]:
    """The words of a user's query, without any search syntax."""
    return _WORD.findall(query or "")[:MAX_TERMS]


def snippet_html(marked: str) -> str:
    """Escape a snippet whose matches are wrapped in marker characters, then turn the markers into <mark>."""
    return str(escape(marked)).replace(START, "<mark>").replace(STOP, "</mark>")


def _clean(text: str | None) -> str:
    return (text or "").replace(START, "").replace(STOP, "")


def _is_sqlite(session) -> bool:
    return session.get_bind().dialect.name == "sqlite"


# --- indexing ---------------------------------------------------------------------------------------------

def _tag_text(tags) -> str:
    names = [t.name for t in tags or ()]
    return " ".join(names + [n.replace("-", " ") for n in names if "-" in n])


def _write(session, kind: str, ref_id: int, rows: list[dict]) -> None:
    table = "knowledge_fts" if _is_sqlite(session) else "knowledge_fts"
    session.execute(sa.text(f"DELETE FROM {table} WHERE kind = :kind AND ref_id = :ref_id"), {"kind": kind, "ref_id": ref_id})
    for row in rows:
        params = {"kind": kind, "ref_id": ref_id, **{k: _clean(v) for k, v in row.items()}}
        if _is_sqlite(session):
            session.execute(sa.text(
                "INSERT INTO knowledge_fts (kind, ref_id, locale, title, body, tags) "
                "VALUES (:kind, :ref_id, :locale, :title, :body, :tags)"), params)
        else:
            params.update(config=dictionary(row["locale"]), ftitle=fold(params["title"]), fbody=fold(params["body"]),
                          ftags=fold(params["tags"]))
            session.execute(sa.text(
                "INSERT INTO knowledge_fts (kind, ref_id, locale, title, body, body_folded, tags, document) "
                "VALUES (:kind, :ref_id, :locale, :title, :body, :fbody, :tags, "
                "setweight(to_tsvector(CAST(:config AS regconfig), :ftitle), 'A') || "
                "setweight(to_tsvector(CAST(:config AS regconfig), :ftags), 'B') || "
                "setweight(to_tsvector(CAST(:config AS regconfig), :fbody), 'C'))"), params)


def index_article(session, article) -> None:
    """(Re)index an article's texts; call after every change (no commit)."""
    session.flush()
    rows = []
    if article.status == "published":
        tags = _tag_text(article.tags)
        for text in article.texts:
            body = "\n".join(part for part in (text.summary, text.body) if part)
            rows.append({"locale": language(text.locale), "title": text.title, "body": body, "tags": tags})
    _write(session, "article", article.id, rows)


def index_faq(session, faq) -> None:
    """(Re)index a FAQ entry's texts; call after every change (no commit)."""
    session.flush()
    rows = []
    if faq.status == "published":
        rows = [{"locale": language(t.locale), "title": t.question, "body": t.answer, "tags": ""} for t in faq.texts]
    _write(session, "faq", faq.id, rows)


# --- searching --------------------------------------------------------------------------------------------

def _entry_filter(table: str, audience: str, kinds, service_code, tags) -> tuple[str, dict]:
    """SQL keeping index rows whose entry is published (and public, and of the service/tags, when asked)."""
    params: dict = {}
    audience_sql = " AND e.audience = 'public'" if audience != "all" else ""
    article = (f"({table}.kind = 'article' AND EXISTS (SELECT 1 FROM knowledge_article e WHERE e.id = {table}.ref_id "
               f"AND e.status = 'published'{audience_sql}")
    if service_code:
        article += (" AND EXISTS (SELECT 1 FROM knowledge_article_service s JOIN service_type st ON st.id = s.service_type_id "
                    "WHERE s.article_id = e.id AND st.code = :service_code)")
        params["service_code"] = service_code
    for i, tag in enumerate(tags or ()):
        article += (f" AND EXISTS (SELECT 1 FROM knowledge_article_tag kat JOIN tag t ON t.id = kat.tag_id "
                    f"WHERE kat.article_id = e.id AND t.name = :tag{i})")
        params[f"tag{i}"] = tag
    article += "))"
    faq = (f"({table}.kind = 'faq' AND EXISTS (SELECT 1 FROM knowledge_faq e WHERE e.id = {table}.ref_id "
           f"AND e.status = 'published'{audience_sql}))")
    parts = []
    if "article" in kinds:
        parts.append(article)
    if "faq" in kinds and not service_code and not tags:
        parts.append(faq)
    return ("(" + " OR ".join(parts) + ")" if parts else "1 = 0"), params


def search(session, query: str, locale: str, *, audience: str = "public", kinds: tuple[str, ...] = ("article", "faq"),
           service_code: str | None = None, tags: list[str] | None = None, limit: int = 20, offset: int = 0) -> list[Hit]:
    """Published entries matching ``query``, best first.  ``audience``: "public" (residents) or "all" (staff).

    Every word must match (stemmed, accents ignored).  Entries without a text in ``locale`` are searched
    in the city's default language."""
    words = terms(query)
    if not words:
        return []
    from core.models import normalise_tag

    wanted_tags = [normalise_tag(t) for t in tags or ()]
    if not all(wanted_tags):  # a tag that cannot exist matches nothing
        return []
    tags = wanted_tags
    wanted, default = language(locale), language(default_locale())
    limit, offset = max(0, min(int(limit), 100)), max(0, int(offset))
    if _is_sqlite(session):
        return _search_sqlite(session, words, wanted, default, audience, kinds, service_code, tags, limit, offset)
    return _search_postgresql(session, words, wanted, default, audience, kinds, service_code, tags, limit, offset)


def _search_sqlite(session, words, wanted, default, audience, kinds, service_code, tags, limit, offset) -> list[Hit]:
    match = " ".join('"' + w.replace('"', "") + '"' for w in words)
    where, params = _entry_filter("knowledge_fts", audience, kinds, service_code, tags)
    languages = "knowledge_fts.locale = :wanted"
    if wanted != default:
        languages = ("(knowledge_fts.locale = :wanted OR (knowledge_fts.locale = :default AND NOT EXISTS ("
                     "SELECT 1 FROM knowledge_fts other WHERE other.kind = knowledge_fts.kind "
                     "AND other.ref_id = knowledge_fts.ref_id AND other.locale = :wanted)))")
    sql = sa.text(
        "SELECT kind, ref_id, locale, title, "
        f"snippet(knowledge_fts, 4, '{START}', '{STOP}', '…', 24) AS snippet, "
        "bm25(knowledge_fts, 0, 0, 0, 10.0, 1.0, 4.0) AS score "
        f"FROM knowledge_fts WHERE knowledge_fts MATCH :match AND {languages} AND {where} "
        "ORDER BY score, ref_id LIMIT :limit OFFSET :offset")
    rows = session.execute(sql, {"match": match, "wanted": wanted, "default": default, "limit": limit,
                                 "offset": offset, **params})
    return [Hit(r.kind, int(r.ref_id), r.locale, r.title, snippet_html(r.snippet or ""), -float(r.score)) for r in rows]


def _search_postgresql(session, words, wanted, default, audience, kinds, service_code, tags, limit, offset) -> list[Hit]:
    text = fold(" ".join(words))
    where, params = _entry_filter("s", audience, kinds, service_code, tags)
    match = "(s.locale = :wanted AND s.document @@ plainto_tsquery(CAST(:wanted_config AS regconfig), :q))"
    if wanted != default:
        match = (f"({match} OR (s.locale = :default "
                 "AND s.document @@ plainto_tsquery(CAST(:default_config AS regconfig), :q) AND NOT EXISTS ("
                 "SELECT 1 FROM knowledge_fts other WHERE other.kind = s.kind AND other.ref_id = s.ref_id "
                 "AND other.locale = :wanted)))")
    headline_options = f"StartSel={START}, StopSel={STOP}, MaxWords=35, MinWords=15"
    sql = sa.text(
        "SELECT kind, ref_id, locale, title, body, rank, "
        "ts_headline(CAST(config AS regconfig), CASE WHEN body_folded = '' THEN title ELSE body_folded END, "
        "plainto_tsquery(CAST(config AS regconfig), :q), :options) AS snippet "
        "FROM (SELECT s.kind, s.ref_id, s.locale, s.title, s.body, s.body_folded, "
        "CASE WHEN s.locale = :wanted THEN :wanted_config ELSE :default_config END AS config, "
        "ts_rank(s.document, plainto_tsquery(CAST(CASE WHEN s.locale = :wanted THEN :wanted_config "
        "ELSE :default_config END AS regconfig), :q)) AS rank "
        f"FROM knowledge_fts s WHERE {match} AND {where} "
        "ORDER BY rank DESC, s.ref_id LIMIT :limit OFFSET :offset) AS found ORDER BY rank DESC, ref_id")
    rows = session.execute(sql, {"q": text, "wanted": wanted, "default": default, "wanted_config": dictionary(wanted),
                                 "default_config": dictionary(default), "options": headline_options,
                                 "limit": limit, "offset": offset, **params})
    hits = []
    for r in rows:
        source = r.body if r.body else r.title
        hits.append(Hit(r.kind, int(r.ref_id), r.locale, r.title, snippet_html(_unfold(r.snippet or "", source)),
                        float(r.rank)))
    return hits


def _unfold(marked: str, original: str) -> str:
    """Put the accents back into a headline made from folded text: find the fragment in the folded original
    and copy the original's characters, keeping the markers where they were."""
    plain = marked.replace(START, "").replace(STOP, "")
    at = fold(original).find(plain)
    if at < 0:
        return marked
    out, i = [], at
    for ch in marked:
        if ch in (START, STOP):
            out.append(ch)
        else:
            out.append(original[i])
            i += 1
    return "".join(out)
