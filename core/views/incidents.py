"""Incidents (menu Cases › Incidents): related cases linked to one event, and one public note to all of them.

Who does what (roles in ``role_specs``):

- dispatchers and admins create, edit, close and reopen incidents, link and unlink any case, and
  post a public note to every linked case;
- department staff (and supervisors) read every incident, and link or unlink the cases they may see
  (their departments') to an *existing* open incident;
- field crews read incidents.

The incident page lists the linked cases the reader may see (``core.security.case_scope``) and says
how many others are linked, without any detail of them.  Cases are linked from the case list
(select, Actions › "Link to incident") or from the case page's "Incident" panel; both lead to the
link page (``/incidentview/link?cases=1,2``), where one picks an open incident or creates one.
"""
from __future__ import annotations

import uuid

from flask import abort, current_app, flash, has_request_context, redirect, render_template, request, url_for
from flask_appbuilder import expose
from flask_appbuilder.actions import action as fab_action
from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_appbuilder.security.decorators import has_access
from flask_babel import gettext, ngettext
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.orm.exc import StaleDataError
from wtforms import SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length

from core.extensions import db
from core.formats import format_datetime, format_number
from core.i18n_content import localized
from core.models import INCIDENT_STATUSES, Case, Incident
from core.records import Panel, RoleSpec, ViewSpec
from core.security import acting_user, case_access, case_scope, user_department_ids
from core.services import incidents as service
from core.services.cases import MAX_DESCRIPTION, Actor, CaseError, too_long
from core.views.base import CivicModelView

# Rows shown on the incident page (the count says how many are linked in all).
MAX_SHOWN = 500
INCIDENT_VIEWS = "IncidentView|Incidents"

FIELD_LABELS = {
    "title": _l("Title"), "description": _l("Description"), "body": _l("Public note"), "cases": _l("Cases"),
    "incident": _l("Incident"), "token": _l("Confirmation"),
}


# "Ongoing" rather than the tasks' "Open": the French differs (un incident en cours, une tâche ouverte).
STATUS_LABELS = {"open": _l("Ongoing"), "closed": INCIDENT_STATUSES["closed"]}


def status_label(code: str):
    return STATUS_LABELS.get(code, code)


def flash_errors(exc: CaseError) -> None:
    for field, messages in exc.errors.items():
        for message in messages:
            flash(gettext("%(field)s: %(message)s", field=FIELD_LABELS.get(field, field), message=message), "danger")


def _may(permission: str) -> bool:
    return current_app.appbuilder.sm.has_access(permission, "IncidentView")


def _ids(text: str) -> list[int]:
    """``1,2,3`` from the link page's address: 400 naming the field for anything else."""
    parts = [p.strip() for p in (text or "").split(",") if p.strip()]
    if not parts or any(not p.isdigit() or not 0 < int(p) < 2**63 for p in parts):
        abort(400, description=gettext("%(field)s: %(message)s", field=gettext("Cases"), message=gettext("a list of case numbers is expected")))
    ids = list(dict.fromkeys(int(p) for p in parts))
    if len(ids) > service.MAX_LINK_AT_ONCE:
        abort(400, description=gettext("%(field)s: %(message)s", field=gettext("Cases"),
                                       message=gettext("choose at most %(max)s cases at once", max=service.MAX_LINK_AT_ONCE)))
    return ids


def workable_cases(ids: list[int]) -> list[Case]:
    """The cases among ``ids`` the user may change (their departments'; a department that only holds a task
    on a case may not link it), in the order given; the others are left out unnamed."""
    scope = case_scope()
    stmt = select(Case).where(Case.id.in_(ids))
    found = {c.id: c for c in db.session.scalars(stmt if scope is None else stmt.where(scope))}
    return [found[i] for i in ids if i in found and (scope is None or case_access(found[i]) == "full")]


def case_or_404(pk) -> Case:
    """A case the user may change, else 404 (no hint whether it exists)."""
    if not str(pk).isdigit() or not 0 < int(pk) < 2**63:
        abort(404)
    case = db.session.get(Case, int(pk))
    if case is None or case_access(case) != "full":
        abort(404)
    return case


