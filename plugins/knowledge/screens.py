"""Staff screens of the knowledge base (menu Knowledge): Articles, FAQ, Topics, Measures.

Who does what (roles in ``role_specs``; the department checks are in ``content.may_edit``/``may_publish``):

- department staff write and submit for review the articles and FAQ of their departments;
- a "Knowledge editor" writes any article; a "Knowledge reviewer" also publishes, archives and restores
  the articles of their departments (department membership as for cases); admins do everything;
- dispatchers read articles and FAQ.

An article's page shows its texts side by side with the workflow buttons; a published article edited or
restored keeps its previous state in the history.
"""
from __future__ import annotations

from datetime import date

from babel import Locale
from flask import abort, flash, redirect, request, url_for
from flask_appbuilder import BaseView, expose
from flask_appbuilder.fieldwidgets import BS3TextAreaFieldWidget, BS3TextFieldWidget
from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_appbuilder.security.decorators import has_access
from flask_babel import LazyString, get_locale, gettext
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select
from wtforms import StringField, TextAreaField

from core.extensions import db
from core.records import RoleSpec, ViewSpec
from core.security import sees_all_cases, user_department_ids
from core.views.base import CivicModelView
from core.views.catalog import TranslationsMixin, translations_field
from plugins.knowledge import content, measures
from plugins.knowledge.models import Article, Faq, Topic

STATUS_LABELS = content.STATUS_LABELS
AUDIENCE_LABELS = {"public": _l("Public"), "internal": _l("Internal (staff only)")}
def _language_name(code: str) -> LazyString:
    """The language's name in the reader's language, from Babel's data ("English" / "anglais"): no msgid, so
    the language switcher's own "English" is never taken for untranslated text."""
    return LazyString(lambda: Locale.parse(str(get_locale() or "en")).languages.get(code, code))


LANGUAGE_LABELS = {code: _language_name(code) for code in ("en", "fr")}
FIELD_LABELS = {
    "slug": _l("Address"), "audience": _l("Audience"), "status": _l("Status"), "version": _l("Version"),
    "locale": _l("Language"), "title": _l("Title"), "summary": _l("Summary"), "body": _l("Text (Markdown)"),
    "question": _l("Question"), "answer": _l("Answer (Markdown)"),
}
ACTION_LABELS = {"in_review": _l("Submit for review"), "published": _l("Publish"), "archived": _l("Archive"),
                 "draft": _l("Back to draft")}


def field_label(key: str) -> str:
    """``title_fr`` -> "Title (French)"."""
    name, _, locale = key.rpartition("_") if key.rpartition("_")[2] in LANGUAGE_LABELS else (key, "", "")
    label = str(FIELD_LABELS.get(name, name))
    return gettext("%(field)s (%(language)s)", field=label, language=LANGUAGE_LABELS[locale]) if locale else label


def flash_errors(exc: content.ContentError) -> None:
    for key, messages in exc.errors.items():
        for message in messages:
            flash(gettext("%(field)s: %(message)s", field=field_label(key), message=message), "danger")


def refuse(exc: content.ContentError) -> Exception:
    """FAB flashes the text of an exception raised in pre_add/pre_update: one readable sentence."""
    return ValueError(" ".join(gettext("%(field)s: %(message)s", field=field_label(k), message=m)
                               for k, ms in exc.errors.items() for m in ms))


def _text_fields(names: dict[str, tuple]) -> dict:
    fields = {}
    for locale in content.FORM_LOCALES:
        for name, (kind, label) in names.items():
            widget = BS3TextAreaFieldWidget() if kind is TextAreaField else BS3TextFieldWidget()
            fields[f"{name}_{locale}"] = kind(_l("%(field)s (%(language)s)", field=label, language=LANGUAGE_LABELS[locale]), widget=widget)
    return fields


ARTICLE_TEXTS = {"title": (StringField, FIELD_LABELS["title"]), "summary": (TextAreaField, FIELD_LABELS["summary"]),
                 "body": (TextAreaField, FIELD_LABELS["body"])}
