"""The public help centre (/help/), "Was this helpful?", views and deflections from the report form (task K3)."""
from __future__ import annotations

import random

from tests.conftest import csrf_token
from tests.plugins.knowledge.k3_content import events, make_article, make_faq, make_topic, unique


def browser(app, language: str | None = None):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = f"127.{random.randint(1, 254)}.{random.randint(1, 254)}.{random.randint(1, 254)}"
    if language:
        client.environ_base["HTTP_ACCEPT_LANGUAGE"] = language
    return client


def test_resident_browses_a_topic_and_reads_its_public_articles_and_faq_only(app):
    topic = make_topic(app)
    _, public = make_article(app, title="When is bulk trash collected?", summary="Every second Monday.", topic=topic)
    _, internal = make_article(app, title="Crew overtime codes", audience="internal", topic=topic)
    _, draft = make_article(app, title="Draft about mulch", status="draft", topic=topic)
    make_faq(app, topic, "Can I put tyres out?", "No: take them to the depot.")
    make_faq(app, topic, "Staff-only FAQ question", "Secret answer", audience="internal")
    client = browser(app)

    home = client.get("/help/").get_data(as_text=True)
    assert f'href="/help/topics/{topic}"' in home
    page = client.get(f"/help/topics/{topic}")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "When is bulk trash collected?" in text and "Every second Monday." in text
    assert "Can I put tyres out?" in text and "take them to the depot" in text
    assert "Crew overtime codes" not in text and "Draft about mulch" not in text and "Staff-only FAQ" not in text
    assert client.get(f"/help/articles/{public}").status_code == 200
    assert client.get(f"/help/articles/{internal}").status_code == 404
    assert client.get(f"/help/articles/{draft}").status_code == 404
    assert client.get("/help/topics/no-such-topic").status_code == 404


def test_french_reader_gets_the_translation_or_a_visible_not_translated_notice(app):
    _, both = make_article(app, title="Hurricane shutters", summary="How to fit them.",
                           fr=("Volets anticycloniques", "Comment les poser.", "Fixez-les avant la tempête."))
    _, english_only = make_article(app, title="Sandbag stations", summary="Where to get sandbags.")
    client = browser(app, "fr-FR,fr;q=0.9")

    translated = client.get(f"/help/articles/{both}").get_data(as_text=True)
    assert "Volets anticycloniques" in translated and "Fixez-les avant la tempête." in translated
    assert "notice-untranslated" not in translated
    fallback = client.get(f"/help/articles/{english_only}").get_data(as_text=True)
    assert "Sandbag stations" in fallback and "notice-untranslated" in fallback and 'lang="en"' in fallback


def test_was_this_helpful_keeps_one_vote_per_visitor_and_a_second_vote_replaces_the_first(app):
    article_id, slug = make_article(app, title="Reporting a water leak")
    client, other = browser(app), browser(app)
    page = client.get(f"/help/articles/{slug}").get_data(as_text=True)
    token = csrf_token(page)

    assert client.post(f"/help/articles/{slug}/vote", data={"csrf_token": token, "helpful": "yes"}).status_code == 302
    assert client.post(f"/help/articles/{slug}/vote", data={"csrf_token": token, "helpful": "no"}).status_code == 302
    other_page = other.get(f"/help/articles/{slug}").get_data(as_text=True)
    other.post(f"/help/articles/{slug}/vote", data={"csrf_token": csrf_token(other_page), "helpful": "yes"})

    votes = events(app, article_id, "helpful") + events(app, article_id, "not_helpful")
    assert sorted(kind for kind, _, _ in votes) == ["helpful", "not_helpful"]
    assert len({visitor for _, visitor, _ in votes}) == 2 and all(len(v) == 64 for _, v, _ in votes)
    assert 'value="no" aria-pressed="true"' in client.get(f"/help/articles/{slug}").get_data(as_text=True)

    bad = client.post(f"/help/articles/{slug}/vote", data={"csrf_token": token, "helpful": "maybe"})
    assert bad.status_code == 400 and "Was this helpful?" in bad.get_data(as_text=True)
    assert client.post(f"/help/articles/{slug}/vote", data={"helpful": "yes"}).status_code == 400  # no CSRF token


