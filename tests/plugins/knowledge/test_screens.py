"""Knowledge staff screens (task K1): write in English and French side by side, review and publish by the
owning department's reviewer, history and restore, measures; residents and other departments kept out."""
from __future__ import annotations

import re
import uuid
from datetime import date, timedelta

import sqlalchemy as sa

from tests.conftest import PASSWORD, csrf_token, login


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def department_id(app, code: str) -> int:
    from core.extensions import db
    from core.models import Department

    with app.app_context():
        return db.session.scalar(sa.select(Department.id).where(Department.code == code))


def reviewer_client(app, code: str = "PW"):
    from core.extensions import db
    from core.models import Department
    from core.services.users import create_user

    with app.app_context():
        dept = db.session.scalar(sa.select(Department).where(Department.code == code))
        create_user(f"reviewer_{code.lower()}", PASSWORD, "Knowledge reviewer", departments=[dept])
        db.session.commit()
    return login(app.test_client(), f"reviewer_{code.lower()}")


def article_form(app, client, slug: str, dept: str = "PW", **texts) -> dict:
    page = client.get("/articleview/add")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'name="title_en"' in html and 'name="title_fr"' in html
    form = {"csrf_token": csrf_token(html), "slug": slug, "audience": "public", "owner_department": str(department_id(app, dept)),
            "title_en": "Hurricane debris pickup", "summary_en": "Curb rules", "body_en": "Piles **at the curb**.",
            "title_fr": "", "summary_fr": "", "body_fr": ""}
    form.update(texts)
    return form


def find(app, slug: str):
    from core.extensions import db
    from plugins.knowledge.models import Article

    with app.app_context():
        article = db.session.scalar(sa.select(Article).where(Article.slug == slug))
        if article is None:
            return None
        return {"id": article.id, "status": article.status, "locales": sorted(t.locale for t in article.texts),
                "department": article.owner_department_id}


def write(app, client, dept: str = "PW", **texts) -> tuple[str, object]:
    slug = unique("debris")
    response = client.post("/articleview/add", data=article_form(app, client, slug, dept, **texts), follow_redirects=True)
    return slug, response


def workflow(client, article_id: int, status: str):
    page = client.get(f"/articleview/show/{article_id}")
    return client.post(f"/articleview/workflow/{article_id}", data={"csrf_token": csrf_token(page.get_data(as_text=True)), "status": status},
                       follow_redirects=True)


def test_department_staff_write_an_article_in_english_and_french_side_by_side(app, client_for):
    client = client_for("pw_staff")
    slug, response = write(app, client, title_fr="Ramassage des débris", body_fr="Tas **en bordure**.")
    assert response.status_code == 200
    article = find(app, slug)
    assert article["status"] == "draft" and article["locales"] == ["en", "fr"]
    page = client.get(f"/articleview/show/{article['id']}").get_data(as_text=True)
    assert "<strong>at the curb</strong>" in page and "<strong>en bordure</strong>" in page
    assert "civic-knowledge-untranslated" not in page


def test_an_article_not_yet_in_french_says_so_on_its_page(app, client_for):
    client = client_for("pw_staff")
    slug, _ = write(app, client)
    page = client.get(f"/articleview/show/{find(app, slug)['id']}").get_data(as_text=True)
    assert "civic-knowledge-untranslated" in page


def test_an_article_without_english_title_is_refused_naming_the_field(app, client_for):
    client = client_for("pw_staff")
    slug, response = write(app, client, title_en="")
    assert find(app, slug) is None
    assert "Title (English): required" in response.get_data(as_text=True)


def test_department_staff_cannot_write_for_another_department(app, client_for):
    client = client_for("util_staff")
    slug, response = write(app, client, dept="PW")
    assert find(app, slug) is None
    assert "only write the articles of your departments" in response.get_data(as_text=True)


