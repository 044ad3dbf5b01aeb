"""The public knowledge JSON API and the staff tag page."""
from __future__ import annotations

import uuid
from contextlib import contextmanager

from plugins.knowledge.models import Article, ArticleText, Faq, FaqText
from plugins.knowledge.search import index_article, index_faq


@contextmanager
def seeded(app):
    """A session for setting up data, committed and closed before any request is made."""
    from core.extensions import db

    with app.app_context():
        yield db.session
        db.session.commit()
        db.session.remove()


def publish(session, texts, *, audience="public", tags=()) -> str:
    from core.models import Tag

    article = Article(slug=f"api-{uuid.uuid4().hex[:10]}", audience=audience, status="published")
    for name in tags:
        article.tags.append(session.query(Tag).filter_by(name=name).one_or_none() or Tag(name=name))
    session.add(article)
    session.flush()
    for locale, (title, body) in texts.items():
        session.add(ArticleText(article=article, locale=locale, title=title, summary=f"{title} summary", body=body,
                                body_html=f"<p>{body}</p>"))
    session.flush()
    session.refresh(article)
    index_article(session, article)
    return article.slug


def faq(session, question, answer, *, status="published") -> int:
    entry = Faq(status=status, audience="public")
    session.add(entry)
    session.flush()
    session.add(FaqText(faq=entry, locale="en", question=question, answer=answer, answer_html=f"<p>{answer}</p>"))
    session.flush()
    session.refresh(entry)
    index_faq(session, entry)
    return entry.id


def test_resident_app_lists_public_articles_only(app, client_for):
    with seeded(app) as session:
        public = publish(session, {"en": ("Recycling days", "Blue bins on Tuesdays.")}, tags=("recycling",))
        internal = publish(session, {"en": ("Crew recycling notes", "Internal.")}, audience="internal", tags=("recycling",))
    r = client_for(None).get("/knowledge/api/v1/articles.json?tag=recycling")
    assert r.status_code == 200 and r.is_json
    slugs = [a["slug"] for a in r.json["articles"]]
    assert public in slugs and internal not in slugs
    entry = next(a for a in r.json["articles"] if a["slug"] == public)
    assert set(entry) == {"slug", "title", "summary", "locale", "fallback", "topic", "services", "tags", "updated_at", "url"}
    assert entry["tags"] == ["recycling"] and entry["fallback"] is False
    assert {"page", "per_page", "total", "has_next"} <= set(r.json)


def test_article_in_french_and_flagged_fallback_when_untranslated(app, client_for):
    with seeded(app) as session:
        both = publish(session, {"en": ("Water outage", "Boil water."), "fr": ("Coupure d'eau", "Faites bouillir l'eau.")})
        english_only = publish(session, {"en": ("Tree trimming", "We trim trees in spring.")})
    client = client_for(None)
    r = client.get(f"/knowledge/api/v1/articles/{both}.json?locale=fr")
    assert r.status_code == 200
    assert r.json["article"]["title"] == "Coupure d'eau" and r.json["article"]["fallback"] is False
    assert r.json["article"]["body_html"] == "<p>Faites bouillir l'eau.</p>"
    r = client.get(f"/knowledge/api/v1/articles/{english_only}.json?locale=fr")
    assert r.json["article"]["title"] == "Tree trimming" and r.json["article"]["fallback"] is True
    assert r.json["article"]["locale"] == "en"


def test_internal_article_is_not_found_by_slug(app, client_for):
    with seeded(app) as session:
        internal = publish(session, {"en": ("Alarm codes", "Secret.")}, audience="internal")
    r = client_for(None).get(f"/knowledge/api/v1/articles/{internal}.json")
    assert r.status_code == 404 and r.is_json and "Secret" not in r.get_data(as_text=True)


def test_bad_parameters_answer_json_naming_the_field(app, client_for):
    client = client_for(None)
    for url, field in (("/knowledge/api/v1/articles.json?page=zero", "page"),
                       ("/knowledge/api/v1/articles.json?locale=xx", "locale"),
                       ("/knowledge/api/v1/articles.json?service=nope", "service"),
                       ("/knowledge/api/v1/faq.json?topic=nope", "topic"),
                       ("/knowledge/api/v1/search.json", "q"),
                       ("/knowledge/api/v1/search.json?q=trash&service=nope", "service"),
                       ("/knowledge/api/v1/search.json?q=" + "x" * 201, "q")):
        r = client.get(url)
        assert r.status_code == 400 and r.is_json, url
        assert r.json["error"]["field"] == field and r.json["error"]["message"], url


def test_faq_json_lists_published_public_questions(app, client_for):
    with seeded(app) as session:
        faq(session, "Can I burn leaves?", "No.")
        faq(session, "Draft question?", "", status="draft")
    r = client_for(None).get("/knowledge/api/v1/faq.json?locale=fr")
    questions = {e["question"]: e for e in r.json["faq"]}
    assert "Draft question?" not in questions
    assert questions["Can I burn leaves?"]["fallback"] is True and questions["Can I burn leaves?"]["answer_html"] == "<p>No.</p>"


def test_search_json_finds_public_articles_and_faq_with_snippets(app, client_for):
    with seeded(app) as session:
        art = publish(session, {"en": ("Mosquito spraying", "Trucks spray for mosquitoes at dusk.")})
        publish(session, {"en": ("Mosquito crew roster", "Internal mosquito roster.")}, audience="internal")
        faq_id = faq(session, "Is mosquito spray safe?", "Yes, for pets too.")
    r = client_for(None).get("/knowledge/api/v1/search.json?q=mosquito")
    assert r.status_code == 200
    results = r.json["results"]
    assert {(x["kind"], x.get("slug") or x.get("id")) for x in results} == {("article", art), ("faq", faq_id)}
    assert "<mark>" in next(x for x in results if x["kind"] == "article")["snippet_html"]
    assert "roster" not in r.get_data(as_text=True)


def test_staff_see_cases_and_articles_with_the_hurricane_tag_within_their_scope(app, client_for):
    from core.services.cases import create_case

    with seeded(app) as session:
        case = create_case(session, service_code="POTHOLE", description="Road washed out", attributes={"SIZE": "large"},
                           tags=["hurricane"])
        reference, department = case.reference, case.department.code
        slug = publish(session, {"en": ("Hurricane debris", "Stack storm debris at the curb.")}, tags=("hurricane",))
    page = client_for("dispatcher").get("/knowledge/tags/hurricane")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and reference in html and "Hurricane debris" in html and slug in html
    other = client_for("util_staff").get("/knowledge/tags/hurricane").get_data(as_text=True)
    assert department == "PW" and reference not in other and "Hurricane debris" in other
    assert client_for("resident").get("/knowledge/tags/hurricane").status_code == 403
    assert client_for(None).get("/knowledge/tags/hurricane").status_code == 302
    assert client_for("dispatcher").get("/knowledge/tags/hurricane?page=-1").status_code == 400