class LinkToIncidentAction:
    """For the case list (``CaseView``): select cases, then Actions › "Link to incident" opens the link page.

    FAB's action endpoints load the selected rows without the department scope and fail on a malformed
    row id: here they refuse bad input with a 400, and the link page shows only the cases the user may see.
    """

    @fab_action("link_to_incident", _l("Link to incident"), icon="fa-link", single=False)
    def link_to_incident(self, items):
        items = items if isinstance(items, list) else [items]
        ids = [str(c.id) for c in items if c is not None]
        if not ids:
            abort(404)
        return redirect(url_for("IncidentView.link", cases=",".join(ids)))

    def _check_action(self, name: str, pks: list[str]) -> None:
        if name not in (self.actions or {}):
            abort(400, description=gettext("%(field)s: %(message)s", field=gettext("Action"), message=gettext("unknown action")))
        if not pks or any(not p.isdigit() or not 0 < int(p) < 2**63 for p in pks):
            abort(400, description=gettext("%(field)s: %(message)s", field=gettext("Cases"), message=gettext("select at least one case")))

    @expose("/action_post", methods=["POST"])
    def action_post(self):
        self._check_action(request.form.get("action", ""), request.form.getlist("rowid"))
        return super().action_post()

    @expose("/action/<string:name>/<pk>", methods=["GET", "POST"])
    def action(self, name, pk):
        self._check_action(name, [pk])
        return super().action(name, pk)


