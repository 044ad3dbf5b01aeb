"""Storing photos and documents on a case: checked by content, cleaned, stored outside the web root.

The type of a file is what its bytes say, never what its name or the browser
claims.  Photos are decoded and re-encoded with Pillow, so EXIF (GPS of a
resident's home, camera serials) never reaches the disk; a thumbnail is made
at the same time.  Files are written under a generated name, atomically, and
removed again when the database refuses the row: the disk and the database
never disagree.
"""
from __future__ import annotations

import hashlib
import io
import re
import unicodedata
import uuid
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from flask import current_app
from flask_babel import gettext
from PIL import ExifTags, Image, ImageSequence, UnidentifiedImageError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.models import Attachment, Case, CaseEvent
from core.models.base import utcnow
from core.services.cases import Actor, CaseError
from core.storage import file_store

CHUNK = 64 * 1024
THUMBNAIL_SIZE = 320
THUMBNAIL_SUFFIX = "_thumb.jpg"
MAX_NAME = 255
# Metadata a re-encoded image may keep: how it looks and animates, nothing about where or who.
KEPT_INFO = ("icc_profile", "transparency", "duration", "loop", "background")
# The Content-Security-Policy of every stored file served back: nothing in it runs or loads anything (a file that
# slipped through as HTML or script would still be inert), an image still shows.
DOWNLOAD_CSP = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox"
# Generated names only: what the download route accepts as a stored file.
STORED_NAME = re.compile(r"^[0-9a-f]{32}\.(?:jpg|png|gif|webp|pdf)$")
ORIENTATIONS = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


@dataclass(frozen=True)
class FileType:
    """A type we accept: Pillow's format name (None for PDF), its MIME type, extension and label."""

    pil_format: str | None
    content_type: str
    extension: str
    label: str

    @property
    def is_image(self) -> bool:
        return self.pil_format is not None


JPEG = FileType("JPEG", "image/jpeg", "jpg", "JPEG")
PNG = FileType("PNG", "image/png", "png", "PNG")
GIF = FileType("GIF", "image/gif", "gif", "GIF")
WEBP = FileType("WEBP", "image/webp", "webp", "WebP")
PDF = FileType(None, "application/pdf", "pdf", "PDF")
# What a name or a browser may claim: a claim the content contradicts is refused.
CLAIMED_BY_EXTENSION = {"jpg": JPEG, "jpeg": JPEG, "jpe": JPEG, "jfif": JPEG, "png": PNG, "gif": GIF, "webp": WEBP, "pdf": PDF}
CLAIMED_BY_TYPE = {
    "image/jpeg": JPEG, "image/jpg": JPEG, "image/pjpeg": JPEG, "image/png": PNG, "image/gif": GIF,
    "image/webp": WEBP, "application/pdf": PDF,
}


def sniff(head: bytes) -> FileType | None:
    """The type the first bytes of a file announce, or None when it is none we accept."""
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if head.startswith((b"GIF87a", b"GIF89a")):
        return GIF
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return WEBP
    if head.startswith(b"%PDF-"):
        return PDF
    return None


def upload_dir() -> Path:
    return Path(current_app.config["CIVIC_UPLOAD_DIR"])


def _checked(stored_name: str) -> str:
    if not STORED_NAME.match(stored_name):
        raise ValueError(f"not a generated attachment name: {stored_name!r}")
    return stored_name


def thumbnail_name(stored_name: str) -> str:
    """The name of a stored image's thumbnail (``<name>_thumb.jpg``)."""
    return _checked(stored_name).rsplit(".", 1)[0] + THUMBNAIL_SUFFIX


def open_stored(stored_name: str, thumbnail: bool = False) -> IO[bytes] | None:
    """The stored file (or its thumbnail) to stream back, from the city's store (core.storage); None when gone."""
    name = thumbnail_name(stored_name) if thumbnail else _checked(stored_name)
    try:
        return file_store().open(name)
    except FileNotFoundError:
        return None


def stored_path(stored_name: str) -> Path:
    """Where a stored file lives in the local store (a two-character shard keeps folders small)."""
    return upload_dir() / stored_name[:2] / _checked(stored_name)


