"""Knowledge content for the help centre and desk tests (task K3): made straight in the tables."""
from __future__ import annotations

import uuid

import sqlalchemy as sa


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def make_topic(app, name: str = "Roads", fr: str | None = "Routes") -> str:
    from core.extensions import db
    from plugins.knowledge.models import Topic

    code = unique("topic")
    with app.app_context():
        db.session.add(Topic(code=code, name=f"{name} {code}", translations={"fr": {"name": f"{fr} {code}"}} if fr else {}))
        db.session.commit()
        db.session.remove()
    return code


def make_article(app, *, title: str, summary: str = "", body: str = "", audience: str = "public", status: str = "published",
                 topic: str | None = None, services=(), tags=(), fr: tuple[str, str, str] | None = None) -> tuple[int, str]:
    """An article with its English text (and French when ``fr`` = (title, summary, body)): (id, slug)."""
    from core.extensions import db
    from core.models import ServiceType, Tag
    from plugins.knowledge.models import Article, ArticleText, Topic
    from plugins.knowledge.search import index_article

    slug = unique("article")
    with app.app_context():
        s = db.session
        article = Article(slug=slug, audience=audience, status=status)
        if topic:
            article.topic = s.scalar(sa.select(Topic).where(Topic.code == topic))
        article.services = [s.scalar(sa.select(ServiceType).where(ServiceType.code == c)) for c in services]
        for name in tags:
            tag = s.scalar(sa.select(Tag).where(Tag.name == name)) or Tag(name=name)
            article.tags.append(tag)
        article.texts.append(ArticleText(locale="en", title=title, summary=summary, body=body, body_html=f"<p>{body}</p>"))
        if fr:
            article.texts.append(ArticleText(locale="fr", title=fr[0], summary=fr[1], body=fr[2], body_html=f"<p>{fr[2]}</p>"))
        s.add(article)
        s.flush()
        index_article(s, article)  # K2's full-text index, as the staff screens do after every change
        s.commit()
        article_id = article.id
        s.remove()
    return article_id, slug


def make_faq(app, topic: str, question: str, answer: str, audience: str = "public", status: str = "published") -> int:
    from core.extensions import db
    from plugins.knowledge.models import Faq, FaqText, Topic
    from plugins.knowledge.search import index_faq

    with app.app_context():
        s = db.session
        faq = Faq(topic=s.scalar(sa.select(Topic).where(Topic.code == topic)), audience=audience, status=status)
        faq.texts.append(FaqText(locale="en", question=question, answer=answer, answer_html=f"<p>{answer}</p>"))
        s.add(faq)
        s.flush()
        index_faq(s, faq)
        s.commit()
        faq_id = faq.id
        s.remove()
    return faq_id


def events(app, article_id: int, kind: str | None = None) -> list:
    """(kind, visitor, case_id) of an article's events, oldest first."""
    from core.extensions import db
    from plugins.knowledge.models import KnowledgeEvent

    with app.app_context():
        query = sa.select(KnowledgeEvent.kind, KnowledgeEvent.visitor, KnowledgeEvent.case_id).where(KnowledgeEvent.article_id == article_id)
        if kind:
            query = query.where(KnowledgeEvent.kind == kind)
        rows = [tuple(r) for r in db.session.execute(query.order_by(KnowledgeEvent.id))]
        db.session.remove()
    return rows
