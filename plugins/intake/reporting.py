"""What the portal's reporting pages need, without the web: the public catalog and its search, the city's
current notices, the address list, "Is this it?" (open cases nearby), photo GPS and photos kept between
two sendings of the report form.

The pages themselves are in ``plugins/intake/portal/reporting.py``.
"""
from __future__ import annotations

import io
import math
import re
import time
import unicodedata
import uuid
import warnings
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from flask import current_app
from PIL import ExifTags, Image
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, defaultload

from core.i18n_content import all_translations, localized, localized_keywords, pick
from core.models import OPEN_STATUSES, Case, Department, ServiceType
from core.models.base import utcnow
from core.services.attachments import GIF, JPEG, PNG, WEBP, clean_filename, sniff
from plugins.intake import tokens
from plugins.intake.models import Notice, UtilityAccount, address_key

METRES_PER_DEGREE = 111_320.0
MAX_PHOTOS = 6
PHOTO_TYPES = (JPEG, PNG, GIF, WEBP)
PENDING_MAX_AGE = tokens.DAY  # a photo kept between two sendings of the form lives at most a day
PENDING_MAX_BYTES = 512 * 1024 * 1024  # and all of them together never fill the disk


# ---------------------------------------------------------------- text folding (search, addresses)

def fold(text: Any) -> str:
    """Text for matching: lower case, no accents, punctuation as spaces (``Nid-de-poule`` -> ``nid de poule``)."""
    decomposed = unicodedata.normalize("NFKD", str(text or "")).casefold()
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(re.sub(r"[\W_]+", " ", bare).split())


# ---------------------------------------------------------------- the catalog and its search

def public_services(session: Session) -> list[ServiceType]:
    """The services residents may report: public and active."""
    stmt = select(ServiceType).where(ServiceType.public.is_(True), ServiceType.active.is_(True))
    # One statement: the departments' staff (eager by default) are not the portal's business.
    return list(session.scalars(stmt.options(defaultload(ServiceType.department).lazyload(Department.staff))))


def public_service(session: Session, code: str) -> ServiceType | None:
    service = session.scalar(select(ServiceType).where(ServiceType.code == code))
    if service is None or not service.public or not service.active:
        return None
    return service


@dataclass
class ServiceGroup:
    name: str
    services: list[ServiceType]


def catalog_by_group(session: Session) -> list[ServiceGroup]:
    """The public catalog in the reader's language: groups and their services, alphabetical (accents ignored)."""
    groups: dict[str, ServiceGroup] = {}
    for service in public_services(session):
        name = localized(service, "group") or ""
        groups.setdefault(name, ServiceGroup(name, [])).services.append(service)
    for group in groups.values():
        group.services.sort(key=lambda s: fold(localized(s, "name")))
    # A service without a group comes last.
    return sorted(groups.values(), key=lambda g: (g.name == "", fold(g.name)))


def _haystacks(service: ServiceType) -> tuple[str, str, str]:
    """The service's names, its keywords and its other texts, in every language, folded."""
    texts = all_translations(service)
    names = " ".join(t.get("name") or "" for t in texts.values())
    keywords = " ".join(", ".join(localized_keywords(service, loc)) for loc in texts)
    rest = " ".join(f"{t.get('description') or ''} {t.get('group') or ''}" for t in texts.values())
    return fold(names), fold(keywords), fold(rest)


def search_services(session: Session, query: str) -> list[ServiceType]:
    """Public services whose names, keywords, description or group (any language) hold every word of ``query``.

    Case and accents do not matter; a match in the name ranks first, then in the keywords.
    """
    words = fold(query).split()
    if not words:
        return []
    phrase = " ".join(words)
    ranked = []
    for service in public_services(session):
        names, keywords, rest = _haystacks(service)
        everything = f"{names} {keywords} {rest}"
        if not all(w in everything for w in words):
            continue
        rank = 0 if phrase in names else 1 if phrase in keywords else 2
        ranked.append((rank, fold(localized(service, "name")), service))
    return [s for _, _, s in sorted(ranked, key=lambda r: r[:2])]


# ---------------------------------------------------------------- notices

def current_notices(session: Session, limit: int = 10, now: datetime | None = None) -> list[Notice]:
    """Published notices that have not expired, for the whole city or any zone, newest first."""
    now = now or utcnow()
    stmt = (
        select(Notice)
        .where(Notice.published_at <= now, or_(Notice.expires_at.is_(None), Notice.expires_at > now))
        .order_by(Notice.published_at.desc(), Notice.id.desc())
        .limit(limit)
    )
    return list(session.scalars(stmt))


