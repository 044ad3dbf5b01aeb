"""Reports on the knowledge articles: views, votes, deflections and sendings, per article, topic and department.

Articles are written and published through the knowledge service; residents read and vote in the public
help centre and an agent sends an article from the case page (the real screens, through the test client).
Both database backends; the database is shared by the run, so each test makes its own topic and reports
on it alone.
"""
from __future__ import annotations

import random

import pytest
import sqlalchemy as sa

from tests.conftest import PASSWORD, csrf_token
from tests.reports import by_label, every_combination, report, tag, user


def browser(app):
    """A resident's browser (an address of its own, for the portal's rate limits)."""
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = f"127.{random.randint(1, 254)}.{random.randint(1, 254)}.{random.randint(1, 254)}"
    return client


def publish(session, slug: str, texts: dict, topic, department_code: str):
    from core.models import Department
    from plugins.knowledge import content

    admin = user(session, "admin")
    department = session.scalar(sa.select(Department).where(Department.code == department_code))
    article = content.create_article(session, slug=slug, texts=texts, topic=topic, department=department, services=(), user=admin)
    content.change_status(session, article, "in_review", admin)
    content.change_status(session, article, "published", admin)
    session.commit()
    return article.id


@pytest.fixture
def articles(app):
    """A topic of our own with two published articles: Public Works' "Potholes: what we fix" (read by three
    residents, two of them from the report form, voted helpful twice and not helpful once) and Utilities'
    "Water bill due dates" (read once, voted not helpful, sent to a resident by a dispatcher)."""
    from core.extensions import db
    from core.services.cases import create_case
    from plugins.knowledge.models import Topic

    t = tag()
    with app.test_request_context():
        s = db.session
        topic = Topic(code=f"roads-{t}", name=f"Roads {t}", translations={"fr": {"name": f"Routes {t}"}})
        s.add(topic)
        s.flush()
        publish(s, f"potholes-{t}", {"en": {"title": f"Potholes: what we fix {t}", "summary": "Holes in city streets."},
                                     "fr": {"title": f"Nids-de-poule : ce que nous réparons {t}"}}, topic, "PW")
        bills = publish(s, f"water-bills-{t}", {"en": {"title": f"Water bill due dates {t}", "summary": "The 15th of each month."}},
                        topic, "UTIL")
        case_id = create_case(s, service_code="POTHOLE", attributes={"SIZE": "small"}, description="Question about my bill").id
        s.remove()

    def read(client, slug, from_report=False):
        url = f"/help/articles/{slug}" + ("?from=report&service=POTHOLE" if from_report else "")
        page = client.get(url)
        assert page.status_code == 200
        return csrf_token(page.get_data(as_text=True))

    def vote(client, slug, token, answer):
        assert client.post(f"/help/articles/{slug}/vote", data={"csrf_token": token, "helpful": answer}).status_code == 302

    for n, (from_report, answer) in enumerate(((True, "yes"), (True, "yes"), (False, "no"))):
        resident = browser(app)
        vote(resident, f"potholes-{t}", read(resident, f"potholes-{t}", from_report), answer)
    resident = browser(app)
    vote(resident, f"water-bills-{t}", read(resident, f"water-bills-{t}"), "no")

    from tests.conftest import login

    agent = login(app.test_client(), "dispatcher")
    page = agent.get(f"/caseview/show/{case_id}").get_data(as_text=True)
    sent = agent.post(f"/knowledge/desk/cases/{case_id}/send", data={"csrf_token": csrf_token(page), "article": bills})
    assert sent.status_code == 302
    return {"topic": f"roads-{t}", "t": t, "potholes": f"Potholes: what we fix {t}", "bills": f"Water bill due dates {t}",
            "potholes_fr": f"Nids-de-poule : ce que nous réparons {t}"}


MEASURES = ["views", "helpful", "not_helpful", "helpful_rate", "deflections", "sent"]


def test_a_manager_sees_views_votes_deflections_and_sendings_per_article(app, articles):
    spec = {"subject": "articles", "period": "last_7_days", "filters": {"topic": [articles["topic"]]}, "group": "article",
            "measures": MEASURES}
    result = report(app, "dispatcher", spec)

    assert result.totals == [4, 2, 2, 50.0, 2, 1]
    rows = by_label(result)
    assert rows[articles["potholes"]] == [3, 2, 1, pytest.approx(200 / 3), 2, 0]
    assert rows[articles["bills"]] == [1, 0, 1, 0.0, 0, 1]


def test_articles_by_topic_department_and_kind_in_the_readers_language(app, articles):
    base = {"subject": "articles", "period": "all", "filters": {"topic": [articles["topic"]]}, "measures": ["views", "sent"]}
    t = articles["t"]
    assert by_label(report(app, "dispatcher", {**base, "group": "topic"})) == {f"Roads {t}": [4, 1]}
    assert by_label(report(app, "dispatcher", {**base, "group": "topic"}, locale="fr")) == {f"Routes {t}": [4, 1]}
    assert by_label(report(app, "dispatcher", {**base, "group": "department"})) == {
        "Public Works - Streets": [3, 0], "Utilities - Water and Sewer": [1, 1]}
    french = by_label(report(app, "dispatcher", {**base, "group": "article"}, locale="fr"))
    assert set(french) == {articles["potholes_fr"], articles["bills"]}  # no French text: the English title
    kinds = by_label(report(app, "dispatcher", {**base, "group": "kind", "measures": ["views"]}))
    assert set(kinds) == {"View", "Helpful vote", "Not helpful vote", "Deflection", "Sent to a resident"}


def test_filters_on_kind_status_audience_and_department(app, articles):
    base = {"subject": "articles", "period": "all", "measures": ["views", "deflections"]}
    topic = {"topic": [articles["topic"]]}
    assert report(app, "admin", {**base, "filters": {**topic, "audience": ["public"], "status": ["published"]}}).totals == [4, 2]
    assert report(app, "admin", {**base, "filters": {**topic, "audience": ["internal"]}}).totals == [None, None]
    assert report(app, "admin", {**base, "filters": {**topic, "department": ["UTIL"]}}).totals == [1, 0]
    assert report(app, "admin", {**base, "filters": {**topic, "kind": ["deflected"]}}).totals == [0, 2]


def test_each_department_reports_on_its_own_articles_and_editors_on_all(app, articles):
    from core.extensions import db
    from core.reports.engine import ReportDenied
    from core.services.users import create_user

    editor = f"editor_{tag()}"
    with app.app_context():
        create_user(editor, PASSWORD, "Knowledge editor", email=f"{editor}@city.example")
        db.session.remove()
    spec = {"subject": "articles", "period": "all", "filters": {"topic": [articles["topic"]]}, "measures": ["views"]}
    assert report(app, "pw_staff", spec).totals == [3]
    assert report(app, "util_staff", spec).totals == [1]
    assert report(app, editor, spec).totals == [4]
    assert report(app, "admin", spec).totals == [4]
    for username in ("crew", "resident"):
        with pytest.raises(ReportDenied):
            report(app, username, spec)


def test_every_grouping_and_measure_of_articles_runs(app, articles):
    assert every_combination(app, "dispatcher", "articles") >= 8
    assert every_combination(app, "pw_staff", "articles") >= 8