def thumbnail_path(stored_name: str) -> Path:
    """Where a stored image's thumbnail lives in the local store."""
    return upload_dir() / stored_name[:2] / thumbnail_name(stored_name)


def clean_filename(name: str | None) -> str:
    """The original name as display text: no folders, no control characters, a sane length."""
    name = unicodedata.normalize("NFC", name or "")
    name = re.split(r"[/\\]", name)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")
    name = re.sub(r'["<>:|?*]', "_", name).strip().strip(".").strip()
    if len(name) > MAX_NAME:
        stem, dot, ext = name.rpartition(".")
        ext = ext[:16] if dot else ""
        name = (stem if dot else name)[: MAX_NAME - len(ext) - 1] + (f".{ext}" if ext else "")
    return name or "attachment"


def download_name(attachment: Attachment) -> str:
    """A safe name to save the file under: the original stem with the extension of what it really is."""
    stem = clean_filename(attachment.original_name).rsplit(".", 1)[0] or "attachment"
    return f"{stem[:100]}.{attachment.stored_name.rsplit('.', 1)[-1]}"


def _human_size(n: int) -> str:
    return f"{n / (1024 * 1024):.0f} MB" if n >= 1024 * 1024 else f"{max(1, n // 1024)} KB"


def _read_limited(stream: IO[bytes], limit: int) -> bytes:
    """Read at most ``limit`` bytes in chunks; refuse (without reading on) once over it."""
    buf = io.BytesIO()
    while chunk := stream.read(CHUNK):
        buf.write(chunk)
        if buf.tell() > limit:
            raise CaseError({"file": [gettext("is larger than the limit of %(limit)s", limit=_human_size(limit))]})
    if buf.tell() == 0:
        raise CaseError({"file": [gettext("is empty")]})
    return buf.getvalue()


def claimed_types(filename: str, declared_type: str | None) -> set[FileType]:
    """The types a file's name and the browser's Content-Type say it has (often none)."""
    claims = set()
    ext = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    if ext in CLAIMED_BY_EXTENSION:
        claims.add(CLAIMED_BY_EXTENSION[ext])
    declared = (declared_type or "").split(";")[0].strip().lower()
    if declared in CLAIMED_BY_TYPE:
        claims.add(CLAIMED_BY_TYPE[declared])
    return claims


def _refuse_type(filename: str, claims: set[FileType], kind: FileType | None = None, damaged: bool = False) -> CaseError:
    claimed = " / ".join(sorted(t.label for t in claims))
    if damaged:
        msg = gettext("'%(name)s' starts like a %(type)s file but is damaged or is not one", name=filename, type=kind.label)
    elif claims and kind is None:
        msg = gettext("'%(name)s' says it is a %(claimed)s file, but its content is not", name=filename, claimed=claimed)
    elif claims:
        msg = gettext(
            "'%(name)s' says it is a %(claimed)s file, but its content is %(actual)s: rename it or send the right file",
            name=filename, claimed=claimed, actual=kind.label,
        )
    else:
        msg = gettext("'%(name)s' is not a supported file: send a JPEG, PNG, GIF or WebP photo, or a PDF document", name=filename)
    return CaseError({"file": [msg]})


@dataclass
class _Prepared:
    kind: FileType
    data: bytes
    thumbnail: bytes | None = None
    width: int | None = None
    height: int | None = None


def _open_image(data: bytes, kind: FileType) -> Image.Image:
    """Open with Pillow as exactly the sniffed format; decompression bombs are refused, not warned about."""
    img = Image.open(io.BytesIO(data), formats=[kind.pil_format])
    if img.width * img.height * getattr(img, "n_frames", 1) > Image.MAX_IMAGE_PIXELS:
        raise Image.DecompressionBombError("too many pixels")
    return img


def _clean_frame(frame: Image.Image, transpose: Image.Transpose | None) -> Image.Image:
    """A copy of the pixels, turned upright, with only harmless metadata (see KEPT_INFO)."""
    out = frame.transpose(transpose) if transpose is not None else frame.copy()
    out.info = {k: v for k, v in frame.info.items() if k in KEPT_INFO}
    return out


