"""The public help centre at /help/: topics, a topic's articles and FAQ, search, an article in the reader's
language (with a visible notice when it is not translated) and "Was this helpful?".

Only published public content is ever shown here.  Reading an article from the report form
(``?from=report&service=X``) counts a deflection; sending a report afterwards cancels it
(``visitors.cancel_deflections``, called from the ``case_created`` hook).  K2 adds its API blueprint to
``blueprints()``."""
from __future__ import annotations

from pathlib import Path

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from sqlalchemy import select

from core.extensions import db
from core.i18n_content import current_locale, default_locale, localized
from plugins.knowledge import search as text_search
from plugins.knowledge import visitors
from plugins.knowledge.models import Article, Faq, Topic
from plugins.knowledge.suggest import text_for

HERE = Path(__file__).resolve().parent
MAX_QUERY = 200

help_centre = Blueprint("knowledge_help", __name__, url_prefix="/help", template_folder=str(HERE / "templates"),
                        static_folder=str(HERE / "static"), static_url_path="/static")


@help_centre.context_processor
def _globals():
    """The portal's layout when the intake plugin is on, else the help centre's own."""
    layout = "portal/base.html" if "portal.static" in current_app.view_functions else "knowledge/help_layout.html"
    return {"current_app": current_app, "layout": layout, "localized": localized}


def _public(query, model):
    return query.where(model.status == "published", model.audience == "public")


def faq_text(faq: Faq, locale: str):
    by_locale = {t.locale: t for t in faq.texts}
    return by_locale.get(locale) or by_locale.get(default_locale()) or next(iter(by_locale.values()), None)


def _cards(articles, locale: str) -> list[dict]:
    cards = []
    for article in articles:
        text, translated = text_for(article, locale)
        if text is not None:
            cards.append({"article": article, "text": text, "translated": translated})
    return cards


@help_centre.route("/")
def home():
    topics = db.session.scalars(select(Topic).order_by(Topic.position, Topic.name)).all()
    return render_template("knowledge/help_home.html", topics=topics)


@help_centre.route("/topics/<code>")
def topic(code: str):
    found = db.session.scalar(select(Topic).where(Topic.code == code))
    if found is None:
        abort(404)
    locale = current_locale()
    articles = db.session.scalars(_public(select(Article), Article).where(Article.topic_id == found.id).order_by(Article.slug)).all()
    faqs = db.session.scalars(_public(select(Faq), Faq).where(Faq.topic_id == found.id).order_by(Faq.position, Faq.id)).all()
    entries = [(faq, faq_text(faq, locale)) for faq in faqs]
    return render_template("knowledge/help_topic.html", topic=found, cards=_cards(articles, locale),
                           faqs=[(faq, text) for faq, text in entries if text is not None])


@help_centre.route("/search")
def search():
    query = (request.args.get("q") or "").strip()
    if len(query) > MAX_QUERY:
        flash(gettext("%(field)s: at most %(limit)s characters.", field=gettext("Search"), limit=MAX_QUERY), "warning")
        query = query[:MAX_QUERY]
    hits = text_search.search(db.session, query, current_locale(), audience="public") if query else []
    slugs = {}
    ids = [h.id for h in hits if h.kind == "article"]
    if ids:
        rows = db.session.execute(_public(select(Article.id, Article.slug), Article).where(Article.id.in_(ids)))
        slugs = dict(rows.all())
    faq_topics = {}
    faq_ids = [h.id for h in hits if h.kind == "faq"]
    if faq_ids:
        rows = db.session.execute(
            _public(select(Faq.id, Topic.code), Faq).join(Topic, Topic.id == Faq.topic_id).where(Faq.id.in_(faq_ids))
        )
        faq_topics = dict(rows.all())
    results = []
    for hit in hits:  # whatever the index says, only what is public now is listed
        if hit.kind == "article" and hit.id in slugs:
            results.append((hit, url_for(".article", slug=slugs[hit.id])))
        elif hit.kind == "faq" and hit.id in faq_topics:
            results.append((hit, url_for(".topic", code=faq_topics[hit.id], _anchor=f"faq-{hit.id}")))
    return render_template("knowledge/help_search.html", query=query, results=results)


def _public_article_or_404(slug: str) -> Article:
    article = db.session.scalar(_public(select(Article), Article).where(Article.slug == slug))
    if article is None:
        abort(404)
    return article


@help_centre.route("/articles/<slug>")
def article(slug: str):
    found = _public_article_or_404(slug)
    locale = current_locale()
    text, translated = text_for(found, locale)
    if text is None:
        abort(404)
    from_report = request.args.get("from") == "report"
    service = (request.args.get("service") or "").strip()[:64] if from_report else ""
    visitors.record_read(db.session, found.id, locale, from_report)
    back = None
    if service and "portal.report" in current_app.view_functions:
        back = url_for("portal.report", service_code=service)
    return render_template("knowledge/help_article.html", article=found, text=text, translated=translated,
                           vote=visitors.current_vote(db.session, found.id), back=back,
                           from_report=from_report, service=service)


@help_centre.route("/articles/<slug>/vote", methods=["POST"])
def vote(slug: str):
    found = _public_article_or_404(slug)
    answer = request.form.get("helpful", "")
    if answer not in ("yes", "no"):
        return gettext("%(field)s: choose “yes” or “no”.", field=gettext("Was this helpful?")), 400
    visitors.vote(db.session, found.id, answer == "yes", current_locale())
    flash(gettext("Thank you for your answer."), "success")
    return redirect(url_for(".article", slug=found.slug, _anchor="helpful"))


def blueprints() -> list:
    from plugins.knowledge import api
    from plugins.knowledge.desk import desk

    return [help_centre, desk, *api.blueprints()]
