"""Residents › API keys: the Open311 keys of the apps that report to the city (Admin only).

- The list shows each key's name, its first 8 characters, its rate limit, when it was created, last
  used and revoked; never the key.
- "Add" creates a key and shows it once, on the page that answers the form (``Cache-Control:
  no-store``); it is never shown again (only its SHA-256 is kept).
- "Revoke" asks for confirmation, then a POST (with its CSRF token) revokes the key: it stops working
  at once.  Keys are never deleted (the timeline names them).  "Edit" changes the rate limit only.

No role but Admin gets these permissions (Admin has every permission): a key lets an app file cases.
"""
from __future__ import annotations

from flask import abort, flash, g, make_response, redirect, request, url_for
from flask_appbuilder import expose
from flask_appbuilder.fieldwidgets import BS3TextFieldWidget
from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_appbuilder.security.decorators import has_access
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from wtforms import IntegerField, StringField
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from core.extensions import db
from core.formats import format_datetime
from core.records import RoleSpec, ViewSpec
from core.views.base import CivicModelView
from plugins.intake.models import ApiKey
from plugins.intake.open311.keys import MAX_NAME, MAX_RATE_LIMIT, KeyProblem, create_key, revoke_key


def _rate_limit(value) -> str:
    return gettext("%(limit)s per minute", limit=value) if value else gettext("City default")


def _prefix(value) -> str:
    return f"{value}…" if value else ""


class ApiKeyView(CivicModelView):
    """Residents › API keys: create (shown once), revoke, change the rate limit."""

    datamodel = SQLAInterface(ApiKey)
    base_permissions = ["can_list", "can_show", "can_add", "can_edit", "can_revoke"]
    list_title = _l("API keys")
    show_title = _l("API key")
    add_title = _l("New API key")
    edit_title = _l("Edit API key")
    list_columns = ["name", "prefix", "rate_limit", "created_at", "last_used_at", "revoked_at"]
    show_columns = ["name", "prefix", "rate_limit", "created_at", "last_used_at", "revoked_at"]
    search_columns = ["name", "prefix"]
    order_columns = ["name", "created_at", "last_used_at", "revoked_at"]
    add_columns = ["name", "rate_limit"]
    edit_columns = ["rate_limit"]
    base_order = ("name", "asc")
    show_template = "intake/api_key_show.html"
    label_columns = {
        "name": _l("Name"), "prefix": _l("Starts with"), "rate_limit": _l("Rate limit"), "created_at": _l("Created"),
        "last_used_at": _l("Last used"), "revoked_at": _l("Revoked"),
    }
    description_columns = {
        "name": _l("Who uses the key, e.g. FixMyStreet."),
        "rate_limit": _l("Requests per minute; leave empty for the city's default."),
    }
    formatters_columns = {
        "prefix": _prefix, "rate_limit": _rate_limit, "created_at": format_datetime, "last_used_at": format_datetime,
        "revoked_at": format_datetime,
    }
    _rate_field = IntegerField(_l("Rate limit"), validators=[Optional(), NumberRange(min=1, max=MAX_RATE_LIMIT)], widget=BS3TextFieldWidget())
    add_form_extra_fields = {
        "name": StringField(_l("Name"), validators=[DataRequired(), Length(max=MAX_NAME)], widget=BS3TextFieldWidget()),
        "rate_limit": _rate_field,
    }
    edit_form_extra_fields = {"rate_limit": _rate_field}

    @expose("/add", methods=["GET", "POST"])
    @has_access
    def add(self):
        """The form; on success the new key, shown on this page only."""
        form = self.add_form.refresh()
        if request.method == "POST" and form.validate():
            try:
                key, plain = create_key(db.session, form.name.data, created_by=g.user, rate_limit=form.rate_limit.data)
            except KeyProblem as exc:
                db.session.rollback()
                getattr(form, exc.field).errors.append(exc.message)
            else:
                page = self.render_template("intake/api_key_created.html", title=gettext("New API key"), key=key, plain_key=plain)
                response = make_response(page)
                response.headers["Cache-Control"] = "no-store"
                return response
        return self.render_template(self.add_template, title=self.add_title, widgets=self._get_add_widget(form=form))

    def _key_or_404(self, pk) -> ApiKey:
        if not str(pk).isdigit() or not 0 < int(pk) < 2**31:
            abort(404)
        key = db.session.get(ApiKey, int(pk))
        if key is None:
            abort(404)
        return key

    @expose("/revoke/<pk>", methods=["GET", "POST"])
    @has_access
    def revoke(self, pk):
        """GET: confirm.  POST (CSRF checked globally): revoke."""
        key = self._key_or_404(pk)
        if request.method == "POST":
            if request.form.get("confirm") != "yes":
                abort(400, description=gettext("The confirmation is missing: open “Revoke” again."))
            if revoke_key(db.session, key):
                flash(gettext("API key %(name)s revoked: it no longer works.", name=key.name), "success")
            else:
                flash(gettext("API key %(name)s was already revoked.", name=key.name), "info")
            return redirect(url_for(".show", pk=key.id))
        return self.render_template("intake/api_key_revoke.html", title=gettext("Revoke API key"), key=key)


def view_specs() -> list[ViewSpec]:
    return [ViewSpec("API keys", ApiKeyView, _l("API keys"), "Residents", _l("Residents"), "fa-key")]


def role_specs() -> list[RoleSpec]:
    return []  # Admin only: the Admin role has every permission