def _encode(img: Image.Image, kind: FileType) -> tuple[bytes, Image.Image]:
    """Re-encode without EXIF/XMP/comments, the EXIF orientation applied to the pixels.

    Returns the new file and its first frame (upright), from which the thumbnail is made.
    """
    orientation = img.getexif().get(ExifTags.Base.Orientation, 1)
    transpose = ORIENTATIONS.get(orientation)
    frames = [_clean_frame(f, transpose) for f in ImageSequence.Iterator(img)]
    first = frames[0]
    options: dict[str, Any] = {k: v for k, v in first.info.items() if k in ("icc_profile", "transparency")}
    out = io.BytesIO()
    if kind is JPEG:
        if first.mode not in ("RGB", "L", "CMYK"):
            first = first.convert("RGB")
        first.save(out, "JPEG", quality=90, optimize=True, **options)
    elif kind is PNG:
        first.save(out, "PNG", optimize=True, **options)
    elif len(frames) > 1:  # animated GIF or WebP: keep the animation, lose the metadata
        durations = [f.info.get("duration", 100) for f in frames]
        first.save(out, kind.pil_format, save_all=True, append_images=frames[1:], duration=durations, loop=img.info.get("loop", 0), **options)
    elif kind is WEBP:
        first.save(out, "WEBP", quality=90, **options)
    else:
        first.save(out, kind.pil_format, **options)
    return out.getvalue(), first


def _thumbnail(upright: Image.Image) -> bytes:
    """A small JPEG (transparency flattened onto white), at most THUMBNAIL_SIZE on each side."""
    thumb = upright.copy()
    thumb.thumbnail((THUMBNAIL_SIZE, THUMBNAIL_SIZE))
    if thumb.mode in ("RGBA", "LA", "P", "PA", "La"):
        thumb = thumb.convert("RGBA")
        flat = Image.new("RGB", thumb.size, "white")
        flat.paste(thumb, mask=thumb.getchannel("A"))
        thumb = flat
    elif thumb.mode != "RGB":
        thumb = thumb.convert("RGB")
    out = io.BytesIO()
    thumb.save(out, "JPEG", quality=80)
    return out.getvalue()


def _prepare(data: bytes, filename: str, declared_type: str | None) -> _Prepared:
    """Check the bytes are what they claim; for images, the cleaned file and its thumbnail."""
    kind = sniff(data[:16])
    claims = claimed_types(filename, declared_type)
    if kind is None or (claims and kind not in claims):
        raise _refuse_type(filename, claims, kind)
    if kind is PDF:
        return _Prepared(PDF, data)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with _open_image(data, kind) as probe:
                probe.verify()
            with _open_image(data, kind) as img:
                img.load()
                encoded, upright = _encode(img, kind)
                thumbnail = _thumbnail(upright)
        with Image.open(io.BytesIO(encoded)) as stored:
            width, height = stored.size
    except (Image.DecompressionBombWarning, Image.DecompressionBombError):
        raise CaseError({"file": [gettext("'%(name)s' has too many pixels to be a photo we can safely open", name=filename)]})
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError):
        raise _refuse_type(filename, claims, kind, damaged=True)
    return _Prepared(kind, encoded, thumbnail, width, height)


@dataclass(frozen=True)
class StoredFile:
    """A checked, cleaned file written under its generated name (see ``store_file``)."""

    stored_name: str
    display_name: str
    content_type: str
    size: int
    sha256: str
    width: int | None = None
    height: int | None = None
    has_thumbnail: bool = False

    def remove(self) -> None:
        """Delete the file and its thumbnail (when the database refused the row that names them)."""
        store = file_store()
        store.delete(self.stored_name)
        if self.has_thumbnail:
            store.delete(thumbnail_name(self.stored_name))


