"""Suggested articles on the agent's desk: the case page panel, "Send to resident", the phone desk (task K3)."""
from __future__ import annotations

import sqlalchemy as sa

from tests.conftest import csrf_token
from tests.plugins.knowledge.k3_content import events, make_article, unique


def new_case(app, service: str = "ROAD_DEBRIS", description: str = "", tags=()) -> int:
    from core.extensions import db
    from core.services.cases import create_case

    with app.app_context():
        case = create_case(db.session, service_code=service, description=description or unique("Tyre in the lane"), tags=list(tags))
        case_id = case.id
        db.session.remove()
    return case_id


def public_notes(app, case_id: int) -> list[str]:
    from core.extensions import db
    from core.models import CaseEvent

    with app.app_context():
        rows = db.session.scalars(sa.select(CaseEvent.body).where(CaseEvent.case_id == case_id, CaseEvent.kind == "public_note")).all()
        db.session.remove()
    return list(rows)


def test_case_page_suggests_public_and_internal_articles_by_service_and_tag_marked(app, client_for):
    tag = unique("hurricane")
    _, public = make_article(app, title="Storm debris pick-up", summary="Put it at the curb.", services=["ROAD_DEBRIS"])
    internal_id, _ = make_article(app, title="Debris contractor contacts", audience="internal", tags=[tag])
    _, draft = make_article(app, title="Unfinished debris draft", status="draft", services=["ROAD_DEBRIS"])
    case_id = new_case(app, tags=[tag])

    page = client_for("dispatcher").get(f"/caseview/show/{case_id}").get_data(as_text=True)
    assert "Suggested articles" in page
    assert "Storm debris pick-up" in page and f'href="/help/articles/{public}"' in page
    assert "Debris contractor contacts" in page and "Internal: staff only" in page
    assert "Unfinished debris draft" not in page
    # Only the public article has a "Send to resident" button.
    assert page.count("Send to resident") == page.count(f'action="/knowledge/desk/cases/{case_id}/send"') >= 1
    assert f'name="article" value="{internal_id}"' not in page


def test_agent_sends_a_public_article_to_the_resident_as_a_public_note(app, client_for):
    article_id, slug = make_article(app, title="Bulk pick-up days", summary="Mondays, north of SR 100.", services=["ROAD_DEBRIS"])
    case_id = new_case(app)
    client = client_for("dispatcher")
    page = client.get(f"/caseview/show/{case_id}").get_data(as_text=True)

    sent = client.post(f"/knowledge/desk/cases/{case_id}/send", data={"csrf_token": csrf_token(page), "article": article_id})
    assert sent.status_code == 302 and sent.headers["Location"].endswith(f"/caseview/show/{case_id}")
    [note] = public_notes(app, case_id)
    assert "Bulk pick-up days" in note and "Mondays, north of SR 100." in note and f"/help/articles/{slug}" in note
    assert events(app, article_id, "sent") == [("sent", None, case_id)]


def test_an_internal_article_is_never_sent_to_a_resident(app, client_for):
    article_id, _ = make_article(app, title="Contractor rates", audience="internal", services=["ROAD_DEBRIS"])
    case_id = new_case(app)
    client = client_for("dispatcher")
    token = csrf_token(client.get(f"/caseview/show/{case_id}").get_data(as_text=True))

    refused = client.post(f"/knowledge/desk/cases/{case_id}/send", data={"csrf_token": token, "article": article_id})
    assert refused.status_code == 400 and "only a published public article" in refused.get_data(as_text=True)
    bad = client.post(f"/knowledge/desk/cases/{case_id}/send", data={"csrf_token": token, "article": "abc"})
    assert bad.status_code == 400 and "Article" in bad.get_data(as_text=True)
    assert public_notes(app, case_id) == [] and events(app, article_id, "sent") == []


def test_sending_needs_a_signed_in_agent_who_may_act_on_the_case_and_a_csrf_token(app, client_for):
    article_id, slug = make_article(app, title="Lane closures", services=["ROAD_DEBRIS"])
    case_id = new_case(app)  # a Public Works case
    util = client_for("util_staff")  # Utilities staff: not their case
    util_token = csrf_token(util.get(f"/help/articles/{slug}").get_data(as_text=True))
    assert util.post(f"/knowledge/desk/cases/{case_id}/send", data={"csrf_token": util_token, "article": article_id}).status_code == 404
    guest = app.test_client()
    guest_token = csrf_token(guest.get(f"/help/articles/{slug}").get_data(as_text=True))
    assert guest.post(f"/knowledge/desk/cases/{case_id}/send", data={"csrf_token": guest_token, "article": article_id}).status_code == 404
    dispatcher = client_for("dispatcher")
    assert dispatcher.post(f"/knowledge/desk/cases/{case_id}/send", data={"article": article_id}).status_code == 400  # no CSRF
    assert public_notes(app, case_id) == [] and events(app, article_id, "sent") == []


def test_phone_desk_shows_suggested_articles_for_the_chosen_service(app, client_for):
    make_article(app, title="Debris on your street: what to tell callers", services=["ROAD_DEBRIS"])
    make_article(app, title="Debris call script", audience="internal", services=["ROAD_DEBRIS"])
    page = client_for("dispatcher").get("/calls/new/?service=ROAD_DEBRIS").get_data(as_text=True)
    suggestions = page.split('id="call-suggestions"', 1)[1].split('id="information-call"', 1)[0]
    assert "Debris on your street: what to tell callers" in suggestions
    assert "Debris call script" in suggestions and "Internal: staff only" in suggestions