FAQ_TEXTS = {"question": (StringField, FIELD_LABELS["question"]), "answer": (TextAreaField, FIELD_LABELS["answer"])}


def _form_texts(names) -> dict[str, dict]:
    return {locale: {name: request.form.get(f"{name}_{locale}", "") for name in names} for locale in content.FORM_LOCALES}


def _prefill_texts(form, item, names) -> None:
    for text in item.texts:
        for name in names:
            field = getattr(form, f"{name}_{text.locale}", None)
            if field is not None:
                field.data = getattr(text, name)


def _first_title(texts) -> str:
    found, _ = content.text_for_rows(texts, content.DEFAULT_LOCALE, "title")
    return found or ""


class ArticleView(CivicModelView):
    datamodel = SQLAInterface(Article)
    list_title = _l("Articles")
    show_title = _l("Article")
    add_title = _l("Write an article")
    edit_title = _l("Edit article")
    list_columns = ["slug", "texts", "status", "audience", "owner_department", "topic", "review_by"]
    search_columns = ["slug", "status", "audience", "owner_department", "topic", "tags"]
    order_columns = ["slug", "status", "audience", "review_by"]
    base_order = ("slug", "asc")
    meta = ["slug", "audience", "topic", "owner_department", "services", "tags", "review_by"]
    add_columns = edit_columns = meta + [f"{n}_{loc}" for loc in content.FORM_LOCALES for n in ARTICLE_TEXTS]
    add_form_extra_fields = edit_form_extra_fields = _text_fields(ARTICLE_TEXTS)
    base_permissions = ["can_list", "can_show", "can_add", "can_edit", "can_workflow", "can_history", "can_restore"]
    formatters_columns = {
        "texts": _first_title,
        "status": lambda v: STATUS_LABELS.get(v, v),
        "audience": lambda v: AUDIENCE_LABELS.get(v, v),
    }
    label_columns = {
        "slug": FIELD_LABELS["slug"], "texts": _l("Title"), "status": _l("Status"), "audience": _l("Audience"),
        "owner_department": _l("Owner department"), "topic": _l("Topic"), "review_by": _l("Review by"),
        "services": _l("Related services"), "tags": _l("Tags"),
    }
    description_columns = {
        "slug": _l("The article's web address, such as hurricane-debris-pickup."),
        "audience": _l("public or internal (internal articles are never shown to residents)."),
    }
    show_template = "knowledge/staff_article_show.html"

    # ---- add and edit: the texts go through the content service

    def prefill_form(self, form, pk):
        _prefill_texts(form, self.datamodel.get(pk), ARTICLE_TEXTS)

    def _apply(self, item) -> None:
        department_id = item.owner_department.id if item.owner_department else None
        if not content.may_edit(current_user, department_id):
            raise ValueError(gettext("You may only write the articles of your departments."))
        if item.status == "published" and not content.may_publish(current_user, department_id):
            raise ValueError(gettext("This article is published: only a reviewer of its department may change it. Move it back to draft first."))
        try:
            content.check_meta(item.slug or "", item.audience or "")
            content.set_article_texts(item, _form_texts(ARTICLE_TEXTS))
        except content.ContentError as exc:
            raise refuse(exc) from None

    def pre_add(self, item):
        item.status = "draft"
        item.created_by_id = current_user.id
        self._apply(item)

    def pre_update(self, item):
        self._apply(item)

    def post_add(self, item):
        content.article_changed(db.session, item, current_user)
        db.session.commit()

    def post_update(self, item):
        content.article_changed(db.session, item, current_user)
        db.session.commit()

    # ---- the article page, the workflow, the history

    def _article_or_404(self, pk) -> Article:
        article = db.session.get(Article, int(pk)) if str(pk).isdigit() and int(pk) < 2**31 else None
        if article is None:
            abort(404)
        return article

    @expose("/show/<pk>", methods=["GET"])
    @has_access
    def show(self, pk):
        article = self._article_or_404(pk)
        department_id = article.owner_department_id
        texts = {locale: content.text_for(article, locale) for locale in content.FORM_LOCALES}
        can_publish = content.may_publish(current_user, department_id)
        next_statuses = ()
        if content.may_edit(current_user, department_id) and (can_publish or article.status in ("draft", "in_review")):
            next_statuses = [s for s in content.TRANSITIONS[article.status] if s != "published" or can_publish]
        return self.render_template(
            self.show_template, article=article, texts=texts, languages=LANGUAGE_LABELS, status_labels=STATUS_LABELS,
            audience_labels=AUDIENCE_LABELS, action_labels=ACTION_LABELS,
            next_statuses=next_statuses, can_publish=can_publish,
            can_edit=content.may_edit(current_user, department_id) and self.appbuilder.sm.has_access("can_edit", "ArticleView"),
            title=gettext("Article"),
        )

    @expose("/workflow/<pk>", methods=["POST"])
    @has_access
    def workflow(self, pk):
        article = self._article_or_404(pk)
        to = request.form.get("status", "")
        if not content.may_edit(current_user, article.owner_department_id):
            abort(403, description=gettext("You may only change the articles of your departments."))
        if to in ("archived", "draft") and article.status in ("published", "archived") \
                and not content.may_publish(current_user, article.owner_department_id):
            abort(403, description=gettext("Only a reviewer of the owning department may take this article offline."))
        try:
            content.change_status(db.session, article, to, current_user)
        except content.ContentError as exc:
            db.session.rollback()
            flash_errors(exc)
            return redirect(url_for(".show", pk=article.id))
        db.session.commit()
        flash(gettext("Article “%(slug)s”: %(status)s.", slug=article.slug, status=STATUS_LABELS[to]), "success")
        return redirect(url_for(".show", pk=article.id))

    @expose("/history/<pk>", methods=["GET"])
    @has_access
    def history(self, pk):
        article = self._article_or_404(pk)
        versions = content.history(db.session, article)
        authors = {}
        ids = {v.author_id for v in versions if v.author_id}
        if ids:
            user_model = self.appbuilder.sm.user_model
            authors = {u.id: u.username for u in db.session.scalars(select(user_model).where(user_model.id.in_(ids)))}
        return self.render_template(
            "knowledge/staff_article_history.html", article=article, versions=versions, authors=authors,
            languages=LANGUAGE_LABELS, title=gettext("History of “%(slug)s”", slug=article.slug),
            can_restore=content.may_publish(current_user, article.owner_department_id)
            or (article.status != "published" and content.may_edit(current_user, article.owner_department_id)),
        )

    @expose("/restore/<pk>", methods=["POST"])
    @has_access
    def restore(self, pk):
        article = self._article_or_404(pk)
        number = request.form.get("number", "")
        if not (number.isdigit() and len(number) < 9):
            abort(400, description=gettext("%(field)s: %(message)s", field=gettext("Version"), message=gettext("a version number is expected")))
        allowed = content.may_publish(current_user, article.owner_department_id) or (
            article.status != "published" and content.may_edit(current_user, article.owner_department_id))
        if not allowed:
            abort(403, description=gettext("Only a reviewer of the owning department may restore a published article."))
        try:
            content.restore_version(db.session, article, int(number), current_user)
        except content.ContentError as exc:
            db.session.rollback()
            flash_errors(exc)
            return redirect(url_for(".history", pk=article.id))
        db.session.commit()
        flash(gettext("Version %(number)s restored.", number=number), "success")
        return redirect(url_for(".show", pk=article.id))


