"""Read-only JSON API of the public knowledge base (``/knowledge/api/v1``), in the spirit of Open311 Inquiry.

Only published, public entries; no personal data (no authors, no counts of views).  Texts come in the
request's language or ``?locale=``; when an entry has no text in that language, the city's default
language is used and ``fallback`` is true.  Bad parameters answer 400 with ``{"error": {"field", "message"}}``.
"""
from __future__ import annotations

from flask import Blueprint, abort, current_app, jsonify, request, url_for
from flask_babel import gettext
from sqlalchemy import func, select
from werkzeug.exceptions import HTTPException

from core.extensions import db
from core.i18n_content import current_locale, default_locale, pick
from core.models import ServiceType, Tag, normalise_tag
from plugins.knowledge.models import Article, Faq, Topic, article_service, article_tag
from plugins.knowledge.search import language, search

PER_PAGE = 20
MAX_PAGE = 10_000

api = Blueprint("knowledge_api", __name__, url_prefix="/knowledge/api/v1")


class BadParameter(Exception):
    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field, self.message = field, message


@api.errorhandler(BadParameter)
def _bad_parameter(error: BadParameter):
    return jsonify(error={"field": error.field, "message": error.message}), 400


@api.errorhandler(HTTPException)
def _http_error(error: HTTPException):
    return jsonify(error={"field": None, "message": error.description}), error.code


def _page() -> int:
    raw = request.args.get("page", "1")
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_PAGE:
        raise BadParameter("page", gettext("page must be a whole number from 1 to %(max)s", max=MAX_PAGE))
    return int(raw)


def _locale() -> str:
    raw = request.args.get("locale")
    if raw is None:
        return language(current_locale())
    locales = [language(loc) for loc in current_app.extensions["civic"].config.city["locales"]]
    if language(raw) not in locales:
        raise BadParameter("locale", gettext("locale must be one of: %(choices)s", choices=", ".join(locales)))
    return language(raw)


def _text(entry, locale: str):
    """The entry's text in ``locale``, else in the default language, else any; and whether it fell back."""
    texts = {language(t.locale): t for t in entry.texts}
    for candidate in (locale, language(default_locale())):
        if candidate in texts:
            return texts[candidate], candidate != locale
    first = next(iter(texts.values()), None)
    return first, True


def _topic(topic: Topic | None, locale: str):
    if topic is None:
        return None
    names = {k: v.get("name") for k, v in (topic.translations or {}).items() if isinstance(v, dict)}
    return {"code": topic.code, "name": pick(topic.name, names, locale)}


def _article_summary(article: Article, locale: str) -> dict:
    text, fallback = _text(article, locale)
    return {
        "slug": article.slug,
        "title": text.title if text else article.slug,
        "summary": text.summary if text else "",
        "locale": language(text.locale) if text else None,
        "fallback": fallback,
        "topic": _topic(article.topic, locale),
        "services": sorted(s.code for s in article.services),
        "tags": [t.name for t in article.tags],
        "updated_at": (article.published_at or article.updated_at).isoformat() + "Z",
        "url": url_for("knowledge_api.article", slug=article.slug, _external=True),
    }


def _public(model):
    return select(model).where(model.status == "published", model.audience == "public")


def _paged(query, page: int) -> tuple[list, dict]:
    total = db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    rows = db.session.scalars(query.limit(PER_PAGE).offset((page - 1) * PER_PAGE)).all()
    return rows, {"page": page, "per_page": PER_PAGE, "total": total, "has_next": page * PER_PAGE < total}


def _topic_filter(query, model):
    code = request.args.get("topic")
    if code:
        topic = db.session.scalar(select(Topic).where(Topic.code == code))
        if topic is None:
            raise BadParameter("topic", gettext("unknown topic '%(code)s'", code=code))
        query = query.where(model.topic_id == topic.id)
    return query


