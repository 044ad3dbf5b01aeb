"""Photos of a damage inventory site: a page with the site's thumbnails and an upload form, and the routes that
serve the images, each behind a permission (whoever may see sites sees their photos; FEMA coordinators add them).

Files go through ``core.services.attachments.store_file``: checked by content, re-encoded without EXIF, thumbnailed.
The site's show page links here (``SiteView.show_template`` = fema/site_show.html)."""
from __future__ import annotations

import logging

from flask import abort, flash, redirect, request, send_file, url_for
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from core.extensions import db
from core.records import RoleSpec, ViewSpec
from core.services.attachments import DOWNLOAD_CSP, open_stored, store_file
from core.services.cases import CaseError
from plugins.fema.export_screens import forbidden_unless
from plugins.fema.models import Site, SitePhoto

log = logging.getLogger(__name__)
FIELD_LABELS = {"file": _l("File"), "caption": _l("Caption")}
CAPTION_MAX = 300
PHOTO_LIMIT = 200


def _bad_request(field_name: str, message: str):
    abort(400, description=gettext("%(field)s: %(message)s", field=FIELD_LABELS.get(field_name, field_name), message=message))


def _send(stored, content_type: str, etag: str):
    """A stored photo (open, from core.storage) streamed back; 404 when the store no longer has it."""
    if stored is None:
        abort(404)
    response = send_file(stored, mimetype=content_type, conditional=True, etag=etag, max_age=0)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-cache"
    response.headers["Content-Security-Policy"] = DOWNLOAD_CSP
    return response


class SitePhotoView(BaseView):
    """FEMA › Damage inventory › a site › Photos (no menu entry: reached from the site's page)."""

    route_base = "/fema/sites"
    default_view = "photos"
    base_permissions = ["can_read", "can_upload"]
    method_permission_name = {"photos": "read", "thumbnail": "read", "original": "read", "upload": "upload"}

    def _site(self, site_id: int) -> Site:
        site = db.session.get(Site, site_id)
        if site is None:
            abort(404)
        return site

    def _photo(self, photo_id: int) -> SitePhoto:
        photo = db.session.get(SitePhoto, photo_id)
        if photo is None:
            abort(404)
        return photo

    @expose("/<int:site_id>/photos")
    @forbidden_unless("can_read")
    @has_access
    def photos(self, site_id: int):
        site = self._site(site_id)
        photos = list(db.session.scalars(select(SitePhoto).where(SitePhoto.site_id == site.id).order_by(SitePhoto.id)
                                         .limit(PHOTO_LIMIT)))
        may_upload = self.appbuilder.sm.has_access("can_upload", self.class_permission_name)
        return self.render_template("fema/site_photos.html", title=gettext("Photos of %(site)s", site=site.name), site=site,
                                    photos=photos, may_upload=may_upload, limit=PHOTO_LIMIT)

    @expose("/<int:site_id>/photos", methods=["POST"])
    @forbidden_unless("can_upload")
    @has_access
    def upload(self, site_id: int):
        site = self._site(site_id)
        caption = (request.form.get("caption") or "").strip()
        if len(caption) > CAPTION_MAX:
            _bad_request("caption", gettext("at most %(count)s characters", count=CAPTION_MAX))
        upload = request.files.get("file")
        if upload is None or not upload.filename:
            _bad_request("file", gettext("choose a photo to upload"))
        try:
            stored = store_file(upload.stream, upload.filename, upload.mimetype)
        except CaseError as exc:
            _bad_request("file", " ".join(str(m) for m in exc.errors.get("file", [str(exc)])))
        except OSError:
            log.exception("could not store a photo of FEMA site %s", site.id)
            _bad_request("file", gettext("could not be stored; try again, or tell the administrator if it keeps failing"))
        if not stored.content_type.startswith("image/"):
            stored.remove()
            _bad_request("file", gettext("must be a photo (JPEG, PNG, GIF or WebP)"))
        try:
            db.session.add(SitePhoto(site_id=site.id, stored_name=stored.stored_name, content_type=stored.content_type,
                                     size=stored.size, sha256=stored.sha256, caption=caption, uploaded_by_id=current_user.id))
            db.session.commit()
        except SQLAlchemyError:
            db.session.rollback()
            stored.remove()
            log.exception("could not record a photo of FEMA site %s", site.id)
            _bad_request("file", gettext("could not be stored; try again, or tell the administrator if it keeps failing"))
        flash(gettext("Photo added to %(site)s.", site=site.name), "success")
        return redirect(url_for("SitePhotoView.photos", site_id=site.id), code=303)

    @expose("/photo/<int:photo_id>/thumbnail")
    @forbidden_unless("can_read")
    @has_access
    def thumbnail(self, photo_id: int):
        photo = self._photo(photo_id)
        thumbnail = open_stored(photo.stored_name, thumbnail=True)
        if thumbnail is not None:
            return _send(thumbnail, "image/jpeg", f"t-{photo.stored_name}")
        return _send(open_stored(photo.stored_name), photo.content_type, photo.stored_name)

    @expose("/photo/<int:photo_id>")
    @forbidden_unless("can_read")
    @has_access
    def original(self, photo_id: int):
        photo = self._photo(photo_id)
        return _send(open_stored(photo.stored_name), photo.content_type, photo.stored_name)


def view_specs() -> list[ViewSpec]:
    return [ViewSpec("Site photos", SitePhotoView, _l("Site photos"), menu=False)]


def role_specs() -> list[RoleSpec]:
    return [
        RoleSpec("FEMA coordinator", (("SitePhotoView", "can_read|can_upload"),)),
        RoleSpec("Dispatcher", (("SitePhotoView", "can_read"),)),
        RoleSpec("Department staff", (("SitePhotoView", "can_read"),)),
    ]