def test_department_staff_submit_for_review_but_cannot_publish(app, client_for):
    client = client_for("pw_staff")
    slug, _ = write(app, client)
    article_id = find(app, slug)["id"]
    page = client.get(f"/articleview/show/{article_id}").get_data(as_text=True)
    assert "civic-knowledge-to-in_review" in page
    workflow(client, article_id, "in_review")
    assert find(app, slug)["status"] == "in_review"
    page = client.get(f"/articleview/show/{article_id}").get_data(as_text=True)
    assert "civic-knowledge-to-published" not in page
    response = workflow(client, article_id, "published")
    assert "only a reviewer of the owning department may publish" in response.get_data(as_text=True)
    assert find(app, slug)["status"] == "in_review"


def test_reviewer_publishes_and_restores_an_earlier_version_from_the_history(app, client_for):
    writer = client_for("pw_staff")
    slug, _ = write(app, writer)
    article_id = find(app, slug)["id"]
    workflow(writer, article_id, "in_review")

    other_reviewer = reviewer_client(app, "UTIL")
    workflow(other_reviewer, article_id, "published")
    assert find(app, slug)["status"] == "in_review"

    reviewer = reviewer_client(app, "PW")
    workflow(reviewer, article_id, "published")
    assert find(app, slug)["status"] == "published"

    # department staff may not change live content; the reviewer may, and the previous state is kept
    edit = writer.get(f"/articleview/edit/{article_id}").get_data(as_text=True)
    form = {"csrf_token": csrf_token(edit), "slug": slug, "audience": "public", "owner_department": str(department_id(app, "PW")),
            "title_en": "Debris pickup, second edition", "summary_en": "", "body_en": "New rules.",
            "title_fr": "", "summary_fr": "", "body_fr": ""}
    refused = writer.post(f"/articleview/edit/{article_id}", data=form, follow_redirects=True).get_data(as_text=True)
    assert "Move it back to draft first" in refused
    form["csrf_token"] = csrf_token(reviewer.get(f"/articleview/edit/{article_id}").get_data(as_text=True))
    reviewer.post(f"/articleview/edit/{article_id}", data=form, follow_redirects=True)

    history = reviewer.get(f"/articleview/history/{article_id}").get_data(as_text=True)
    assert re.findall(r'data-number="(\d+)"', history) == ["2", "1"]
    assert "Debris pickup, second edition" in history and "reviewer_pw" in history
    response = reviewer.post(f"/articleview/restore/{article_id}", data={"csrf_token": csrf_token(history), "number": "1"},
                             follow_redirects=True)
    assert "Hurricane debris pickup" in response.get_data(as_text=True)
    history = reviewer.get(f"/articleview/history/{article_id}").get_data(as_text=True)
    assert re.findall(r'data-number="(\d+)"', history) == ["3", "2", "1"]
    assert "restored from version 1" in history

    bad = reviewer.post(f"/articleview/restore/{article_id}", data={"csrf_token": csrf_token(history), "number": "one"})
    assert bad.status_code == 400 and "Version" in bad.get_data(as_text=True)
    own_token = csrf_token(writer.get(f"/articleview/edit/{article_id}").get_data(as_text=True))
    assert writer.post(f"/articleview/restore/{article_id}", data={"csrf_token": own_token, "number": "1"}).status_code == 403


def test_residents_and_signed_out_visitors_cannot_open_knowledge_screens(client_for):
    for client in (client_for("resident"), client_for(None)):
        for url in ("/articleview/list/", "/faqview/list/", "/knowledge/measures/", "/articleview/add"):
            assert client.get(url).status_code in (302, 403), url


def test_a_missing_article_is_404_not_an_error(client_for):
    client = client_for("admin")
    assert client.get("/articleview/show/999999").status_code == 404
    assert client.get("/articleview/show/abc").status_code == 404