def store_file(stream: IO[bytes], filename: str | None, declared_type: str | None) -> StoredFile:
    """Check a file by its content, clean it (images re-encoded without EXIF, with a thumbnail) and write it
    under a generated name.  The caller records it in the database and calls ``StoredFile.remove()`` if that fails.

    Raises CaseError({"file": [...]}) for a file of the wrong type, an empty one or one over
    ``CIVIC_UPLOAD_MAX_BYTES``; in that case nothing is written.
    """
    display_name = clean_filename(filename)
    data = _read_limited(stream, int(current_app.config["CIVIC_UPLOAD_MAX_BYTES"]))
    prepared = _prepare(data, display_name, declared_type)
    stored_name = f"{uuid.uuid4().hex}.{prepared.kind.extension}"
    store = file_store()
    try:
        store.write(stored_name, prepared.data)
        if prepared.thumbnail is not None:
            store.write(thumbnail_name(stored_name), prepared.thumbnail)
    except BaseException:
        for name in (stored_name, thumbnail_name(stored_name)):
            try:
                store.delete(name)
            except Exception:  # noqa: BLE001 -- the first error is the one to report
                pass
        raise
    return StoredFile(
        stored_name=stored_name, display_name=display_name, content_type=prepared.kind.content_type, size=len(prepared.data),
        sha256=hashlib.sha256(prepared.data).hexdigest(), width=prepared.width, height=prepared.height,
        has_thumbnail=prepared.thumbnail is not None,
    )


def check_room(session: Session, case: Case) -> None:
    """Refuse one file more on a case that holds ``CIVIC_UPLOAD_MAX_PER_CASE`` already (a script that posts
    photos in a loop would otherwise fill the disk through one case)."""
    limit = int(current_app.config["CIVIC_UPLOAD_MAX_PER_CASE"])
    if case.id is None:
        return  # a case being created has no files yet
    count = session.scalar(select(func.count()).select_from(Attachment).where(Attachment.case_id == case.id))
    if count >= limit:
        raise CaseError({"file": [gettext("this case already has %(count)d files, the most one case takes", count=count)]})


def store_attachment(
    session: Session,
    case: Case,
    stream_or_filestorage: Any,
    filename: str | None,
    actor: Actor,
    public: bool = False,
    task: Any = None,
) -> Attachment:
    """Check, clean and store a photo or document on the case, with its timeline entry.

    ``task``: the case's task whose work the file shows (``Attachment.task_id`` and the entry's ``task_id``).

    Raises CaseError({"file": [...]}) for a file of the wrong type, an empty one, one over
    ``CIVIC_UPLOAD_MAX_BYTES`` or one more than ``CIVIC_UPLOAD_MAX_PER_CASE``; then nothing is written to disk or
    database.
    """
    check_room(session, case)
    stream = getattr(stream_or_filestorage, "stream", stream_or_filestorage)
    declared_type = getattr(stream_or_filestorage, "mimetype", None)
    if filename is None:
        filename = getattr(stream_or_filestorage, "filename", None)
    stored = store_file(stream, filename, declared_type)
    display_name = stored.display_name

    try:
        attachment = Attachment(
            case=case,
            original_name=display_name,
            stored_name=stored.stored_name,
            content_type=stored.content_type,
            size=stored.size,
            sha256=stored.sha256,
            width=stored.width,
            height=stored.height,
            has_thumbnail=stored.has_thumbnail,
            public=bool(public),
            uploaded_by_id=actor.user_id,
            created_at=utcnow(),
            task_id=task.id if task is not None else None,
        )
        session.add(attachment)
        session.flush()
        session.add(
            CaseEvent(
                case=case, kind="attachment_added", actor_id=actor.user_id, actor_label=actor.label,
                body=display_name, public=attachment.public, created_at=attachment.created_at, task_id=attachment.task_id,
                data={"attachment_id": attachment.id, "name": display_name, "content_type": attachment.content_type, "size": attachment.size,
                      **({"task": attachment.task_id} if attachment.task_id else {})},
            )
        )
        case.updated_at = attachment.created_at
        session.commit()
    except BaseException:
        session.rollback()
        stored.remove()
        raise
    current_app.extensions["civic"].pm.hook.case_updated(case=case, changes={"attachment": (None, display_name)})
    return attachment
