"""Photos taken in the field (a sweep check-off): checked by content and re-encoded without EXIF by the
core's ``store_file``, like case attachments; shown to staff who work with the map, never to the public."""
from __future__ import annotations

from typing import Any

from flask import abort, request, send_file
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from core.extensions import db
from core.records import RoleSpec, ViewSpec
from core.services.attachments import DOWNLOAD_CSP, open_stored, store_file, thumbnail_name
from core.storage import file_store
from core.services.cases import Actor, CaseError
from plugins.fieldservice.models import FieldPhoto


def save_photo(session: Session, upload: Any, actor: Actor) -> FieldPhoto:
    """Store an uploaded photo (a werkzeug FileStorage or a binary stream); only images are accepted.

    Raises CaseError({"photo": [...]}) for anything that is not a photo; then nothing is stored."""
    from flask_babel import gettext

    stream = getattr(upload, "stream", upload)
    try:
        stored = store_file(stream, getattr(upload, "filename", None) or "photo.jpg", getattr(upload, "mimetype", None))
    except CaseError as exc:
        raise CaseError({"photo": exc.errors.get("file", [])}) from None
    if not stored.content_type.startswith("image/"):
        stored.remove()
        raise CaseError({"photo": [gettext("must be a photo (JPEG, PNG, GIF or WebP)")]})
    photo = FieldPhoto(stored_name=stored.stored_name, content_type=stored.content_type, size=stored.size, sha256=stored.sha256,
                       width=stored.width, height=stored.height, has_thumbnail=stored.has_thumbnail, uploaded_by_id=actor.user_id)
    try:
        session.add(photo)
        session.flush()
    except BaseException:
        session.rollback()
        stored.remove()
        raise
    return photo


def forget_file(stored_name: str) -> None:
    """Delete a stored photo file and its thumbnail (its row was never committed)."""
    file_store().delete(stored_name)
    file_store().delete(thumbnail_name(stored_name))


def discard_photo(session: Session, photo: FieldPhoto) -> None:
    """Remove a photo nobody uses (the check-off it came with was a duplicate)."""
    name = photo.stored_name
    session.delete(photo)
    session.commit()
    forget_file(name)


class FieldPhotoView(BaseView):
    """``/fieldservice/photos/<id>`` (``?thumb=1`` for the small one): staff who use the field map."""

    route_base = "/fieldservice/photos"
    base_permissions = ["can_show"]
    method_permission_name = {"show": "show"}

    @expose("/<int:pk>")
    @has_access
    def show(self, pk: int):
        photo = db.session.get(FieldPhoto, pk)
        if photo is None:
            abort(404)
        thumb = request.args.get("thumb") == "1" and photo.has_thumbnail
        stored = open_stored(photo.stored_name, thumbnail=thumb)
        if stored is None:
            abort(404)
        response = send_file(stored, mimetype="image/jpeg" if thumb else photo.content_type, max_age=3600, conditional=True,
                             etag=f"{'t-' if thumb else ''}{photo.stored_name}")
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Content-Security-Policy"] = DOWNLOAD_CSP
        response.headers["Cache-Control"] = "private, max-age=3600"
        return response


def view_specs() -> list[ViewSpec]:
    return [ViewSpec("FieldPhotos", FieldPhotoView, _l("Field photos"), menu=False)]


def role_specs() -> list[RoleSpec]:
    see = (("FieldPhotoView", "can_show"),)
    return [RoleSpec(name, see) for name in ("Dispatcher", "Department staff", "EOC viewer", "Field crew")]