class FaqView(CivicModelView):
    datamodel = SQLAInterface(Faq)
    list_title = _l("FAQ")
    show_title = _l("Question")
    add_title = _l("Add a question")
    edit_title = _l("Edit question")
    list_columns = ["texts", "topic", "status", "audience", "position"]
    search_columns = ["topic", "status", "audience"]
    order_columns = ["status", "audience", "position"]
    base_order = ("position", "asc")
    add_columns = edit_columns = ["topic", "audience", "position"] + [f"{n}_{loc}" for loc in content.FORM_LOCALES for n in FAQ_TEXTS]
    show_columns = ["texts", "topic", "status", "audience", "position"]
    add_form_extra_fields = edit_form_extra_fields = _text_fields(FAQ_TEXTS)
    base_permissions = ["can_list", "can_show", "can_add", "can_edit", "can_workflow"]
    formatters_columns = {
        "texts": lambda texts: content.text_for_rows(texts, content.DEFAULT_LOCALE, "question")[0] or "",
        "status": lambda v: STATUS_LABELS.get(v, v),
        "audience": lambda v: AUDIENCE_LABELS.get(v, v),
    }
    label_columns = {"texts": _l("Question"), "topic": _l("Topic"), "status": _l("Status"), "audience": _l("Audience"),
                     "position": _l("Position")}

    def prefill_form(self, form, pk):
        _prefill_texts(form, self.datamodel.get(pk), FAQ_TEXTS)

    def _apply(self, item) -> None:
        if item.owner_department_id is not None and not content.may_edit(current_user, item.owner_department_id):
            raise ValueError(gettext("You may only write the questions of your departments."))
        if item.status == "published" and not content.may_publish(current_user, item.owner_department_id):
            raise ValueError(gettext("This question is published: only a reviewer may change it. Move it back to draft first."))
        if item.audience not in ("public", "internal"):
            raise refuse(content.ContentError({"audience": [gettext("must be public or internal")]}))
        try:
            content.set_faq_texts(item, _form_texts(FAQ_TEXTS))
        except content.ContentError as exc:
            raise refuse(exc) from None

    def pre_add(self, item):
        item.status = "draft"
        departments = list(db.session.scalars(user_department_ids(current_user)))
        item.owner_department_id = departments[0] if len(departments) == 1 else None
        self._apply(item)

    def pre_update(self, item):
        self._apply(item)

    def post_add(self, item):
        content.faq_changed(db.session, item)
        db.session.commit()

    def post_update(self, item):
        content.faq_changed(db.session, item)
        db.session.commit()

    def _faq_or_404(self, pk) -> Faq:
        faq = db.session.get(Faq, int(pk)) if str(pk).isdigit() and int(pk) < 2**31 else None
        if faq is None:
            abort(404)
        return faq

    @expose("/show/<pk>", methods=["GET"])
    @has_access
    def show(self, pk):
        faq = self._faq_or_404(pk)
        can_publish = content.may_publish(current_user, faq.owner_department_id)
        next_statuses = [s for s in content.TRANSITIONS[faq.status] if can_publish or s == "in_review"
                         or (s == "draft" and faq.status == "in_review")]
        return self.render_template(
            "knowledge/staff_faq_show.html", faq=faq, languages=LANGUAGE_LABELS, status_labels=STATUS_LABELS,
            audience_labels=AUDIENCE_LABELS, action_labels=ACTION_LABELS, next_statuses=next_statuses,
            texts={locale: content.faq_text_for(faq, locale) for locale in content.FORM_LOCALES},
            can_edit=self.appbuilder.sm.has_access("can_edit", "FaqView"), title=gettext("Question"),
        )

    @expose("/workflow/<pk>", methods=["POST"])
    @has_access
    def workflow(self, pk):
        faq = self._faq_or_404(pk)
        if faq.owner_department_id is not None and not content.may_edit(current_user, faq.owner_department_id):
            abort(403, description=gettext("You may only change the questions of your departments."))
        if faq.status in ("published", "archived") and not content.may_publish(current_user, faq.owner_department_id):
            abort(403, description=gettext("Only a reviewer may take this question offline."))
        try:
            content.change_faq_status(db.session, faq, request.form.get("status", ""), current_user)
        except content.ContentError as exc:
            db.session.rollback()
            flash_errors(exc)
            return redirect(url_for(".show", pk=faq.id))
        db.session.commit()
        flash(gettext("Question moved to: %(status)s.", status=STATUS_LABELS[faq.status]), "success")
        return redirect(url_for(".show", pk=faq.id))


