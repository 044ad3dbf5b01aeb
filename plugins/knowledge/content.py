"""The knowledge base's service layer: articles and FAQ, their texts per language, the status workflow,
published versions (history and restore), and who may edit or publish.

Every published state of an article (a publish, a save while published, a restore while published) is kept
as an ``ArticleVersion``, so the previous published state is always in the history.  Nothing here commits:
the caller does.
"""
from __future__ import annotations

import re
from datetime import date

import markdown
import nh3
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.orm import object_session

from core.models import Department, ServiceType, Tag, normalise_tag
from core.models.base import utcnow
from plugins.knowledge import search
from plugins.knowledge.models import AUDIENCES, STATUSES, Article, ArticleText, ArticleVersion, Faq, FaqText, Topic

FORM_LOCALES = ("en", "fr")  # the languages edited side by side (the city's default first)
DEFAULT_LOCALE = "en"
STATUS_LABELS = {"draft": _l("Draft"), "in_review": _l("In review"), "published": _l("Published"), "archived": _l("Archived")}
TRANSITIONS = {
    "draft": ("in_review",),
    "in_review": ("published", "draft"),
    "published": ("archived", "draft"),
    "archived": ("draft",),
}
MAX_TITLE, MAX_SUMMARY, MAX_BODY, MAX_QUESTION = 200, 500, 50_000, 500
SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
ALLOWED_TAGS = {
    "p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "strong", "em", "b", "i", "code", "pre", "blockquote",
    "ul", "ol", "li", "a", "table", "thead", "tbody", "tr", "th", "td",
}


class ContentError(Exception):
    """Refused content: ``errors`` maps a field to its messages."""

    def __init__(self, errors: dict[str, list[str]]):
        super().__init__("; ".join(f"{field}: {' '.join(messages)}" for field, messages in errors.items()))
        self.errors = errors


def render_markdown(text: str) -> str:
    """Markdown to sanitised HTML: raw HTML and scripts are dropped, links keep only http(s), mailto and tel."""
    html = markdown.markdown(text or "", extensions=["tables", "sane_lists"])
    return nh3.clean(html, tags=ALLOWED_TAGS, attributes={"a": {"href", "title"}},
                     url_schemes={"http", "https", "mailto", "tel"}, link_rel="noopener noreferrer")


# ---------------------------------------------------------------- who may do what

def _roles(user) -> set[str]:
    return {r.name for r in getattr(user, "roles", ())} if user is not None else set()


def _department_ids(user) -> set[int]:
    from core.models import department_staff
    from core.extensions import db

    if user is None or getattr(user, "id", None) is None:
        return set()
    return set(db.session.scalars(select(department_staff.c.department_id).where(department_staff.c.user_id == user.id)))


def may_edit(user, department_id: int | None) -> bool:
    """Admins and knowledge editors write any article; department staff write their departments' articles."""
    roles = _roles(user)
    if roles & {"Admin", "Knowledge editor", "Knowledge reviewer"}:
        return True
    return department_id is not None and department_id in _department_ids(user)


def may_publish(user, department_id: int | None) -> bool:
    """Admins publish anything; a knowledge reviewer publishes the articles owned by their departments."""
    roles = _roles(user)
    if "Admin" in roles:
        return True
    return "Knowledge reviewer" in roles and department_id is not None and department_id in _department_ids(user)


# ---------------------------------------------------------------- articles

def text_for(article: Article, locale: str) -> tuple[ArticleText | None, bool]:
    """The article's text in ``locale``, else in the default language: (text, fell_back)."""
    texts = {t.locale: t for t in article.texts}
    if locale in texts:
        return texts[locale], False
    fallback = texts.get(DEFAULT_LOCALE) or next(iter(texts.values()), None)
    return fallback, True


def text_for_rows(texts, locale: str, attr: str) -> tuple[str | None, bool]:
    """One field of a list of text rows (``article.texts``) in ``locale`` or the default language: (value, fell_back)."""
    by_locale = {t.locale: t for t in texts or ()}
    row = by_locale.get(locale)
    if row is not None:
        return getattr(row, attr), False
    row = by_locale.get(DEFAULT_LOCALE) or next(iter(by_locale.values()), None)
    return (getattr(row, attr) if row is not None else None), True


