"""What the knowledge base gives reports: what residents and agents did with the articles.

The rows are ``KnowledgeEvent`` rows of articles (plugins/knowledge/measures.py): a view (once a day per
visitor), a helpful or not-helpful vote (one per visitor), a deflection (read from the report form, and no
report sent within half an hour) and a sending to a resident by an agent.  Each department reports on the
articles it owns; admins, dispatchers and knowledge editors on every article.
"""
from __future__ import annotations

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import Float, case, cast, false, func, select

from core.i18n_content import current_locale
from core.models import Department
from core.reports.cases import catalog_choices, catalog_labels, code_in, fixed_choices, fixed_labels
from core.reports.subjects import Dimension, Filter, Measure, Subject
from core.security import role_names, sees_all_cases, user_department_ids
from plugins.knowledge.content import DEFAULT_LOCALE, STATUS_LABELS
from plugins.knowledge.models import Article, ArticleText, KnowledgeEvent, Topic

# Who reports on every article, whichever department owns it.
ALL_ARTICLES_ROLES = frozenset({"Admin", "Dispatcher", "Knowledge editor", "Knowledge reviewer"})
KIND_LABELS = {
    "view": _l("View"),
    "helpful": _l("Helpful vote"),
    "not_helpful": _l("Not helpful vote"),
    "deflected": _l("Deflection"),
    "sent": _l("Sent to a resident"),
}
AUDIENCE_LABELS = {"public": _l("Public"), "internal": _l("Internal (staff only)")}  # as the article screens


def may_report_articles(user) -> bool:
    """Admins, dispatchers, knowledge editors, and whoever may read the knowledge measures (department staff)."""
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    if sees_all_cases(user) or role_names(user) & ALL_ARTICLES_ROLES:
        return True
    return bool(current_app.appbuilder.sm._has_view_access(user, "can_measures", "KnowledgeMeasuresView"))


def article_scope(user):
    """Every article for the roles above; the articles of their own departments for everyone else."""
    if user is None or not getattr(user, "is_authenticated", False):
        return false()
    if role_names(user) & ALL_ARTICLES_ROLES:
        return None
    return Article.owner_department_id.in_(user_department_ids(user))


def article_labels(session, ids):
    """Article ids to their titles in the reader's language (else the default language's, else the slug)."""
    if not ids:
        return {}
    titles: dict[int, dict[str, str]] = {}
    for article_id, locale, title in session.execute(
            select(ArticleText.article_id, ArticleText.locale, ArticleText.title).where(ArticleText.article_id.in_(ids))):
        titles.setdefault(article_id, {})[locale] = title
    slugs = dict(session.execute(select(Article.id, Article.slug).where(Article.id.in_(ids))).all())
    locale = current_locale()
    out = {}
    for article_id in ids:
        texts = titles.get(article_id, {})
        title = texts.get(locale) or texts.get(locale.split("_")[0]) or texts.get(DEFAULT_LOCALE)
        out[article_id] = title or slugs.get(article_id, article_id)
    return out


def counted(kind: str):
    return func.sum(case((KnowledgeEvent.kind == kind, 1), else_=0))


def helpful_rate():
    """Helpful votes among all votes (0-100)."""
    votes = counted("helpful") + counted("not_helpful")
    return 100.0 * cast(counted("helpful"), Float) / func.nullif(votes, 0)


def article_subject() -> Subject:
    return Subject(
        code="articles",
        label=_l("Knowledge articles"),
        source=lambda: KnowledgeEvent.__table__.join(Article.__table__, Article.id == KnowledgeEvent.article_id),
        date=lambda: KnowledgeEvent.created_at,
        date_label=_l("Event time"),
        scope=article_scope,
        allowed=may_report_articles,
        order=60,
        dimensions=[
            Dimension("article", _l("Article"), lambda: KnowledgeEvent.article_id, article_labels),
            Dimension("topic", _l("Topic"), lambda: Article.topic_id, catalog_labels(Topic)),
            Dimension("department", _l("Department"), lambda: Article.owner_department_id, catalog_labels(Department)),
            Dimension("kind", _l("Kind"), lambda: KnowledgeEvent.kind, fixed_labels(KIND_LABELS)),
        ],
        filters=[
            Filter("status", _l("Article status"), lambda values: Article.status.in_(values), fixed_choices(STATUS_LABELS)),
            Filter("department", _l("Department"), code_in(Article.owner_department_id, Department), catalog_choices(Department)),
            Filter("topic", _l("Topic"), code_in(Article.topic_id, Topic), catalog_choices(Topic)),
            Filter("kind", _l("Kind"), lambda values: KnowledgeEvent.kind.in_(values), fixed_choices(KIND_LABELS)),
            Filter("audience", _l("Audience"), lambda values: Article.audience.in_(values), fixed_choices(AUDIENCE_LABELS)),
        ],
        measures=[
            Measure("views", _l("Views"), lambda: counted("view")),
            Measure("helpful", _l("Helpful"), lambda: counted("helpful")),
            Measure("not_helpful", _l("Not helpful"), lambda: counted("not_helpful")),
            Measure("helpful_rate", _l("Helpful (%)"), helpful_rate, "percent"),
            Measure("deflections", _l("Deflections"), lambda: counted("deflected")),
            Measure("sent", _l("Sent to residents"), lambda: counted("sent")),
        ],
        default_measures=("views", "helpful_rate", "deflections"),
    )