class TopicView(TranslationsMixin, CivicModelView):
    datamodel = SQLAInterface(Topic)
    translatable = ("name",)
    add_form_extra_fields = edit_form_extra_fields = {"translations_json": translations_field(("name",), '{"fr": {"name": "Déchets et recyclage"}}')}
    list_title = _l("Topics")
    add_title = _l("Add topic")
    edit_title = _l("Edit topic")
    show_title = _l("Topic")
    list_columns = ["code", "name", "position"]
    add_columns = edit_columns = ["code", "name", "translations_json", "position"]
    show_columns = ["code", "name", "translations", "position"]
    formatters_columns = {"translations": lambda v: ", ".join(f"{k}: {t.get('name', '')}" for k, t in (v or {}).items())}
    search_columns = ["code", "name"]
    order_columns = ["code", "name", "position"]
    base_order = ("position", "asc")
    base_permissions = ["can_list", "can_show", "can_add", "can_edit"]
    label_columns = {"code": _l("Code"), "name": _l("Name"), "position": _l("Position"), "translations": _l("Translations")}

    def prefill_form(self, form, pk):
        self.prefill_translations(form, self.datamodel.get(pk))

    def pre_add(self, item):
        self.apply_translations(item)

    def pre_update(self, item):
        self.apply_translations(item)


