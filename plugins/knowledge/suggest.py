"""Which published articles may answer a request: by service, tags and the words typed (``search.search``).

Used by the agent's desk (case page, phone desk) and by the resident report form through the
``suggest_articles`` hook.  Residents (audience "public") never get an internal article."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

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
    scores: dict[int, float] = {}
    if service_code:
        ids = session.scalars(
            select(article_service.c.article_id).join(ServiceType, ServiceType.id == article_service.c.service_type_id)
            .where(ServiceType.code == service_code)
        )
        for article_id in ids:
            scores[article_id] = scores.get(article_id, 0.0) + SERVICE_WEIGHT
    names = [normalise_tag(n) for n in (tags or []) if n and n.strip()]
    if names:
        ids = session.scalars(
            select(article_tag.c.article_id).join(Tag, Tag.id == article_tag.c.tag_id).where(Tag.name.in_(names))
        )
        for article_id in ids:
            scores[article_id] = scores.get(article_id, 0.0) + TAG_WEIGHT
    words = (text or "").strip()[:200]
    if words:
        for hit in search.search(session, words, locale, audience=audience, kinds=("article",), limit=limit * 2):
            scores[hit.id] = scores.get(hit.id, 0.0) + TEXT_WEIGHT + max(hit.score, 0.0)
    if not scores:
        return []
    articles = session.scalars(select(Article).where(Article.id.in_(list(scores)), _visible(audience))).all()
    out = []
    for article in sorted(articles, key=lambda a: (-scores[a.id], -a.id)):
        chosen, translated = text_for(article, locale)
        if chosen is not None:
            out.append(Match(article, chosen, translated))
    return out[:limit]