def test_staff_write_a_faq_entry_and_the_list_shows_its_question(app, client_for):
    client = client_for("pw_staff")
    page = client.get("/faqview/add").get_data(as_text=True)
    question = unique("When do carts go out")
    response = client.post("/faqview/add", data={"csrf_token": csrf_token(page), "audience": "public", "position": "1",
                                                 "question_en": question, "answer_en": "By 6 a.m.",
                                                 "question_fr": "Quand sortir les bacs ?", "answer_fr": "Avant 6 h"},
                           follow_redirects=True)
    assert response.status_code == 200
    assert question in client.get("/faqview/list/?psize_FaqView=100").get_data(as_text=True)

    from core.extensions import db
    from plugins.knowledge.models import Faq, FaqText

    def status():
        with app.app_context():
            return db.session.execute(sa.select(Faq.id, Faq.status).join(FaqText).where(FaqText.question == question)).one()

    faq_id, _ = status()
    page = client.get(f"/faqview/show/{faq_id}").get_data(as_text=True)
    assert "Quand sortir les bacs" in page and "civic-knowledge-to-published" not in page
    client.post(f"/faqview/workflow/{faq_id}", data={"csrf_token": csrf_token(page), "status": "in_review"})
    client.post(f"/faqview/workflow/{faq_id}", data={"csrf_token": csrf_token(page), "status": "published"})
    assert status()[1] == "in_review"
    reviewer = reviewer_client(app, "PW")
    page = reviewer.get(f"/faqview/show/{faq_id}").get_data(as_text=True)
    reviewer.post(f"/faqview/workflow/{faq_id}", data={"csrf_token": csrf_token(page), "status": "published"})
    assert status()[1] == "published"


def test_topic_has_its_french_name_and_a_bad_translation_is_refused_naming_the_field(app, client_for):
    from core.extensions import db
    from plugins.knowledge.models import Topic

    client = client_for("admin")
    code = unique("storms")
    page = client.get("/topicview/add").get_data(as_text=True)
    bad = client.post("/topicview/add", data={"csrf_token": csrf_token(page), "code": code, "name": "Storms", "position": "1",
                                              "translations_json": '{"de": {"name": "Stürme"}}'}, follow_redirects=True)
    assert "Translations: unknown language" in bad.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(sa.select(Topic).where(Topic.code == code)) is None
    client.post("/topicview/add", data={"csrf_token": csrf_token(page), "code": code, "name": "Storms", "position": "1",
                                        "translations_json": '{"fr": {"name": "Tempêtes"}}'}, follow_redirects=True)
    with app.app_context():
        topic = db.session.scalar(sa.select(Topic).where(Topic.code == code))
        assert topic.translations == {"fr": {"name": "Tempêtes"}}


def test_measures_screen_shows_use_of_articles_and_those_past_review_for_my_departments(app, client_for):
    from core.extensions import db
    from plugins.knowledge import content
    from plugins.knowledge.models import KnowledgeEvent

    with app.app_context():
        mine = content.create_article(db.session, slug=unique("mine"), texts={"en": {"title": "Water bills explained"}},
                                      department=db.session.get(content.Department, department_id(app, "UTIL")),
                                      review_by=date.today() - timedelta(days=3))
        theirs = content.create_article(db.session, slug=unique("theirs"), texts={"en": {"title": "Potholes"}},
                                        department=db.session.get(content.Department, department_id(app, "PW")),
                                        review_by=date.today() - timedelta(days=3))
        db.session.add_all([KnowledgeEvent(kind=k, article_id=mine.id) for k in ("view", "view", "helpful", "sent")])
        db.session.commit()
        mine_id, mine_slug, theirs_slug = mine.id, mine.slug, theirs.slug
    page = client_for("util_staff").get("/knowledge/measures/").get_data(as_text=True)
    row = re.search(rf'<tr data-article="{mine_id}">(.*?)</tr>', page, re.S).group(1)
    assert "Water bills explained" in row
    assert re.search(r'class="views">2<', row) and re.search(r'class="helpful">1<', row) and re.search(r'class="sent">1<', row)
    assert mine_slug in page and theirs_slug not in page