def test_reading_an_article_counts_one_view_per_visitor_per_day(app):
    article_id, slug = make_article(app, title="Recycling calendar")
    first, second = browser(app), browser(app)
    for _ in range(3):
        assert first.get(f"/help/articles/{slug}").status_code == 200
    second.get(f"/help/articles/{slug}")
    views = events(app, article_id, "view")
    assert len(views) == 2 and views[0][1] != views[1][1]


def test_report_form_suggests_public_articles_for_the_service_and_they_count_as_deflections(app):
    public_id, public = make_article(app, title="Debris: what the city removes", summary="Branches and furniture in lanes.", services=["ROAD_DEBRIS"])
    _, internal = make_article(app, title="Debris crew radio codes", audience="internal", services=["ROAD_DEBRIS"])
    client = browser(app)

    form = client.get("/portal/report/ROAD_DEBRIS").get_data(as_text=True)
    assert "These articles may answer your question" in form
    assert f"/help/articles/{public}?from=report&amp;service=ROAD_DEBRIS" in form
    assert internal not in form and "radio codes" not in form

    read = client.get(f"/help/articles/{public}?from=report&service=ROAD_DEBRIS").get_data(as_text=True)
    assert 'href="/portal/report/ROAD_DEBRIS"' in read  # back to the report
    client.get(f"/help/articles/{public}?from=report&service=ROAD_DEBRIS")
    assert [kind for kind, _, _ in events(app, public_id, "deflected")] == ["deflected"]  # once per window


def test_a_report_sent_after_reading_cancels_the_deflection_but_others_stay(app):
    article_id, slug = make_article(app, title="Fallen branch on the road?", services=["ROAD_DEBRIS"])
    reader, leaver = browser(app), browser(app)
    leaver.get(f"/help/articles/{slug}?from=report&service=ROAD_DEBRIS")
    reader.get(f"/help/articles/{slug}?from=report&service=ROAD_DEBRIS")
    assert len(events(app, article_id, "deflected")) == 2

    form = reader.get("/portal/report/ROAD_DEBRIS").get_data(as_text=True)
    description = unique("A mattress in the left lane")
    sent = reader.post("/portal/report/ROAD_DEBRIS", data={
        "csrf_token": csrf_token(form), "action": "send", "description": description,
        "lat": f"{28.5 + random.random() * 2:.6f}", "long": f"{-82.5 + random.random() * 2:.6f}",
    }, content_type="multipart/form-data")
    assert sent.status_code == 302, sent.get_data(as_text=True)[:2000]
    left = events(app, article_id, "deflected")
    assert len(left) == 1 and len(events(app, article_id, "view")) == 2


def test_report_form_suggestions_follow_what_the_resident_types_as_json(app):
    word = unique("zebrawood").replace("-", "")
    _, slug = make_article(app, title=f"Fallen {word} trees", summary="Who clears them.")
    _, hidden = make_article(app, title=f"Internal {word} procedure", audience="internal")
    client = browser(app)

    answer = client.get(f"/portal/report/ROAD_DEBRIS/suggestions?text={word}")
    assert answer.status_code == 200
    rows = answer.get_json()["suggestions"]
    assert rows[0]["title"] == f"Fallen {word} trees"  # the typed words first, then the service's articles
    assert rows[0]["url"].endswith(f"/help/articles/{slug}?from=report&service=ROAD_DEBRIS")
    assert hidden not in answer.get_data(as_text=True)
    assert client.get("/portal/report/NO_SUCH/suggestions?text=x").status_code == 404


def test_help_centre_search_lists_public_articles_and_faq_with_highlighted_words(app):
    word = unique("quokka").replace("-", "")
    topic = make_topic(app)
    _, slug = make_article(app, title=f"The {word} permit", summary="Who needs one.", body=f"Apply for a {word} permit at City Hall.", topic=topic)
    faq_id = make_faq(app, topic, f"Is a {word} allowed in parks?", "Only on a leash.")
    make_article(app, title=f"Internal {word} memo", audience="internal")
    client = browser(app)

    page = client.get(f"/help/search?q={word}").get_data(as_text=True)
    assert f'href="/help/articles/{slug}"' in page and f"/help/topics/{topic}#faq-{faq_id}" in page
    assert f"<mark>{word}</mark>" in page and "memo" not in page
    nothing = client.get("/help/search?q=" + unique("nothingatall").replace("-", "")).get_data(as_text=True)
    assert "Nothing matches" in nothing
    long_query = client.get("/help/search?q=" + "a" * 500)
    assert long_query.status_code == 200 and "at most 200 characters" in long_query.get_data(as_text=True)
