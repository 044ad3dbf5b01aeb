"""The knowledge plugin's tables (prefix ``knowledge_``): articles and FAQ in each language, their
versions, topics, and what residents and agents did with them (views, votes, deflections, sendings)."""
from __future__ import annotations

from flask_appbuilder import Model
from sqlalchemy import JSON, Column, Date, DateTime, ForeignKey, Index, Integer, String, Table, Text, UniqueConstraint
from sqlalchemy.orm import relationship

from core.models.base import BigId, utcnow

AUDIENCES = ("public", "internal")
STATUSES = ("draft", "in_review", "published", "archived")
EVENT_KINDS = ("view", "helpful", "not_helpful", "deflected", "sent")

article_service = Table(
    "knowledge_article_service",
    Model.metadata,
    Column("article_id", Integer, ForeignKey("knowledge_article.id", ondelete="CASCADE"), primary_key=True),
    Column("service_type_id", Integer, ForeignKey("service_type.id", ondelete="CASCADE"), primary_key=True, index=True),
)

article_tag = Table(
    "knowledge_article_tag",
    Model.metadata,
    Column("article_id", Integer, ForeignKey("knowledge_article.id", ondelete="CASCADE"), primary_key=True),
    Column("tag_id", Integer, ForeignKey("tag.id", ondelete="CASCADE"), primary_key=True, index=True),
)


class Topic(Model):
    """A heading of the help centre ("Trash and recycling"): groups articles and FAQ entries."""

    __tablename__ = "knowledge_topic"
    id = Column(Integer, primary_key=True)
    code = Column(String(64), nullable=False, unique=True)
    name = Column(String(200), nullable=False)
    translations = Column(JSON, nullable=False, default=dict)  # {"fr": {"name": "..."}}
    position = Column(Integer, nullable=False, default=0)

    def __repr__(self) -> str:
        return self.name or self.code or ""


class Article(Model):
    """A knowledge article: its texts per language are ``ArticleText`` rows."""

    __tablename__ = "knowledge_article"
    id = Column(Integer, primary_key=True)
    slug = Column(String(120), nullable=False, unique=True)
    audience = Column(String(10), nullable=False, default="public")  # public | internal
    status = Column(String(12), nullable=False, default="draft")  # draft | in_review | published | archived
    topic_id = Column(Integer, ForeignKey("knowledge_topic.id", ondelete="SET NULL"), index=True)
    topic = relationship("Topic")
    owner_department_id = Column(Integer, ForeignKey("department.id"), index=True)
    owner_department = relationship("Department")
    review_by = Column(Date)
    services = relationship("ServiceType", secondary=article_service, lazy="selectin")
    tags = relationship("Tag", secondary=article_tag, lazy="selectin", order_by="Tag.name")
    created_by_id = Column(Integer, ForeignKey("ab_user.id"))
    updated_by_id = Column(Integer, ForeignKey("ab_user.id"))
    created_at = Column(DateTime, nullable=False, default=utcnow)
    updated_at = Column(DateTime, nullable=False, default=utcnow)
    published_at = Column(DateTime)
    version = Column(Integer, nullable=False, default=1)

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (Index("ix_knowledge_article_status_audience", "status", "audience"),)

    def __repr__(self) -> str:
        return self.slug or ""


class ArticleText(Model):
    """An article in one language: title, summary and Markdown body (``body_html``: sanitised rendering)."""

    __tablename__ = "knowledge_article_text"
    id = Column(Integer, primary_key=True)
    article_id = Column(Integer, ForeignKey("knowledge_article.id", ondelete="CASCADE"), nullable=False)
    article = relationship("Article", backref="texts")
    locale = Column(String(10), nullable=False)
    title = Column(String(200), nullable=False)
    summary = Column(String(500), nullable=False, default="")
    body = Column(Text, nullable=False, default="")
    body_html = Column(Text, nullable=False, default="")

    __table_args__ = (UniqueConstraint("article_id", "locale", name="uq_knowledge_article_text_locale"),)


class ArticleVersion(Model):
    """A published state of an article kept when it changes: every language's texts, who and when."""

    __tablename__ = "knowledge_article_version"
    id = Column(Integer, primary_key=True)
    article_id = Column(Integer, ForeignKey("knowledge_article.id", ondelete="CASCADE"), nullable=False)
    number = Column(Integer, nullable=False)
    texts = Column(JSON, nullable=False, default=dict)  # {"en": {"title", "summary", "body"}, "fr": {...}}
    meta = Column(JSON, nullable=False, default=dict)  # audience, topic, services, tags, review_by at the time
    author_id = Column(Integer, ForeignKey("ab_user.id"))
    created_at = Column(DateTime, nullable=False, default=utcnow)

    __table_args__ = (UniqueConstraint("article_id", "number", name="uq_knowledge_article_version_number"),)


class Faq(Model):
    """A question and its answer (per language: ``FaqText``), in a topic."""

    __tablename__ = "knowledge_faq"
    id = Column(Integer, primary_key=True)
    topic_id = Column(Integer, ForeignKey("knowledge_topic.id", ondelete="SET NULL"), index=True)
    topic = relationship("Topic")
    audience = Column(String(10), nullable=False, default="public")
    status = Column(String(12), nullable=False, default="draft")
    position = Column(Integer, nullable=False, default=0)
    owner_department_id = Column(Integer, ForeignKey("department.id"))
    created_at = Column(DateTime, nullable=False, default=utcnow)
    updated_at = Column(DateTime, nullable=False, default=utcnow)

    __table_args__ = (Index("ix_knowledge_faq_status_audience", "status", "audience"),)


class FaqText(Model):
    __tablename__ = "knowledge_faq_text"
    id = Column(Integer, primary_key=True)
    faq_id = Column(Integer, ForeignKey("knowledge_faq.id", ondelete="CASCADE"), nullable=False)
    faq = relationship("Faq", backref="texts")
    locale = Column(String(10), nullable=False)
    question = Column(String(500), nullable=False)
    answer = Column(Text, nullable=False, default="")
    answer_html = Column(Text, nullable=False, default="")

    __table_args__ = (UniqueConstraint("faq_id", "locale", name="uq_knowledge_faq_text_locale"),)


class KnowledgeEvent(Model):
    """What happened to an article or FAQ entry: a view, a helpful/not helpful vote, a deflection (read
    while reporting, then no report), or an agent sending it to a resident."""

    __tablename__ = "knowledge_event"
    id = Column(BigId, primary_key=True)
    kind = Column(String(12), nullable=False)
    article_id = Column(Integer, ForeignKey("knowledge_article.id", ondelete="CASCADE"))
    faq_id = Column(Integer, ForeignKey("knowledge_faq.id", ondelete="CASCADE"))
    case_id = Column(BigId, ForeignKey("case.id", ondelete="SET NULL"))
    visitor = Column(String(64))  # a keyed hash of the browser session: one vote per visitor
    locale = Column(String(10))
    created_at = Column(DateTime, nullable=False, default=utcnow)

    __table_args__ = (
        Index("ix_knowledge_event_article_kind", "article_id", "kind", "created_at"),
        Index("ix_knowledge_event_faq_kind", "faq_id", "kind", "created_at"),
    )
