"""Uploading and serving a case's photos and documents, only to those who may see the case."""
from __future__ import annotations

import logging

from flask import abort, flash, redirect, request, send_file, url_for
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy.exc import SQLAlchemyError

from core.extensions import db
from core.models import Attachment, Case
from core.security import can_see_case, case_access
from core.services.attachments import DOWNLOAD_CSP, download_name, open_stored, store_attachment
from core.services.cases import Actor, CaseError

log = logging.getLogger(__name__)
FIELD_LABELS = {"file": _l("File"), "public": _l("Visible to the resident")}


class AttachmentView(BaseView):
    """Upload (a multipart form on the case page), download and thumbnail routes; no screen of its own."""

    route_base = "/attachments"
    default_view = "download"
    # Permission names the roles grant (core/defaults.py): staff and crews may add and fetch files.
    method_permission_name = {"upload": "act", "download": "download", "thumbnail": "download"}
    base_permissions = ["can_act", "can_download"]

    @expose("/case/<int:case_id>", methods=["POST"])
    @has_access
    def upload(self, case_id: int):
        case = _visible_case(case_id)
        if case_access(case) != "full":  # those who only hold a task add photos to their task
            abort(403, description=gettext("Only the case's department changes this case; work your task from its Tasks panel."))
        upload = request.files.get("file")
        back = redirect(url_for("CaseView.show", pk=case.id))
        if upload is None or not upload.filename:
            flash(gettext("%(field)s: choose a file to upload", field=FIELD_LABELS["file"]), "danger")
            return back
        try:
            attachment = store_attachment(
                db.session, case, upload, upload.filename, Actor.of(current_user), public=request.form.get("public") in ("y", "on", "1", "true")
            )
        except CaseError as exc:
            for field, messages in exc.errors.items():
                for message in messages:
                    flash(gettext("%(field)s: %(message)s", field=FIELD_LABELS.get(field, field), message=message), "danger")
            return back
        except (OSError, SQLAlchemyError):  # disk full, case deleted meanwhile...: the service left nothing behind
            log.exception("could not store an attachment on case %s", case_id)
            flash(gettext("%(field)s: could not be stored; try again, or tell the administrator if it keeps failing", field=FIELD_LABELS["file"]), "danger")
            return back
        flash(gettext("Attached %(name)s to case %(reference)s.", name=attachment.original_name, reference=case.reference), "success")
        return back

    @expose("/<int:pk>")
    @has_access
    def download(self, pk: int):
        attachment = _visible_attachment(pk)
        is_image = attachment.content_type.startswith("image/")
        return _send(open_stored(attachment.stored_name), attachment.content_type, download_name(attachment), inline=is_image,
                     etag=attachment.stored_name)

    @expose("/<int:pk>/thumbnail")
    @has_access
    def thumbnail(self, pk: int):
        attachment = _visible_attachment(pk)
        if not attachment.has_thumbnail:
            abort(404)
        name = download_name(attachment).rsplit(".", 1)[0] + "-thumbnail.jpg"
        return _send(open_stored(attachment.stored_name, thumbnail=True), "image/jpeg", name, inline=True, etag=f"t-{attachment.stored_name}")


def _visible_case(case_id: int) -> Case:
    """The case, or 404 when it does not exist or the user may not see it (no hint which)."""
    case = db.session.get(Case, case_id)
    if case is None or not can_see_case(case):
        abort(404)
    return case


def _visible_attachment(pk: int) -> Attachment:
    attachment = db.session.get(Attachment, pk)
    if attachment is None or not can_see_case(attachment.case):
        abort(404)
    return attachment


def _send(stored, content_type: str, name: str, inline: bool, etag: str):
    """A stored file (open, from core.storage) streamed back; 404 when the store no longer has it."""
    if stored is None:
        abort(404)
    response = send_file(stored, mimetype=content_type, as_attachment=not inline, download_name=name, conditional=True, etag=etag, max_age=0)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-cache"
    response.headers["Content-Security-Policy"] = DOWNLOAD_CSP
    return response
