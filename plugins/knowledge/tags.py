"""The staff tag page ``/knowledge/tags/<name>``: the cases (within the user's case scope) and the articles
that carry a tag, such as ``hurricane`` -- both listed a page at a time."""
from __future__ import annotations

from pathlib import Path

from flask import Blueprint, abort, current_app, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import func, select

from core.extensions import db
from core.models import Case, Tag, case_tag, normalise_tag
from core.security import case_scope
from plugins.knowledge.models import Article, article_tag

PER_PAGE = 25
STATUS_LABELS = {"draft": _l("Draft"), "in_review": _l("In review"), "published": _l("Published"), "archived": _l("Archived")}
HERE = Path(__file__).resolve().parent

tags = Blueprint("knowledge_tags", __name__, url_prefix="/knowledge/tags", template_folder=str(HERE / "templates"))


def _page(name: str) -> int:
    raw = request.args.get(name, "1")
    if not raw.isdigit() or not 1 <= int(raw) <= 10_000:
        abort(400, description=gettext("%(field)s must be a whole number from 1 to 10000", field=name))
    return int(raw)


def _paged(query, page: int):
    total = db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    rows = db.session.scalars(query.limit(PER_PAGE).offset((page - 1) * PER_PAGE)).unique().all()
    return rows, total


@tags.get("/<name>")
def tag_page(name: str):
    """Cases and articles tagged ``name`` (staff who may list cases only)."""
    if not current_user.is_authenticated:
        return redirect(url_for(current_app.appbuilder.sm.auth_view.endpoint + ".login", next=request.full_path))
    if not current_app.appbuilder.sm.has_access("can_list", "CaseView"):
        abort(403, description=gettext("Only city staff see tagged cases and articles."))
    wanted = normalise_tag(name)
    tag = db.session.scalar(select(Tag).where(Tag.name == wanted)) if wanted else None
    case_page, article_page = _page("page"), _page("articles_page")
    cases, case_total, articles, article_total = [], 0, [], 0
    if tag is not None:
        cases_query = select(Case).where(Case.id.in_(select(case_tag.c.case_id).where(case_tag.c.tag_id == tag.id)))
        scope = case_scope()
        if scope is not None:
            cases_query = cases_query.where(scope)
        cases, case_total = _paged(cases_query.order_by(Case.created_at.desc(), Case.id.desc()), case_page)
        articles_query = select(Article).where(
            Article.id.in_(select(article_tag.c.article_id).where(article_tag.c.tag_id == tag.id)),
            Article.status != "archived").order_by(Article.updated_at.desc(), Article.id.desc())
        articles, article_total = _paged(articles_query, article_page)
    return render_template(
        "knowledge/tags.html", appbuilder=current_app.appbuilder, base_template=current_app.appbuilder.base_template,
        tag_name=wanted or name, cases=cases, case_total=case_total, case_page=case_page, articles=articles,
        article_total=article_total, article_page=article_page, per_page=PER_PAGE, status_labels=STATUS_LABELS,
    )