def notice_text(notice: Notice, field: str, locale: str | None = None) -> str:
    """A notice's ``title`` or ``body`` in the reader's language (its own text when not translated)."""
    per_locale = {loc: (texts or {}).get(field) for loc, texts in (notice.translations or {}).items() if isinstance(texts, dict)}
    return pick(getattr(notice, field), per_locale, locale) or ""


# ---------------------------------------------------------------- the address list

def _like_escaped(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def suggest_addresses(session: Session, query: str, limit: int = 10) -> list[dict[str, Any]]:
    """Up to ``limit`` addresses of the list holding ``query``, those starting with it first.

    Only the address and its point: never a holder's name or an account number.
    """
    key = address_key(query)
    if len(key) < 2:
        return []
    pattern = f"%{_like_escaped(key)}%"
    starts = func.min(func.substr(UtilityAccount.address_key, 1, len(key))) == key
    stmt = (
        select(UtilityAccount.address_key, func.min(UtilityAccount.service_address), func.min(UtilityAccount.lat), func.min(UtilityAccount.long))
        .where(UtilityAccount.address_key.like(pattern, escape="\\"))
        .group_by(UtilityAccount.address_key)
        .order_by(starts.desc(), UtilityAccount.address_key)
        .limit(limit)
    )
    return [{"address": address, "lat": lat, "long": long} for _key, address, lat, long in session.execute(stmt)]


@dataclass(frozen=True)
class KnownAddress:
    address: str
    lat: float | None
    long: float | None
    zipcode: str | None
    zone: str | None


def match_address(session: Session, typed: str | None) -> KnownAddress | None:
    """The one address of the list that ``typed`` names (case and spacing ignored), or None.

    Several accounts at the same address are one address; rows that disagree on the point are no match.
    """
    key = address_key(typed)
    if not key:
        return None
    rows = list(session.scalars(select(UtilityAccount).where(UtilityAccount.address_key == key).limit(20)))
    points = {(r.lat, r.long) for r in rows if r.lat is not None and r.long is not None}
    if not rows or len(points) > 1:
        return None
    row = next((r for r in rows if r.lat is not None), rows[0])
    return KnownAddress(row.service_address, row.lat, row.long, row.zipcode or None, row.zone or None)


def _box(lat: float, long: float, metres: float):
    """Latitude and longitude bounds of a square of ``metres`` around a point (plain range predicates: indexable)."""
    dlat = metres / METRES_PER_DEGREE
    dlong = metres / (METRES_PER_DEGREE * max(math.cos(math.radians(lat)), 0.01))
    return lat - dlat, lat + dlat, long - dlong, long + dlong


def distance_m(lat1: float, long1: float, lat2: float, long2: float) -> float:
    """Great-circle distance in metres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(long2 - long1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6_371_000 * math.asin(min(1.0, math.sqrt(a)))


def nearest_address(session: Session, lat: float, long: float, within: float = 60) -> KnownAddress | None:
    """The address of the list nearest to a point, when one is within ``within`` metres."""
    south, north, west, east = _box(lat, long, within)
    rows = session.scalars(
        select(UtilityAccount)
        .where(UtilityAccount.lat.between(south, north), UtilityAccount.long.between(west, east))
        .limit(200)
    )
    best = min(((distance_m(lat, long, r.lat, r.long), r) for r in rows), key=lambda x: x[0], default=None)
    if best is None or best[0] > within:
        return None
    row = best[1]
    return KnownAddress(row.service_address, row.lat, row.long, row.zipcode or None, row.zone or None)


# ---------------------------------------------------------------- "Is this it?"

def nearby_open_cases(session: Session, service: ServiceType, lat: float, long: float, radius: float = 200, limit: int = 10) -> list[Case]:
    """Open cases of ``service`` within ``radius`` metres of a point, nearest first.

    A bounding box on the raw lat/long columns (indexable), then the exact distance.
    """
    south, north, west, east = _box(lat, long, radius)
    stmt = (
        select(Case)
        .where(
            Case.service_type_id == service.id,
            Case.status.in_(sorted(OPEN_STATUSES)),
            Case.lat.between(south, north),
            Case.long.between(west, east),
        )
        .order_by(Case.created_at.desc())
        .limit(200)
    )
    found = [(distance_m(lat, long, c.lat, c.long), c) for c in session.scalars(stmt)]
    return [c for d, c in sorted(found, key=lambda x: x[0]) if d <= radius][:limit]


def public_case_summary(case: Case) -> dict[str, Any]:
    """What anyone may see of a case in "Is this it?": never who reported it."""
    return {
        "reference": case.reference,
        "service": localized(case.service_type, "name"),
        "status": str(case.status_label),
        "address": case.address or "",
        "created": case.created_at,
    }


# ---------------------------------------------------------------- photos

@dataclass
class Photo:
    """A photo sent with the report form: its bytes as sent (EXIF still there) and what the browser said."""

    data: bytes
    name: str
    content_type: str = ""
    token: str = ""  # set once the photo is kept between two sendings of the form


def _rational(value: Any) -> float:
    if isinstance(value, tuple) and len(value) == 2:  # (numerator, denominator)
        return float(value[0]) / float(value[1])
    return float(value)


def photo_gps(data: bytes) -> tuple[float, float] | None:
    """The GPS point a photo's EXIF records (decimal degrees), or None.  Reads only the header."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a huge image is store_attachment's to refuse; we only read tags
            with Image.open(io.BytesIO(data)) as img:
                gps = img.getexif().get_ifd(ExifTags.IFD.GPSInfo)
        if not gps:
            return None
        point = []
        for value_tag, ref_tag, negative, limit in (
            (ExifTags.GPS.GPSLatitude, ExifTags.GPS.GPSLatitudeRef, "S", 90),
            (ExifTags.GPS.GPSLongitude, ExifTags.GPS.GPSLongitudeRef, "W", 180),
        ):
            parts = [_rational(p) for p in gps[value_tag]]
            degrees = parts[0] + (parts[1] if len(parts) > 1 else 0) / 60 + (parts[2] if len(parts) > 2 else 0) / 3600
            ref = gps.get(ref_tag, "")
            ref = ref.decode(errors="ignore") if isinstance(ref, bytes) else str(ref)
            if ref.strip().upper().startswith(negative):
                degrees = -degrees
            if not -limit <= degrees <= limit or math.isnan(degrees):
                return None
            point.append(round(degrees, 6))
        if point == [0.0, 0.0]:  # a camera without a fix writes zeros
            return None
        return point[0], point[1]
    except Exception:  # noqa: BLE001 -- any unreadable EXIF simply suggests nothing
        return None


def is_photo(data: bytes) -> bool:
    """Whether the bytes start like a photo we accept (store_attachment checks the rest)."""
    return sniff(data[:16]) in PHOTO_TYPES


def read_upload(storage, limit: int) -> bytes | None:
    """The bytes of an uploaded file, or None when it is over ``limit`` (reading stops there)."""
    buf = io.BytesIO()
    while chunk := storage.stream.read(64 * 1024):
        buf.write(chunk)
        if buf.tell() > limit:
            return None
    return buf.getvalue()


def _pending_dir() -> Path:
    """Photos kept between two sendings of the form: in the data folder, outside any web root."""
    return current_app.extensions["civic"].data_dir / "portal-pending"


def _purge_pending(folder: Path) -> int:
    """Drop kept photos older than a day; the bytes the others take."""
    cutoff = time.time() - PENDING_MAX_AGE
    total = 0
    for path in folder.glob("*.upload"):
        try:
            stat = path.stat()
            if stat.st_mtime < cutoff:
                path.unlink(missing_ok=True)
            else:
                total += stat.st_size
        except OSError:
            pass
    return total


def keep_photo(photo: Photo) -> str:
    """Keep a photo until the form is sent again; returns the signed token the form carries
    ("" when the folder is full: the resident adds the photo again)."""
    folder = _pending_dir()
    folder.mkdir(parents=True, exist_ok=True)
    if _purge_pending(folder) + len(photo.data) > PENDING_MAX_BYTES:
        return ""
    ident = uuid.uuid4().hex
    (folder / f"{ident}.upload").write_bytes(photo.data)
    photo.token = tokens.sign("pending-photo", {"id": ident, "name": photo.name, "type": photo.content_type})
    return photo.token


def kept_photo(token: str) -> Photo | None:
    """The photo a token of ``keep_photo`` names, while it is still kept."""
    data = tokens.verify("pending-photo", token, max_age=PENDING_MAX_AGE)
    if not data or not re.fullmatch(r"[0-9a-f]{32}", str(data.get("id", ""))):
        return None
    path = _pending_dir() / f"{data['id']}.upload"
    if not path.is_file():
        return None
    return Photo(path.read_bytes(), clean_filename(data.get("name")), str(data.get("type") or ""), token)


def forget_photo(token: str) -> None:
    data = tokens.verify("pending-photo", token, max_age=PENDING_MAX_AGE)
    if data and re.fullmatch(r"[0-9a-f]{32}", str(data.get("id", ""))):
        (_pending_dir() / f"{data['id']}.upload").unlink(missing_ok=True)
