"""What residents and agents did with each article (one GROUP BY over ``KnowledgeEvent``), and the
articles whose review date has passed."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import case, func, select

from plugins.knowledge.models import Article, KnowledgeEvent


@dataclass(frozen=True)
class ArticleMeasure:
    article_id: int
    slug: str
    views: int
    helpful: int
    not_helpful: int
    deflected: int
    sent: int


def _count(kind: str):
    return func.coalesce(func.sum(case((KnowledgeEvent.kind == kind, 1), else_=0)), 0)


def article_measures(session, department_ids=None, since=None) -> list[ArticleMeasure]:
    """Per article: views, helpful / not helpful votes, deflections and sendings, most viewed first.
    ``department_ids`` (a list or subquery) keeps only the articles those departments own."""
    query = (
        select(Article.id, Article.slug, _count("view"), _count("helpful"), _count("not_helpful"), _count("deflected"), _count("sent"))
        .join(KnowledgeEvent, KnowledgeEvent.article_id == Article.id)
        .group_by(Article.id, Article.slug)
        .order_by(_count("view").desc(), Article.slug)
    )
    if department_ids is not None:
        query = query.where(Article.owner_department_id.in_(department_ids))
    if since is not None:
        query = query.where(KnowledgeEvent.created_at >= since)
    return [ArticleMeasure(*row) for row in session.execute(query)]


def past_review(session, today: date, department_ids=None) -> list[Article]:
    """Articles not archived whose review-by date is before ``today``, oldest first."""
    query = (select(Article).where(Article.review_by < today, Article.status != "archived")
             .order_by(Article.review_by, Article.slug))
    if department_ids is not None:
        query = query.where(Article.owner_department_id.in_(department_ids))
    return list(session.scalars(query))
