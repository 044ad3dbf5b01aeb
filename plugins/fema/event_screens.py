"""FEMA › Disasters: declared disasters and undeclared events, with "Make active event" / "End event".

The FEMA coordinator (and Admin) manage disasters and switch the active event; dispatchers read them.
The work (which event is active, tags) is in ``events.py``."""
from __future__ import annotations

from flask import abort, flash, redirect, request, url_for
from flask_appbuilder.actions import action
from flask_appbuilder.baseviews import expose
from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from wtforms import StringField
from wtforms.validators import Optional, Regexp, ValidationError

from core.extensions import db
from core.records import RoleSpec, ViewSpec
from core.views.base import CivicModelView
from plugins.fema import events
from plugins.fema.models import Disaster

LABELS = {
    "number": _l("Number"), "title": _l("Title"), "tag": _l("Case tag"), "declaration_type": _l("Declaration type"),
    "state": _l("State"), "declaration_date": _l("Declaration date"), "incident_begin": _l("Incident begins"),
    "incident_end": _l("Incident ends"), "designated_areas": _l("Designated areas"), "areas": _l("Designated areas"),
    "applicant_pa_id": _l("Applicant PA id"), "rate_edition": _l("Rate schedule edition"), "active": _l("Active event"),
    "pappg": _l("PAPPG edition"), "started_at": _l("Event started"), "ended_at": _l("Event ended"),
}


def _after_begin(form, field) -> None:
    begin = form.incident_begin.data
    if field.data and begin and field.data < begin:
        raise ValidationError(gettext("must not be before the incident's first day"))


class DisasterView(CivicModelView):
    """Disasters and events: list, add, edit; make one the active event, or end it."""

    datamodel = SQLAInterface(Disaster)
    list_title = _l("Disasters")
    show_title = _l("Disaster")
    add_title = _l("Add disaster or event")
    edit_title = _l("Edit disaster or event")
    list_columns = ["number", "title", "declaration_date", "pappg", "active"]
    order_columns = ["declaration_date", "number", "title", "active"]
    search_columns = ["number", "title", "tag", "state", "active"]
    base_order = ("declaration_date", "desc")
    form_columns = ["title", "number", "tag", "state", "declaration_date", "incident_begin", "incident_end", "areas",
                    "applicant_pa_id", "rate_edition"]
    add_columns = edit_columns = form_columns
    show_columns = ["number", "title", "tag", "declaration_type", "state", "declaration_date", "pappg", "incident_begin",
                    "incident_end", "designated_areas", "applicant_pa_id", "rate_edition", "active", "started_at", "ended_at"]
    add_form_extra_fields = edit_form_extra_fields = {
        "areas": StringField(LABELS["areas"], validators=[Optional()],
                             description=_l("Counties, separated by commas: Flagler (County), Volusia (County)")),
    }
    validators_columns = {
        "number": [Optional(), Regexp(r"(?i)^(DR|EM)-\d{1,5}$", message=_l("must look like DR-4468 or EM-3419"))],
        "tag": [Regexp(r"^[a-z0-9]+(?:-[a-z0-9]+)*$", message=_l("lower-case letters, digits and dashes, such as hurricane-dorian"))],
        "state": [Optional(), Regexp(r"^[A-Z]{2}$", message=_l("two capital letters, such as FL"))],
        "applicant_pa_id": [Optional(), Regexp(r"^\d{3}-\d{5}-\d{2}$", message=_l("must look like 035-53150-00"))],
        "incident_end": [_after_begin],
    }
    description_columns = {
        "number": _l("DR-4468 (major disaster) or EM-3419 (emergency); empty until the event is declared."),
        "tag": _l("The tag new cases get while this event is active, such as hurricane-dorian."),
        "rate_edition": _l("Leave empty: the equipment rate schedule in effect on the declaration date applies."),
    }
    label_columns = LABELS
    formatters_columns = {
        "designated_areas": lambda areas: ", ".join(areas or []),
        "pappg": lambda v: v or "",
    }
    base_permissions = ["can_list", "can_show", "can_add", "can_edit"]
    method_permission_name = {"make_active": "activate", "end_event": "activate"}

    def prefill_form(self, form, pk):
        item = self.datamodel.get(pk)
        form.areas.data = ", ".join(item.designated_areas or []) if item else ""

    def _apply(self, item) -> None:
        """Normalise what the form gave: DR-4468 in capitals (its type from it), empties as NULL, the county list."""
        item.number = (item.number or "").strip().upper() or None
        item.declaration_type = item.number.split("-")[0] if item.number else None
        item.state = item.state or None
        item.applicant_pa_id = item.applicant_pa_id or None
        item.rate_edition = item.rate_edition or None
        text = request.form.get("areas", "")  # the extra field (not a column): read from this request, never from the view
        item.designated_areas = [a.strip() for a in text.split(",") if a.strip()][:200]
        if item.profile_editions is None:
            item.profile_editions = {}

    def pre_add(self, item):
        self._apply(item)

    def pre_update(self, item):
        self._apply(item)

    @expose("/action_post", methods=["POST"])
    def action_post(self):
        """FAB's, with a 400 naming the field for an unknown action (FAB itself fails with a 500)."""
        if request.form.get("action") not in self.actions:
            abort(400, description=gettext("%(field)s: %(message)s", field=gettext("Action"), message=gettext("unknown action")))
        return super().action_post()

    @action("make_active", _l("Make active event"),
            _l("New cases and work orders will be tagged with this event and the portal will show its banner. Continue?"),
            "fa-bolt", multiple=True, single=False)
    def make_active(self, items):
        items = items if isinstance(items, list) else [items]
        items = [i for i in items if i is not None]
        if len(items) != 1:
            flash(gettext("Choose exactly one disaster to make active."), "danger")
            return redirect(url_for(".list"))
        events.activate(db.session, items[0])
        flash(gettext("\"%(title)s\" is now the active event: new cases are tagged %(tag)s.", title=items[0].title, tag=items[0].tag), "success")
        return redirect(url_for(".list"))

    @action("end_event", _l("End event"), _l("End this event? New cases will no longer be tagged with it."), "fa-stop",
            multiple=True, single=False)
    def end_event(self, items):
        items = items if isinstance(items, list) else [items]
        ended = sum(events.deactivate(db.session, item) for item in items if item is not None)
        flash(gettext("Events ended: %(count)s", count=ended), "success")
        return redirect(url_for(".list"))


# ---------------------------------------------------------------- registration (screens.py)


def view_specs() -> list[ViewSpec]:
    return [ViewSpec("Disasters", DisasterView, _l("Disasters"), "FEMA", _l("FEMA"), "fa-bolt")]


def role_specs() -> list[RoleSpec]:
    return [
        RoleSpec("FEMA coordinator", (("DisasterView", "can_list|can_show|can_add|can_edit|can_activate"), ("FEMA|Disasters", "menu_access"))),
        RoleSpec("Dispatcher", (("DisasterView", "can_list|can_show"), ("FEMA|Disasters", "menu_access"))),
    ]
