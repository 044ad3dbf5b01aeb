"""Suggested articles on the agent's desk: the "Suggested articles" panel of the staff case page (service,
tags and description of the case; public and internal articles, marked) with "Send to resident", which
adds a public note (title, summary, public link) and records a ``sent`` event.  Internal articles are
never sent."""
from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import force_locale, gettext
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select

from core.extensions import db
from core.i18n_content import current_locale, default_locale
from core.models import Case
from core.records import Panel, Suggestion
from core.security import case_access
from core.services.cases import Actor, CaseError, add_note
from plugins.knowledge.models import Article, KnowledgeEvent
from plugins.knowledge.suggest import Match, suggestions, text_for

desk = Blueprint("knowledge_desk", __name__, url_prefix="/knowledge/desk")


def may_send(case: Case) -> bool:
    """Who may send: staff who may act on the case (the same right as writing a public note)."""
    if not getattr(current_user, "is_authenticated", False):
        return False
    from core.views.case_page import page_data

    sm = current_app.appbuilder.sm
    return sm.has_access("can_act", "CaseView") and page_data(case).access == "full"  # shared with the case page


def case_matches(case: Case) -> list[Match]:
    service = case.service_type.code if case.service_type is not None else None
    tags = [t.name for t in case.tags]
    return suggestions(db.session, service, case.description or "", tags, current_locale(), audience="all")


def case_panels(case) -> list:
    matches = case_matches(case)
    if not matches:
        return []
    html = render_template("knowledge/desk_panel.html", case=case, matches=matches, can_send=may_send(case))
    return [Panel(_l("Suggested articles"), html, order=60)]


def public_url(article: Article, **params) -> str:
    return url_for("knowledge_help.article", slug=article.slug, _external=True, **params)


def as_suggestions(matches: list[Match], audience: str, **params) -> list[Suggestion]:
    """Hook records: public articles link to the help centre; internal ones (staff only) carry no public link."""
    out = []
    for m in matches:
        internal = m.article.audience != "public"
        if internal and audience != "all":
            continue
        url = "" if internal else url_for("knowledge_help.article", slug=m.article.slug, **params)
        out.append(Suggestion(m.text.title, url, m.text.summary or "", "article", internal))
    return out


def note_text(article: Article) -> str:
    """The public note: title, summary and public link, in the city's default language (a case has no language)."""
    locale = default_locale()
    text, _ = text_for(article, locale)
    with force_locale(locale):
        link = gettext("Read more: %(url)s", url=public_url(article))
    return "\n\n".join(p for p in (text.title, text.summary or "", link) if p)


@desk.route("/cases/<int:case_id>/send", methods=["POST"])
def send(case_id: int):
    case = db.session.get(Case, case_id)
    if case is None or not getattr(current_user, "is_authenticated", False) or case_access(case) is None:
        abort(404)
    if not may_send(case):
        abort(403)
    back = redirect(url_for("CaseView.show", pk=case.id))
    try:
        article_id = int(request.form.get("article", ""))
    except ValueError:
        return gettext("%(field)s: choose an article.", field=gettext("Article")), 400
    article = db.session.scalar(select(Article).where(
        Article.id == article_id, Article.status == "published", Article.audience == "public"))
    if article is None:  # internal, unpublished or unknown: never sent to a resident
        return gettext("%(field)s: only a published public article can be sent to a resident.", field=gettext("Article")), 400
    try:
        add_note(db.session, case, note_text(article), Actor.of(current_user), public=True, data={"knowledge_article": article.slug})
    except CaseError:
        db.session.rollback()
        flash(gettext("The article could not be sent."), "danger")
        return back
    db.session.add(KnowledgeEvent(kind="sent", article_id=article.id, case_id=case.id))
    db.session.commit()
    flash(gettext("The article “%(title)s” was sent to the resident as a public note.", title=text_for(article, current_locale())[0].title), "success")
    return back