def _check_texts(texts: dict[str, dict], question: bool = False) -> dict[str, dict]:
    """Strip and check the texts per language; a language whose title is empty is left out (falls back)."""
    errors: dict[str, list[str]] = {}
    clean: dict[str, dict] = {}
    head, limit = ("question", MAX_QUESTION) if question else ("title", MAX_TITLE)
    for locale, fields in (texts or {}).items():
        if locale not in FORM_LOCALES:
            errors.setdefault("locale", []).append(gettext("unknown language '%(locale)s'", locale=locale))
            continue
        values = {k: (v or "").strip() for k, v in (fields or {}).items()}
        if not values.get(head):
            if any(values.values()) or locale == DEFAULT_LOCALE:
                errors.setdefault(f"{head}_{locale}", []).append(gettext("required"))
            continue
        limits = {head: limit, "summary": MAX_SUMMARY, "body": MAX_BODY, "answer": MAX_BODY}
        for name, value in values.items():
            if name in limits and len(value) > limits[name]:
                errors.setdefault(f"{name}_{locale}", []).append(gettext("at most %(max)s characters", max=limits[name]))
        clean[locale] = values
    if DEFAULT_LOCALE not in clean and f"{head}_{DEFAULT_LOCALE}" not in errors:
        errors.setdefault(f"{head}_{DEFAULT_LOCALE}", []).append(gettext("required"))
    if errors:
        raise ContentError(errors)
    return clean


def _drop_text(owner, row) -> None:
    """Remove a language's text (the relationship does not delete orphans by itself)."""
    owner.texts.remove(row)
    session = object_session(row)
    if session is not None and row.id is not None:
        session.delete(row)


def set_article_texts(article: Article, texts: dict[str, dict]) -> None:
    """Replace the article's texts: ``{"en": {"title", "summary", "body"}, "fr": {...}}``."""
    clean = _check_texts(texts)
    current = {t.locale: t for t in article.texts}
    for locale, old in current.items():
        if locale not in clean:
            _drop_text(article, old)
    for locale, values in clean.items():
        row = current.get(locale) or ArticleText(locale=locale)
        row.title, row.summary, row.body = values["title"], values.get("summary", ""), values.get("body", "")
        row.body_html = render_markdown(row.body)
        if locale not in current:
            article.texts.append(row)


def check_meta(slug: str, audience: str) -> None:
    errors: dict[str, list[str]] = {}
    if not SLUG.match(slug or "") or len(slug) > 120:
        errors["slug"] = [gettext("lower-case letters, digits and dashes only (such as hurricane-debris)")]
    if audience not in AUDIENCES:
        errors["audience"] = [gettext("must be public or internal")]
    if errors:
        raise ContentError(errors)


def tags_named(session, names) -> list[Tag]:
    """The tags of these names, created when new (normalised like case tags)."""
    out = []
    for name in dict.fromkeys(normalise_tag(n) for n in names if normalise_tag(n)):
        tag = session.scalar(select(Tag).where(Tag.name == name))
        if tag is None:
            tag = Tag(name=name)
            session.add(tag)
        out.append(tag)
    return out


def create_article(session, *, slug: str, texts: dict[str, dict], audience: str = "public", topic: Topic | None = None,
                   department: Department | None = None, services=(), tags=(), review_by: date | None = None,
                   user=None) -> Article:
    """A new draft article."""
    check_meta(slug, audience)
    if session.scalar(select(Article.id).where(Article.slug == slug)) is not None:
        raise ContentError({"slug": [gettext("an article already has this address")]})
    article = Article(slug=slug, audience=audience, status="draft", topic=topic, owner_department=department,
                      review_by=review_by, services=list(services), tags=tags_named(session, tags),
                      created_by_id=getattr(user, "id", None), updated_by_id=getattr(user, "id", None))
    set_article_texts(article, texts)
    session.add(article)
    session.flush()
    search.index_article(session, article)
    return article


def article_changed(session, article: Article, user=None) -> None:
    """After an edit: stamp it, keep the new published state as a version, reindex."""
    article.updated_at = utcnow()
    article.updated_by_id = getattr(user, "id", None)
    session.flush()
    if article.status == "published" and not same_as_latest(session, article):
        record_version(session, article, user)
    search.index_article(session, article)


def same_as_latest(session, article: Article) -> bool:
    """Whether the article's current state is already its latest version (an edit that changed nothing)."""
    latest = session.scalar(select(ArticleVersion).where(ArticleVersion.article_id == article.id)
                            .order_by(ArticleVersion.number.desc()).limit(1))
    if latest is None:
        return False
    texts, meta = snapshot(article)
    return latest.texts == texts and {k: v for k, v in (latest.meta or {}).items() if k in meta} == meta


def change_status(session, article: Article, to: str, user=None) -> Article:
    """Move an article along draft -> in_review -> published -> archived (and back to draft)."""
    if to not in STATUSES:
        raise ContentError({"status": [gettext("unknown status '%(status)s'", status=to)]})
    if to not in TRANSITIONS[article.status]:
        raise ContentError({"status": [gettext("cannot go from %(current)s to %(status)s", current=STATUS_LABELS[article.status], status=STATUS_LABELS[to])]})
    if to == "published" and not may_publish(user, article.owner_department_id):
        raise ContentError({"status": [gettext("only a reviewer of the owning department may publish this article")]})
    article.status = to
    article.updated_at = utcnow()
    article.updated_by_id = getattr(user, "id", None)
    if to == "published":
        article.published_at = utcnow()
        session.flush()
        record_version(session, article, user)
    session.flush()
    search.index_article(session, article)
    return article


