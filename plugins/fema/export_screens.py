"""FEMA › Exports: pick a disaster, a form, a format (and optionally an edition); the file downloads and the
export is logged.  The page shows the profile and rate schedule that apply and the past exports.

FEMA coordinators export; dispatchers read the log; anyone else gets 403.  The work is in ``exporter.py``."""
from __future__ import annotations

import os
import tempfile
from datetime import date
from functools import wraps
from pathlib import Path

from flask import abort, current_app, request, send_file
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select

from core.extensions import db
from core.records import RoleSpec, ViewSpec
from plugins.fema import exporter, profiles
from plugins.fema.models import Disaster, ExportRecord

FORMS = {
    "labor": _l("Force account labor (123)"), "equipment": _l("Force account equipment (127)"),
    "materials": _l("Materials (124)"), "rentals": _l("Rented equipment (125)"), "contracts": _l("Contract work (126)"),
    "damage_inventory": _l("Damage inventory"), "load_tickets": _l("Debris load tickets"),
}
FIELD_LABELS = {"disaster": _l("Disaster"), "form": _l("Form"), "format": _l("Format"), "edition": _l("Edition"),
                "category": _l("Category"), "date_from": _l("From"), "date_to": _l("To")}
MIMETYPES = {"csv": "text/csv", "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
             "pdf": "application/pdf"}
HISTORY_LIMIT = 50
DISASTER_LIMIT = 200


def forbidden_unless(permission: str):
    """A signed-in user without the permission gets 403 (FAB's ``has_access`` alone would redirect)."""

    def decorate(method):
        @wraps(method)
        def wrapper(self, *args, **kwargs):
            if current_user.is_authenticated and not self.appbuilder.sm.has_access(permission, self.class_permission_name):
                abort(403)
            return method(self, *args, **kwargs)

        return wrapper

    return decorate


def bad_request(field_name: str, message: str):
    abort(400, description=gettext("%(field)s: %(message)s", field=FIELD_LABELS.get(field_name, field_name), message=message))


def _date(name: str) -> date | None:
    raw = (request.form.get(name) or "").strip()
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        bad_request(name, gettext("must be a date such as 2019-09-01"))


class ExportView(BaseView):
    """FEMA › Exports."""

    route_base = "/fema/exports"
    default_view = "index"
    base_permissions = ["can_list", "can_export"]
    method_permission_name = {"index": "list", "run": "export"}

    def _profiles(self):
        try:
            return profiles.load_profiles(profiles.city_profiles_dir())
        except profiles.ProfileError as exc:  # checked at start-up; a file changed since: say which, no 500
            current_app.logger.error("fema export profiles: %s", exc)
            abort(503, description=gettext("The export profiles cannot be read (%(error)s). Ask the administrator "
                                           "to fix the file and restart.", error=str(exc)))

    @expose("/")
    @forbidden_unless("can_list")
    @has_access
    def index(self):
        disasters = list(db.session.scalars(select(Disaster).order_by(Disaster.declaration_date.desc(), Disaster.id.desc())
                                            .limit(DISASTER_LIMIT)))
        wanted = request.args.get("disaster", "")
        if wanted and (not wanted.isdigit() or len(wanted) > 9):
            bad_request("disaster", gettext("must be a disaster number from the list"))
        chosen = next((d for d in disasters if str(d.id) == wanted), disasters[0] if disasters else None)
        known = self._profiles()
        applying = []
        if chosen is not None:
            from plugins.fema import rates

            for form in FORMS:
                try:
                    applying.append((FORMS[form], profiles.choose_profile(known, form, chosen)))
                except profiles.ProfileError:
                    applying.append((FORMS[form], None))
            schedule = rates.schedule_for(db.session, chosen)
        else:
            schedule = None
        editions = sorted({p.edition for p in known.values()})
        history = db.session.scalars(select(ExportRecord).order_by(ExportRecord.id.desc()).limit(HISTORY_LIMIT))
        may_export = self.appbuilder.sm.has_access("can_export", self.class_permission_name)
        return self.render_template("fema/export_index.html", title=gettext("FEMA exports"), disasters=disasters,
                                    chosen=chosen, forms=FORMS, applying=applying, schedule=schedule, editions=editions,
                                    history=list(history), may_export=may_export)

    @expose("/run", methods=["POST"])
    @forbidden_unless("can_export")
    @has_access
    def run(self):
        raw = request.form.get("disaster", "")
        if not raw.isdigit() or len(raw) > 9:
            bad_request("disaster", gettext("must be a disaster number from the list"))
        disaster = db.session.get(Disaster, int(raw))
        if disaster is None:
            abort(404)
        form = request.form.get("form", "")
        if form not in FORMS:
            bad_request("form", gettext("must be one of the listed forms"))
        params = exporter.Params(form, request.form.get("format", "csv"), (request.form.get("edition") or "").strip() or None,
                                 (request.form.get("category") or "").strip() or None, _date("date_from"), _date("date_to"))
        handle, name = tempfile.mkstemp(prefix="fema-export-", suffix="." + params.file_format)
        os.close(handle)
        try:
            record, _plan = exporter.run_export(db.session, disaster, params, Path(name), current_user.username, self._profiles())
        except exporter.ExportError as exc:
            os.unlink(name)
            bad_request(exc.field, exc.message)
        download = f"{disaster.number or disaster.tag}-{record.profile}-{record.id}.{params.file_format}"
        response = send_file(name, as_attachment=True, download_name=download, max_age=0,
                             mimetype=MIMETYPES[params.file_format])
        response.call_on_close(lambda: os.path.exists(name) and os.unlink(name))
        current_app.logger.info("fema export %s: %s %s by %s", record.id, record.form, record.profile, current_user.username)
        return response


def view_specs() -> list[ViewSpec]:
    return [ViewSpec("Exports", ExportView, _l("Exports"), "FEMA", _l("FEMA"), "fa-download")]


def role_specs() -> list[RoleSpec]:
    return [
        RoleSpec("FEMA coordinator", (("ExportView", "can_list|can_export"), ("FEMA|Exports", "menu_access"))),
        RoleSpec("Dispatcher", (("ExportView", "can_list"), ("FEMA|Exports", "menu_access"))),
    ]