@api.get("/articles.json")
def articles():
    """Public articles, newest first; ``topic``, ``service``, ``tag`` filters; ``page``."""
    page, locale = _page(), _locale()
    query = _topic_filter(_public(Article), Article)
    service = request.args.get("service")
    if service:
        service_id = db.session.scalar(select(ServiceType.id).where(ServiceType.code == service))
        if service_id is None:
            raise BadParameter("service", gettext("unknown service '%(code)s'", code=service))
        query = query.where(Article.id.in_(select(article_service.c.article_id).where(article_service.c.service_type_id == service_id)))
    tag = request.args.get("tag")
    if tag is not None:
        tag_ids = select(Tag.id).where(Tag.name == normalise_tag(tag))
        query = query.where(Article.id.in_(select(article_tag.c.article_id).where(article_tag.c.tag_id.in_(tag_ids))))
    rows, paging = _paged(query.order_by(Article.published_at.desc(), Article.id.desc()), page)
    return jsonify(articles=[_article_summary(a, locale) for a in rows], locale=locale, **paging)


@api.get("/articles/<slug>.json")
def article(slug: str):
    """One public article with its sanitised HTML body."""
    locale = _locale()
    found = db.session.scalar(_public(Article).where(Article.slug == slug))
    if found is None:
        abort(404, description=gettext("No public article is called '%(slug)s'.", slug=slug))
    text, _fallback = _text(found, locale)
    return jsonify(article={**_article_summary(found, locale), "body_html": text.body_html if text else ""})


@api.get("/faq.json")
def faq():
    """Public FAQ entries by topic and position; ``topic`` filter; ``page``."""
    page, locale = _page(), _locale()
    query = _topic_filter(_public(Faq), Faq).order_by(Faq.topic_id, Faq.position, Faq.id)
    rows, paging = _paged(query, page)
    entries = []
    for entry in rows:
        text, fallback = _text(entry, locale)
        entries.append({
            "id": entry.id,
            "question": text.question if text else "",
            "answer_html": text.answer_html if text else "",
            "locale": language(text.locale) if text else None,
            "fallback": fallback,
            "topic": _topic(entry.topic, locale),
        })
    return jsonify(faq=entries, locale=locale, **paging)


@api.get("/search.json")
def search_json():
    """Full-text search over public articles and FAQ: ``q`` (required), ``service``, ``tag``, ``page``."""
    page, locale = _page(), _locale()
    q = (request.args.get("q") or "").strip()
    if not q:
        raise BadParameter("q", gettext("q is required: the words to search for"))
    if len(q) > 200:
        raise BadParameter("q", gettext("q must be at most %(max)s characters", max=200))
    tag, service = request.args.get("tag"), request.args.get("service") or None
    if service and db.session.scalar(select(ServiceType.id).where(ServiceType.code == service)) is None:
        raise BadParameter("service", gettext("unknown service '%(code)s'", code=service))
    hits = search(db.session, q, locale, audience="public", service_code=service,
                  tags=[tag] if tag else None, limit=PER_PAGE + 1, offset=(page - 1) * PER_PAGE)
    slugs = dict(db.session.execute(select(Article.id, Article.slug).where(
        Article.id.in_([h.id for h in hits if h.kind == "article"]))).all())
    results = []
    for hit in hits[:PER_PAGE]:
        result = {"kind": hit.kind, "title": hit.title, "snippet_html": hit.snippet_html, "locale": hit.locale,
                  "score": round(hit.score, 6)}
        if hit.kind == "article":
            result.update(slug=slugs.get(hit.id), url=url_for("knowledge_api.article", slug=slugs.get(hit.id), _external=True))
        else:
            result["id"] = hit.id
        results.append(result)
    return jsonify(query=q, results=results, locale=locale, page=page, per_page=PER_PAGE, has_next=len(hits) > PER_PAGE)


def blueprints() -> list[Blueprint]:
    """The API and the staff tag page."""
    from plugins.knowledge.tags import tags

    return [api, tags]
