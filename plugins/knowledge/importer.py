"""Load topics, articles and FAQ from a TOML file (``civic knowledge import FILE``): the demo content and a
city's first articles.  Articles are matched by slug and FAQ entries by their English question, so a file
can be imported again to update; ``status = "published"`` publishes (keeping a version)."""
from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import select

from core.models import Department, ServiceType
from core.models.base import utcnow
from plugins.knowledge import content
from plugins.knowledge.models import AUDIENCES, STATUSES, Article, Faq, FaqText, Topic


class ImportFileError(Exception):
    """The file cannot be read at all (not TOML)."""


@dataclass
class ImportReport:
    topics: int = 0
    articles: int = 0
    faqs: int = 0
    problems: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        return [*self.problems, f"topics: {self.topics}, articles: {self.articles}, FAQ: {self.faqs}"]


def _texts(entry: dict) -> dict[str, dict]:
    return {locale: entry[locale] for locale in content.FORM_LOCALES if isinstance(entry.get(locale), dict)}


def _publish(session, item, status: str) -> None:
    if item.status == status:
        return
    item.status = status
    if isinstance(item, Article) and status == "published":
        item.published_at = utcnow()


def import_topics(session, entries: list, report: ImportReport) -> dict[str, Topic]:
    topics = {t.code: t for t in session.scalars(select(Topic))}
    for i, entry in enumerate(entries):
        code, name = str(entry.get("code", "")).strip(), str(entry.get("name", "")).strip()
        if not code or not name:
            report.problems.append(f"topics[{i}]: code and name are required")
            continue
        topic = topics.get(code) or Topic(code=code)
        topic.name, topic.position = name, int(entry.get("position", 0))
        topic.translations = {loc: {"name": entry[loc]} for loc in content.FORM_LOCALES if isinstance(entry.get(loc), str)}
        session.add(topic)
        topics[code] = topic
        report.topics += 1
    session.flush()
    return topics


def import_article(session, i: int, entry: dict, topics: dict[str, Topic], report: ImportReport) -> None:
    key = f"articles[{i}]"
    slug, audience, status = entry.get("slug", ""), entry.get("audience", "public"), entry.get("status", "draft")
    department = session.scalar(select(Department).where(Department.code == entry.get("department", "")))
    services = list(session.scalars(select(ServiceType).where(ServiceType.code.in_(entry.get("services", [])))))
    review_by = entry.get("review_by")
    if status not in STATUSES:
        report.problems.append(f"{key}.status: must be one of {', '.join(STATUSES)}")
        return
    if entry.get("topic") and entry["topic"] not in topics:
        report.problems.append(f"{key}.topic: unknown topic '{entry['topic']}'")
        return
    if review_by is not None and not isinstance(review_by, date):
        report.problems.append(f"{key}.review_by: a date such as 2027-06-01 is expected")
        return
    try:
        article = session.scalar(select(Article).where(Article.slug == slug))
        if article is None:
            article = content.create_article(session, slug=slug, texts=_texts(entry), audience=audience,
                                             topic=topics.get(entry.get("topic")), department=department,
                                             services=services, tags=entry.get("tags", []), review_by=review_by)
        else:
            content.check_meta(slug, audience)
            content.set_article_texts(article, _texts(entry))
            article.audience, article.topic, article.owner_department = audience, topics.get(entry.get("topic")), department
            article.services, article.tags, article.review_by = services, content.tags_named(session, entry.get("tags", [])), review_by
        _publish(session, article, status)
        content.article_changed(session, article)
    except content.ContentError as exc:
        session.rollback()
        report.problems.extend(f"{key}.{f}: {' '.join(m)}" for f, m in exc.errors.items())
        return
    report.articles += 1


def import_faq(session, i: int, entry: dict, topics: dict[str, Topic], report: ImportReport) -> None:
    key = f"faq[{i}]"
    status, audience = entry.get("status", "draft"), entry.get("audience", "public")
    if status not in STATUSES or audience not in AUDIENCES:
        report.problems.append(f"{key}: status must be one of {', '.join(STATUSES)}; audience public or internal")
        return
    question = (entry.get(content.DEFAULT_LOCALE) or {}).get("question", "")
    try:
        faq = session.scalar(select(Faq).join(FaqText).where(FaqText.locale == content.DEFAULT_LOCALE, FaqText.question == question))
        if faq is None:
            faq = content.create_faq(session, texts=_texts(entry), topic=topics.get(entry.get("topic")), audience=audience,
                                     position=int(entry.get("position", 0)))
        else:
            content.set_faq_texts(faq, _texts(entry))
            faq.topic, faq.audience, faq.position = topics.get(entry.get("topic")), audience, int(entry.get("position", 0))
        faq.status = status
        content.faq_changed(session, faq)
    except content.ContentError as exc:
        session.rollback()
        report.problems.extend(f"{key}.{f}: {' '.join(m)}" for f, m in exc.errors.items())
        return
    report.faqs += 1


def import_knowledge(session, path: str) -> ImportReport:
    """Import the file and commit; one problem line per refused entry (the others are kept)."""
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ImportFileError(f"not valid TOML ({exc})") from None
    report = ImportReport()
    topics = import_topics(session, data.get("topics", []), report)
    session.commit()
    for i, entry in enumerate(data.get("articles", [])):
        import_article(session, i, entry, topics, report)
        session.commit()
    for i, entry in enumerate(data.get("faq", [])):
        import_faq(session, i, entry, topics, report)
        session.commit()
    return report