def snapshot(article: Article) -> tuple[dict, dict]:
    texts = {t.locale: {"title": t.title, "summary": t.summary, "body": t.body} for t in article.texts}
    meta = {
        "audience": article.audience, "topic": article.topic.code if article.topic else None,
        "services": [s.code for s in article.services], "tags": [t.name for t in article.tags],
        "review_by": article.review_by.isoformat() if article.review_by else None,
    }
    return texts, meta


def record_version(session, article: Article, user=None, **extra_meta) -> ArticleVersion:
    """Keep the article's current state as its next numbered version."""
    number = (session.scalar(select(func.max(ArticleVersion.number)).where(ArticleVersion.article_id == article.id)) or 0) + 1
    texts, meta = snapshot(article)
    version = ArticleVersion(article_id=article.id, number=number, texts=texts, meta={**meta, **extra_meta},
                             author_id=getattr(user, "id", None), created_at=utcnow())
    session.add(version)
    session.flush()
    return version


def history(session, article: Article) -> list[ArticleVersion]:
    """The article's published states, newest first."""
    return list(session.scalars(select(ArticleVersion).where(ArticleVersion.article_id == article.id)
                                .order_by(ArticleVersion.number.desc())))


def restore_version(session, article: Article, number: int, user=None) -> Article:
    """Put an old version's texts and metadata back; a published article records the result as a new version."""
    version = session.scalar(select(ArticleVersion).where(ArticleVersion.article_id == article.id,
                                                          ArticleVersion.number == number))
    if version is None:
        raise ContentError({"version": [gettext("no version %(number)s of this article", number=number)]})
    set_article_texts(article, version.texts)
    meta = version.meta or {}
    article.audience = meta.get("audience", article.audience)
    code = meta.get("topic")
    article.topic = session.scalar(select(Topic).where(Topic.code == code)) if code else None
    article.services = list(session.scalars(select(ServiceType).where(ServiceType.code.in_(meta.get("services", [])))))
    article.tags = tags_named(session, meta.get("tags", []))
    article.review_by = date.fromisoformat(meta["review_by"]) if meta.get("review_by") else None
    article.updated_at = utcnow()
    article.updated_by_id = getattr(user, "id", None)
    session.flush()
    if article.status == "published":
        record_version(session, article, user, restored_from=number)
    search.index_article(session, article)
    return article


# ---------------------------------------------------------------- FAQ

def set_faq_texts(faq: Faq, texts: dict[str, dict]) -> None:
    """Replace the entry's texts: ``{"en": {"question", "answer"}, "fr": {...}}``."""
    clean = _check_texts(texts, question=True)
    current = {t.locale: t for t in faq.texts}
    for locale, old in current.items():
        if locale not in clean:
            _drop_text(faq, old)
    for locale, values in clean.items():
        row = current.get(locale) or FaqText(locale=locale)
        row.question, row.answer = values["question"], values.get("answer", "")
        row.answer_html = render_markdown(row.answer)
        if locale not in current:
            faq.texts.append(row)


def create_faq(session, *, texts: dict[str, dict], topic: Topic | None = None, audience: str = "public",
               department: Department | None = None, position: int = 0) -> Faq:
    if audience not in AUDIENCES:
        raise ContentError({"audience": [gettext("must be public or internal")]})
    faq = Faq(topic=topic, audience=audience, status="draft", position=position,
              owner_department_id=department.id if department else None)
    set_faq_texts(faq, texts)
    session.add(faq)
    session.flush()
    search.index_faq(session, faq)
    return faq


def faq_changed(session, faq: Faq) -> None:
    faq.updated_at = utcnow()
    session.flush()
    search.index_faq(session, faq)


def change_faq_status(session, faq: Faq, to: str, user=None) -> Faq:
    """The same workflow as articles."""
    if to not in STATUSES:
        raise ContentError({"status": [gettext("unknown status '%(status)s'", status=to)]})
    if to not in TRANSITIONS[faq.status]:
        raise ContentError({"status": [gettext("cannot go from %(current)s to %(status)s", current=STATUS_LABELS[faq.status], status=STATUS_LABELS[to])]})
    if to == "published" and not may_publish(user, faq.owner_department_id):
        raise ContentError({"status": [gettext("only a reviewer of the owning department may publish this entry")]})
    faq.status = to
    faq_changed(session, faq)
    return faq


def faq_text_for(faq: Faq, locale: str) -> tuple[FaqText | None, bool]:
    texts = {t.locale: t for t in faq.texts}
    if locale in texts:
        return texts[locale], False
    return texts.get(DEFAULT_LOCALE) or next(iter(texts.values()), None), True