class IncidentView(CivicModelView):
    """List, add and edit are FAB's; the incident page, linking, the note to all cases and closing are ours."""

    datamodel = SQLAInterface(Incident)
    base_permissions = ["can_list", "can_show", "can_add", "can_edit", "can_link", "can_unlink", "can_post_note", "can_close"]
    method_permission_name = {"reopen": "close"}
    list_title = _l("Incidents")
    show_title = _l("Incident")
    add_title = _l("New incident")
    edit_title = _l("Edit incident")
    list_columns = ["title", "status", "created_at", "closed_at"]
    search_columns = ["title", "status", "created_at"]
    search_form_extra_fields = {"status": SelectField(_l("Status"), choices=list(STATUS_LABELS.items()))}
    order_columns = ["title", "status", "created_at", "closed_at"]
    base_order = ("created_at", "desc")
    page_size = 25
    add_columns = ["title", "description"]
    edit_columns = ["title", "description"]
    add_form_extra_fields = {
        "title": StringField(_l("Title"), validators=[DataRequired(), Length(max=service.MAX_TITLE)]),
        "description": TextAreaField(_l("Description"), validators=[Length(max=MAX_DESCRIPTION)]),
    }
    edit_form_extra_fields = add_form_extra_fields
    label_columns = {
        "title": _l("Title"), "description": _l("Description"), "status": _l("Status"),
        "created_at": _l("Created"), "closed_at": _l("Closed"),
    }
    formatters_columns = {"status": status_label, "created_at": format_datetime, "closed_at": format_datetime}

    # ---- FAB's add and edit

    def pre_add(self, item):
        item.title, item.description = service.clean_fields(item.title, item.description)
        item.status = "open"
        item.created_by_id = getattr(current_user, "id", None)

    def pre_update(self, item):
        item.title, item.description = service.clean_fields(item.title, item.description)

    def _incident_or_404(self, pk) -> Incident:
        if not str(pk).isdigit() or not 0 < int(pk) < 2**31:
            abort(404)
        incident = db.session.get(Incident, int(pk))
        if incident is None:
            abort(404)
        return incident

    @expose("/edit/<pk>", methods=["GET", "POST"])
    @has_access
    def edit(self, pk):
        self._incident_or_404(pk)
        return super().edit(pk)

    # ---- the incident page

    @expose("/show/<pk>", methods=["GET"])
    @has_access
    def show(self, pk):
        incident = self._incident_or_404(pk)
        session, scope = db.session, case_scope()
        total = service.count_cases(session, incident.id)
        visible_total = total if scope is None else service.count_cases(session, incident.id, scope)
        cases = service.incident_cases(session, incident.id, scope, limit=MAX_SHOWN)
        if scope is None:
            unlinkable = {c.id for c in cases}
        else:  # only their own departments' cases (not those where they merely hold a task)
            mine = set(session.scalars(user_department_ids(acting_user())))
            unlinkable = {c.id for c in cases if c.department_id in mine}
        return self.render_template(
            "civic/incident_show.html",
            title=incident.title,
            incident=incident,
            cases=cases,
            total=total,
            visible_total=visible_total,
            hidden=total - visible_total,
            duplicates=service.duplicate_counts(session, [c.id for c in cases]),
            can_edit=_may("can_edit"), can_close=_may("can_close"), unlinkable=unlinkable if _may("can_unlink") else set(),
            can_post=_may("can_post_note") and incident.status == "open" and total > 0,
            max_note=MAX_DESCRIPTION,
            status_label=status_label, localized=localized, format_number=format_number,
        )

    # ---- linking cases

    @expose("/link", methods=["GET", "POST"])
    @has_access
    def link(self):
        """GET: the chosen cases, the open incidents and "create one from these cases".  POST: link them."""
        source = request.form if request.method == "POST" else request.args
        if "cases" not in source:  # opened from the menu or a bookmark: cases are chosen on the case list
            flash(gettext("Select the cases to link on the case list, then Actions › Link to incident."), "info")
            return redirect(url_for("CaseView.list"))
        cases = workable_cases(_ids(source.get("cases", "")))
        if not cases:
            abort(404)
        can_add = _may("can_add")
        if request.method == "POST":
            done = self._link_posted(cases, can_add)
            if done is not None:
                return done
        first = cases[0]
        suggestion = " — ".join(p for p in (localized(first.service_type, "name"), first.address) if p)
        return self.render_template(
            "civic/incident_link.html",
            title=gettext("Link to incident"),
            cases=cases,
            case_ids=",".join(str(c.id) for c in cases),
            incidents=service.open_incidents(db.session),
            can_add=can_add,
            new_title=request.form.get("title", suggestion)[: service.MAX_TITLE],
            new_description=request.form.get("description", ""),
            max_title=service.MAX_TITLE, max_description=MAX_DESCRIPTION,
        )

    def _link_posted(self, cases: list[Case], can_add: bool):
        actor = Actor.of(current_user)
        try:
            if request.form.get("new"):
                if not can_add:
                    abort(403)
                incident, result = service.create_incident(
                    db.session, request.form.get("title", ""), request.form.get("description", ""), actor, cases
                )
                flash(gettext("Incident “%(title)s” created.", title=incident.title), "success")
            else:
                wanted = request.form.get("incident", "")
                incident = db.session.get(Incident, int(wanted)) if wanted.isdigit() and len(wanted) < 10 else None
                if incident is None:
                    raise CaseError({"incident": [gettext("choose an open incident")]})
                result = service.link_cases(db.session, incident, cases, actor)
        except CaseError as exc:
            db.session.rollback()
            flash_errors(exc)
            return None
        except StaleDataError:
            db.session.rollback()
            flash(gettext("A case was changed by someone else at the same moment: nothing was linked. Try again."), "danger")
            return None
        if result.linked:
            flash(gettext("Cases linked to “%(title)s”: %(references)s.", title=incident.title,
                          references=", ".join(c.reference for c in result.linked)), "success")
        if result.moved:
            flash(gettext("Moved from another incident: %(references)s.", references=", ".join(c.reference for c in result.moved)), "info")
        if result.unchanged:
            flash(gettext("Already linked: %(references)s.", references=", ".join(c.reference for c in result.unchanged)), "info")
        if len(cases) == 1 and request.form.get("back") == "case":
            return redirect(url_for("CaseView.show", pk=cases[0].id))
        return redirect(url_for(".show", pk=incident.id))

    @expose("/unlink/<pk>", methods=["POST"])
    @has_access
    def unlink(self, pk):
        """Take one case (``pk`` is the case's) out of its incident."""
        case = case_or_404(pk)
        try:
            incident = service.unlink_case(db.session, case, Actor.of(current_user))
        except CaseError as exc:
            db.session.rollback()
            flash_errors(exc)
            return redirect(url_for("CaseView.show", pk=case.id))
        except StaleDataError:
            db.session.rollback()
            flash(gettext("The case was changed by someone else at the same moment: try again."), "danger")
            return redirect(url_for("CaseView.show", pk=case.id))
        flash(gettext("Case %(reference)s is no longer linked to “%(title)s”.", reference=case.reference, title=incident.title), "success")
        if request.form.get("back") == "incident":
            return redirect(url_for(".show", pk=incident.id))
        return redirect(url_for("CaseView.show", pk=case.id))

    # ---- one public note to every linked case

    @expose("/post_note/<pk>", methods=["POST"])
    @has_access
    def post_note(self, pk):
        """First POST (from the incident page): the confirmation with the count.  Second POST (with its token): post."""
        incident = self._incident_or_404(pk)
        back = redirect(url_for(".show", pk=incident.id))
        body = (request.form.get("body") or "").strip()
        if "token" not in request.form:
            try:
                if not body:
                    raise CaseError({"body": [gettext("a note cannot be empty")]})
                if len(body) > MAX_DESCRIPTION:
                    raise CaseError({"body": [too_long(body, MAX_DESCRIPTION)]})
                if incident.status != "open":
                    raise CaseError({"incident": [gettext("incident “%(title)s” is closed; reopen it first", title=incident.title)]})
            except CaseError as exc:
                flash_errors(exc)
                return back
            return self.render_template(
                "civic/incident_post_confirm.html", title=gettext("Post a public note to every linked case"),
                incident=incident, body=body, count=service.count_cases(db.session, incident.id), token=uuid.uuid4().hex,
                format_number=format_number,
            )
        try:
            result = service.post_public_note(db.session, incident, body, Actor.of(current_user), request.form.get("token", ""))
        except CaseError as exc:
            db.session.rollback()
            flash_errors(exc)
            return back
        if result.already:
            flash(gettext("This note was already posted (a second click?): it was not posted again."), "warning")
            return back
        flash(ngettext("Public note posted to %(num)s case.", "Public note posted to %(num)s cases.", len(result.posted)), "success")
        if result.failed:
            flash(gettext("Not posted (changed by someone at the same moment; post it on the case): %(references)s.",
                          references=", ".join(c.reference for c in result.failed)), "danger")
        return back

    # ---- closing

    @expose("/close/<pk>", methods=["POST"])
    @has_access
    def close(self, pk):
        incident = self._incident_or_404(pk)
        service.close_incident(db.session, incident)
        flash(gettext("Incident “%(title)s” closed.", title=incident.title), "success")
        return redirect(url_for(".show", pk=incident.id))

    @expose("/reopen/<pk>", methods=["POST"])
    @has_access
    def reopen(self, pk):
        incident = self._incident_or_404(pk)
        service.reopen_incident(db.session, incident)
        flash(gettext("Incident “%(title)s” reopened.", title=incident.title), "success")
        return redirect(url_for(".show", pk=incident.id))


