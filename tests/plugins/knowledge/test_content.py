"""Knowledge content (task K1): Markdown made safe, languages with a visible fallback, the review workflow,
published versions kept and restored, FAQ, measures, and the TOML import of the demo content."""
from __future__ import annotations

import uuid
from datetime import date, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.conftest import PASSWORD

SAMPLE = Path(__file__).resolve().parents[3] / "config" / "knowledge-sample.toml"


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def user(app, username: str):
    return app.appbuilder.sm.find_user(username=username)


def department(session, code: str):
    from core.models import Department

    return session.scalar(sa.select(Department).where(Department.code == code))


def reviewer(app, session, code: str = "PW"):
    """A knowledge reviewer working for one department."""
    from core.services.users import create_user

    return create_user(f"reviewer_{code.lower()}", PASSWORD, "Knowledge reviewer", departments=[department(session, code)])


def draft(session, slug=None, fr=True, dept="PW", **kw):
    from plugins.knowledge import content

    texts = {"en": {"title": "Debris pickup", "summary": "Curbside rules", "body": "Put piles **at the curb**."}}
    if fr:
        texts["fr"] = {"title": "Ramassage des débris", "summary": "Règles", "body": "Déposez les tas **en bordure**."}
    return content.create_article(session, slug=slug or unique("debris"), texts=texts, department=department(session, dept), **kw)


def test_markdown_body_is_rendered_without_scripts_raw_html_or_javascript_links(session):
    from plugins.knowledge.content import render_markdown

    html = render_markdown("# Title\n\nSee [the city](https://palmcoast.example.gov) and [this](javascript:alert(1))."
                           "\n\n<script>alert('x')</script><img src=x onerror=alert(1)>\n\n**bold**")
    assert "<h1>Title</h1>" in html and "<strong>bold</strong>" in html
    assert 'href="https://palmcoast.example.gov"' in html
    assert "javascript:" not in html and "<script" not in html and "onerror" not in html and "<img" not in html


def test_an_article_read_in_french_without_translation_falls_back_to_english_visibly(app, session):
    from plugins.knowledge.content import text_for

    article = draft(session, fr=False)
    text, fell_back = text_for(article, "fr")
    assert (text.title, fell_back) == ("Debris pickup", True)
    assert text_for(article, "en")[1] is False
    assert "<strong>at the curb</strong>" in text.body_html


def test_an_article_without_an_english_title_is_refused_naming_the_field(session):
    from plugins.knowledge.content import ContentError, create_article

    with pytest.raises(ContentError) as refused:
        create_article(session, slug=unique("x"), texts={"fr": {"title": "Seulement en français"}})
    assert "title_en" in refused.value.errors
    with pytest.raises(ContentError) as refused:
        create_article(session, slug="Not A Slug!", texts={"en": {"title": "T"}})
    assert "slug" in refused.value.errors


def test_article_goes_through_review_before_it_is_published_then_archived(app, session):
    from plugins.knowledge.content import ContentError, change_status

    admin = user(app, "admin")
    article = draft(session)
    with pytest.raises(ContentError) as refused:
        change_status(session, article, "published", admin)
    assert "status" in refused.value.errors
    change_status(session, article, "in_review", admin)
    change_status(session, article, "published", admin)
    assert article.published_at is not None
    change_status(session, article, "archived", admin)
    change_status(session, article, "draft", admin)
    assert article.status == "draft"


def test_only_a_reviewer_of_the_owning_department_publishes(app, session):
    from plugins.knowledge.content import ContentError, change_status

    article = draft(session, dept="PW")
    change_status(session, article, "in_review", user(app, "pw_staff"))
    for someone in (user(app, "pw_staff"), reviewer(app, session, "UTIL")):
        with pytest.raises(ContentError):
            change_status(session, article, "published", someone)
    change_status(session, article, "published", reviewer(app, session, "PW"))
    assert article.status == "published"


