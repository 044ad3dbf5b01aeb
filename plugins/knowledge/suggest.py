"""Which published articles may answer a request: by service, tags and the words typed (``search.search``).

Used by the agent's desk (case page, phone desk) and by the resident report form through the
``suggest_articles`` hook.  Residents (audience "public") never get an internal article."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import exists, literal_column, or_, select
from sqlalchemy.orm import joinedload, lazyload

from core.i18n_content import default_locale
from core.models import ServiceType, Tag, normalise_tag
from plugins.knowledge import search
from plugins.knowledge.models import Article, ArticleText, article_service, article_tag

SERVICE_WEIGHT, TAG_WEIGHT, TEXT_WEIGHT = 3.0, 2.0, 4.0  # what the person typed counts most


@dataclass(frozen=True)
class Match:
    article: Article
    text: ArticleText
    translated: bool  # False: shown in another language than the reader's


def text_for(article: Article, locale: str) -> tuple[ArticleText | None, bool]:
    """The article's text in ``locale``, else the city's default language, else any; and whether it was ``locale``."""
    by_locale = {t.locale: t for t in article.texts}
    if locale in by_locale:
        return by_locale[locale], True
    fallback = by_locale.get(default_locale()) or next(iter(sorted(by_locale.items())), (None, None))[1]
    return fallback, False


def _visible(audience: str):
    clause = Article.status == "published"
    return clause & (Article.audience == "public") if audience == "public" else clause


def suggestions(session, service_code: str | None, text: str, tags: list[str] | None, locale: str,
                audience: str = "public", limit: int = 5) -> list[Match]:
    """Published articles for the service, tags and text, best first (public only unless ``audience`` is "all")."""
    audience = "all" if audience == "all" else "public"
    # The text search first, then the articles it found or that belong to the service or tags, with their
    # texts, in one more statement (the staff case page shows this panel).
    scores: dict[int, float] = {}
    words = (text or "").strip()[:200]
    if words:
        for hit in search.search(session, words, locale, audience=audience, kinds=("article",), limit=limit * 2):
            scores[hit.id] = scores.get(hit.id, 0.0) + TEXT_WEIGHT + max(hit.score, 0.0)
    wanted = [Article.id.in_(list(scores))] if scores else []
    by_service = by_tag = literal_column("0")
    if service_code:
        by_service = exists().where(
            article_service.c.article_id == Article.id, article_service.c.service_type_id == ServiceType.id, ServiceType.code == service_code
        )
        wanted.append(by_service)
    names = [normalise_tag(n) for n in (tags or []) if n and n.strip()]
    if names:
        by_tag = exists().where(article_tag.c.article_id == Article.id, article_tag.c.tag_id == Tag.id, Tag.name.in_(names))
        wanted.append(by_tag)
    if not wanted:
        return []
    rows = session.execute(
        select(Article, by_service, by_tag).where(or_(*wanted), _visible(audience))
        .options(joinedload(Article.texts), lazyload(Article.services), lazyload(Article.tags))
    ).unique().all()
    articles = []
    for article, service_match, tag_match in rows:
        scores[article.id] = scores.get(article.id, 0.0) + (SERVICE_WEIGHT if service_match else 0.0) + (TAG_WEIGHT if tag_match else 0.0)
        articles.append(article)
    out = []
    for article in sorted(articles, key=lambda a: (-scores[a.id], -a.id)):
        chosen, translated = text_for(article, locale)
        if chosen is not None:
            out.append(Match(article, chosen, translated))
    return out[:limit]