class KnowledgeMeasuresView(BaseView):
    """Views, votes, deflections and sendings per article, and the articles past their review date."""

    route_base = "/knowledge/measures"
    default_view = "measures"

    @expose("/")
    @has_access
    def measures(self):
        departments = None if sees_all_cases(current_user) else user_department_ids(current_user)
        rows = measures.article_measures(db.session, departments)
        titles = {}
        if rows:
            articles = db.session.scalars(select(Article).where(Article.id.in_([r.article_id for r in rows])))
            titles = {a.id: (content.text_for(a, content.DEFAULT_LOCALE)[0].title if a.texts else a.slug) for a in articles}
        return self.render_template(
            "knowledge/staff_measures.html", rows=rows, titles=titles, title=gettext("Knowledge measures"),
            overdue=measures.past_review(db.session, date.today(), departments),
        )


# ---------------------------------------------------------------- registration (plugin.py)

_EDIT = "can_list|can_show|can_add|can_edit|can_workflow|can_history|can_restore"
_READ = "can_list|can_show"


def view_specs() -> list[ViewSpec]:
    return [
        ViewSpec("Articles", ArticleView, _l("Articles"), "Knowledge", _l("Knowledge"), "fa-book"),
        ViewSpec("FAQ", FaqView, _l("FAQ"), "Knowledge", _l("Knowledge"), "fa-question-circle"),
        ViewSpec("Topics", TopicView, _l("Topics"), "Knowledge", _l("Knowledge"), "fa-folder"),
        ViewSpec("Knowledge measures", KnowledgeMeasuresView, _l("Measures"), "Knowledge", _l("Knowledge"), "fa-bar-chart"),
    ]


def role_specs() -> list[RoleSpec]:
    menus = ("Knowledge|Articles|FAQ|Topics|Knowledge measures", "menu_access")
    writer = (("ArticleView|FaqView", _EDIT), ("TopicView", _READ), ("KnowledgeMeasuresView", "can_measures"), menus)
    return [
        RoleSpec("Knowledge editor", writer),
        RoleSpec("Knowledge reviewer", (("TopicView", "can_add|can_edit"),), includes=("Knowledge editor",)),
        RoleSpec("Department staff", writer),
        RoleSpec("Dispatcher", (("ArticleView|FaqView|TopicView", _READ + "|can_history"),
                                ("Knowledge|Articles|FAQ|Topics", "menu_access"))),
    ]