# ---------------------------------------------------------------- registration (core.views)

def view_specs() -> list[ViewSpec]:
    return [ViewSpec("Incidents", IncidentView, _l("Incidents"), "Cases", _l("Cases"), "fa-sitemap")]


def role_specs() -> list[RoleSpec]:
    return [
        RoleSpec("Dispatcher", ((INCIDENT_VIEWS, ".*"),)),
        RoleSpec("Department staff", (("IncidentView", "can_list|can_show|can_link|can_unlink"), ("Incidents", "menu_access"),
                                      ("CaseView", "link_to_incident"))),
        RoleSpec("Field crew", (("IncidentView", "can_list|can_show"), ("Incidents", "menu_access"))),
    ]


def case_panels(case) -> list[Panel]:
    """The "Incident" panel of the case page: the incident the case belongs to, link / unlink."""
    if not has_request_context() or not _may("can_show"):
        return []
    from core.views.case_page import page_data

    page = page_data(case)
    incident = case.incident
    linked = 0
    if incident is not None:  # the case page read the count with the case
        linked = page.incident_cases if page.incident_cases is not None else service.count_cases(db.session, incident.id)
    full = page.access == "full"
    html = render_template(
        "civic/incident_panel.html",
        case=case,
        incident=incident,
        linked=linked,
        can_link=_may("can_link") and full,
        can_unlink=_may("can_unlink") and full,
        status_label=status_label,
    )
    return [Panel(_l("Incident"), Markup(html), order=40)]