def test_each_published_change_keeps_the_previous_version_and_a_restore_is_recorded(app, session):
    from plugins.knowledge import content

    admin = user(app, "admin")
    article = draft(session, tags=["hurricane"])
    content.change_status(session, article, "in_review", admin)
    content.change_status(session, article, "published", admin)
    content.set_article_texts(article, {"en": {"title": "Debris pickup (updated)", "body": "New rules."}})
    article.tags = content.tags_named(session, ["storm"])
    content.article_changed(session, article, admin)
    content.article_changed(session, article, admin)  # nothing changed: no new version

    versions = content.history(session, article)
    assert [v.number for v in versions] == [2, 1]
    assert versions[1].texts["en"]["title"] == "Debris pickup" and versions[1].meta["tags"] == ["hurricane"]
    assert versions[0].author_id == admin.id and "fr" not in versions[0].texts

    content.restore_version(session, article, 1, admin)
    assert content.text_for(article, "fr")[0].title == "Ramassage des débris"
    assert [t.name for t in article.tags] == ["hurricane"]
    latest = content.history(session, article)[0]
    assert (latest.number, latest.meta["restored_from"]) == (3, 1)
    with pytest.raises(content.ContentError):
        content.restore_version(session, article, 99, admin)


def test_faq_entry_in_two_languages_is_published_after_review(app, session):
    from plugins.knowledge import content

    faq = content.create_faq(session, texts={"en": {"question": "When do carts go out?", "answer": "By *6 a.m.*"},
                                             "fr": {"question": "Quand sortir les bacs ?", "answer": "Avant 6 h"}})
    assert content.faq_text_for(faq, "fr")[0].question == "Quand sortir les bacs ?"
    assert "<em>6 a.m.</em>" in content.faq_text_for(faq, "en")[0].answer_html
    with pytest.raises(content.ContentError):
        content.change_faq_status(session, faq, "published", user(app, "admin"))
    content.change_faq_status(session, faq, "in_review", user(app, "admin"))
    content.change_faq_status(session, faq, "published", user(app, "admin"))
    assert faq.status == "published"


def test_measures_count_views_votes_deflections_and_sendings_per_article(app, session):
    from plugins.knowledge.measures import article_measures, past_review
    from plugins.knowledge.models import KnowledgeEvent

    mine, other = draft(session, dept="PW"), draft(session, dept="UTIL")
    mine.review_by = date.today() - timedelta(days=1)
    other.review_by = date.today() - timedelta(days=1)
    for kind in ("view", "view", "view", "helpful", "not_helpful", "deflected", "sent"):
        session.add(KnowledgeEvent(kind=kind, article_id=mine.id))
    session.add(KnowledgeEvent(kind="view", article_id=other.id))
    session.flush()
    pw = [department(session, "PW").id]
    rows = {r.article_id: r for r in article_measures(session, pw)}
    assert other.id not in rows
    m = rows[mine.id]
    assert (m.views, m.helpful, m.not_helpful, m.deflected, m.sent) == (3, 1, 1, 1, 1)
    overdue = past_review(session, date.today(), pw)
    assert mine in overdue and other not in overdue


def test_sample_file_imports_palm_coast_articles_in_english_and_french_and_again_without_duplicates(app, session):
    from plugins.knowledge import content
    from plugins.knowledge.importer import import_knowledge
    from plugins.knowledge.models import Article, ArticleVersion, Faq

    first = import_knowledge(session, str(SAMPLE))
    assert first.problems == [] and (first.articles, first.faqs) == (6, 3)
    article = session.scalar(sa.select(Article).where(Article.slug == "hurricane-debris-pickup"))
    assert article.status == "published" and [t.name for t in article.tags] == ["debris", "hurricane"]
    assert content.text_for(article, "fr")[0].title == "Ramassage des débris après un ouragan"
    internal = session.scalar(sa.select(Article).where(Article.slug == "debris-contractor-escalation"))
    assert internal.audience == "internal" and content.text_for(internal, "fr")[1] is True

    versions = session.scalar(sa.select(sa.func.count()).select_from(ArticleVersion))
    faqs = session.scalar(sa.select(sa.func.count()).select_from(Faq))
    again = import_knowledge(session, str(SAMPLE))
    assert again.problems == []
    assert session.scalar(sa.select(sa.func.count()).select_from(ArticleVersion)) == versions
    assert session.scalar(sa.select(sa.func.count()).select_from(Faq)) == faqs


def test_civic_knowledge_import_reports_a_bad_entry_by_its_key(app, tmp_path):
    from core.cli import cli

    bad = tmp_path / "bad.toml"
    bad.write_text('[[articles]]\nslug = "Bad Slug"\n[articles.en]\ntitle = "T"\n', encoding="utf-8")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FLASK_RUN_FROM_CLI", "false")
        result = app.test_cli_runner().invoke(cli, ["knowledge", "import", str(bad)])
    assert result.exit_code == 2
    assert "articles[0].slug:" in result.output
