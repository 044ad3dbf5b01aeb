"""The crew's phone view of a sweep (``/fieldservice/crew/``) and its JSON endpoints.

A crew member sees the active sweeps of their crews, their zones' segments nearest first, and checks a
segment off with one tap.  Check-offs queue on the phone (IndexedDB, ``crew.js``) and are sent in batches:
each carries the phone's ``client_id``, so a batch sent twice records every check-off once.  A check-off
with a photo goes in one multipart request (``api/photo``) with its fields: the photo is stored only when
the check-off is new, so a re-sent photo is never stored twice.

Permissions: "Field crew" (their crews' sweeps and zones only: 403 otherwise), "Dispatcher" and "Admin"
(every active sweep).  POSTs need the CSRF token (header ``X-CSRFToken``).
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import abort, current_app, jsonify, request, url_for
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access, has_access_api
from flask_babel import get_locale, gettext
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from werkzeug.routing import BuildError

from core.extensions import db
from core.records import RoleSpec, ViewSpec
from core.services.cases import Actor, CaseError
from plugins.fieldservice import sweeps
from plugins.fieldservice.models import SweepCampaign, SweepSegment, SweepZone
from plugins.fieldservice.progress import total_progress, zone_progress
from plugins.fieldservice.settings import settings, sweep_type

HERE = Path(__file__).resolve().parent
MAX_BATCH = 100
LIST_LIMIT = 300


# ---------------------------------------------------------------- who may check what


def my_crews(user) -> list:
    """The active crews the user is a member of (one query)."""
    from core.models import Crew
    from core.models.coordination import crew_member

    return list(db.session.scalars(
        sa.select(Crew).join(crew_member, crew_member.c.crew_id == Crew.id)
        .where(crew_member.c.user_id == user.id, Crew.active.is_(True)).order_by(Crew.name)
    ))


def sees_every_sweep() -> bool:
    """Dispatchers and admins open any active sweep from the crew view."""
    return bool(current_app.appbuilder.sm.has_access("can_any_sweep", "CrewSweepView"))


def my_zone_codes(sweep: SweepCampaign, crew_ids: set[int], everything: bool) -> list[str] | None:
    """The sweep's zones the user works: those of their crews and those given to no crew; None: not their sweep."""
    if everything:
        return [sz.zone.code for sz in sweep.zones]
    if not any(sz.crew_id in crew_ids for sz in sweep.zones):
        return None
    return [sz.zone.code for sz in sweep.zones if sz.crew_id is None or sz.crew_id in crew_ids]


def my_sweeps(user, crew_ids: set[int], everything: bool) -> list[SweepCampaign]:
    stmt = sa.select(SweepCampaign).where(SweepCampaign.state == "active").order_by(SweepCampaign.started_at.desc())
    if not everything:
        stmt = stmt.where(SweepCampaign.id.in_(sa.select(SweepZone.sweep_id).where(SweepZone.crew_id.in_(crew_ids or {-1}))))
    return list(db.session.scalars(stmt.limit(50)))


def _crew_for(zone_code: str | None, sweep: SweepCampaign, crews: list) -> Any:
    """The crew a check-off is recorded for: the user's crew that drives the zone, else their first crew."""
    ids = {c.id: c for c in crews}
    for sz in sweep.zones:
        if sz.zone.code == zone_code and sz.crew_id in ids:
            return ids[sz.crew_id]
    return crews[0] if crews else None


def _number(name: str, limit: float) -> float | None:
    raw = request.args.get(name, "")
    if raw.strip() == "":
        return None
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or not -limit <= value <= limit:
        abort(400, description=gettext("%(field)s: %(message)s", field=name,
                                       message=gettext("must be a number from %(low)s to %(high)s", low=-limit, high=limit)))
    return value


def leaflet_url(filename: str) -> str | None:
    """Leaflet from its pip package, through whichever route serves it (the map's, or the portal's)."""
    for endpoint in ("fieldservice_assets.leaflet", "portal.leaflet"):
        try:
            return url_for(endpoint, filename=filename)
        except BuildError:
            continue
    return None


def _error(status: int, field: str, message: str):
    return jsonify(errors={field: [message]}, message=gettext("%(field)s: %(message)s", field=field, message=message)), status


# ---------------------------------------------------------------- the view


class CrewSweepView(BaseView):
    """The phone page and its JSON API."""

    route_base = "/fieldservice/crew"
    default_view = "index"
    base_permissions = ["can_use", "can_any_sweep"]
    method_permission_name = {"index": "use", "segments": "use", "checks": "use", "photo": "use"}

    def _context(self):
        crews = my_crews(current_user)
        return crews, {c.id for c in crews}, sees_every_sweep()

    @expose("/")
    @has_access
    def index(self):
        crews, crew_ids, everything = self._context()
        found = my_sweeps(current_user, crew_ids, everything)
        kinds = {s.sweep_type: sweep_type(s.sweep_type) for s in found}
        sweeps_json = [
            {"id": s.id, "name": s.name, "type": kinds[s.sweep_type].label if kinds[s.sweep_type] else s.sweep_type,
             "statuses": [{"code": st.code, "label": st.label, "color": st.color, "flagged": st.flagged}
                          for st in (kinds[s.sweep_type].statuses if kinds[s.sweep_type] else ())],
             "segments_url": url_for("CrewSweepView.segments", pk=s.id)}
            for s in found
        ]
        return self.render_template(
            "fieldservice/crew.html", sweeps=sweeps_json, crews=crews,
            refresh_seconds=settings().get("refresh_seconds", 30),
            leaflet_js=leaflet_url("leaflet.js"), leaflet_css=leaflet_url("leaflet.css"),
            checks_url=url_for("CrewSweepView.checks"), photo_url=url_for("CrewSweepView.photo"),
            sw_url=url_for("CrewSweepView.service_worker"), scope=url_for("CrewSweepView.index"), lang=str(get_locale() or "en"),
        )

    @expose("/sw.js")
    def service_worker(self):
        """The service worker, served under /fieldservice/crew/ so its scope covers the page (no data in it)."""
        script = (HERE / "static" / "fieldservice" / "crew-sw.js").read_text(encoding="utf-8")
        return current_app.response_class(script, mimetype="text/javascript",
                                          headers={"Cache-Control": "no-cache", "Service-Worker-Allowed": url_for("CrewSweepView.index")})

    def _sweep_for_user(self, pk: int):
        """The sweep and the user's zone codes in it; 404 when not active, 403 when not theirs."""
        sweep = db.session.get(SweepCampaign, pk)
        if sweep is None or sweep.state != "active":
            abort(404)
        crews, crew_ids, everything = self._context()
        zones = my_zone_codes(sweep, crew_ids, everything)
        if zones is None:
            abort(403)
        return sweep, zones, crews

    @expose("/api/sweep/<int:pk>/segments")
    @has_access_api
    def segments(self, pk: int):
        """My zones' segments of the sweep, nearest first (``lat``/``long``: the phone's position)."""
        lat, long = _number("lat", 90), _number("long", 180)
        if (lat is None) != (long is None):
            return _error(400, "long" if long is None else "lat", gettext("give both lat and long, or neither"))
        sweep, zones, _crews = self._sweep_for_user(pk)
        kind = sweep_type(sweep.sweep_type)
        rows = sweeps.segments_near(db.session, sweep, zones, lat, long, LIST_LIMIT)
        progress = [p for p in zone_progress(db.session, sweep) if p.zone_code in set(zones)]
        return jsonify(
            sweep={"id": sweep.id, "name": sweep.name, "state": sweep.state},
            statuses=[{"code": s.code, "label": s.label, "color": s.color, "flagged": s.flagged} for s in (kind.statuses if kind else ())],
            zones=[p.as_json() for p in progress], progress=total_progress(progress).as_json(),
            segments=[row.as_json(kind) for row in rows],
        )

    def _refusal(self, item: Any, cache: dict, ctx, segments: dict) -> dict | None:
        """Why this item cannot be checked off by this user (an answer naming the field), or None."""
        _crews, crew_ids, everything = ctx
        client_id = item.get("client_id") if isinstance(item, dict) else None
        answer: dict[str, Any] = {"client_id": client_id, "result": "error", "code": 400}
        if not isinstance(item, dict):
            return {**answer, "errors": {"item": [gettext("must be an object")]}}
        if not isinstance(client_id, str) or not client_id.strip():
            return {**answer, "errors": {"client_id": [gettext("is required")]}}
        segment = segments.get(str(item.get("sweep_segment_id")))
        if segment is None:
            return {**answer, "errors": {"sweep_segment_id": [gettext("no such street segment in a sweep")]}}
        if segment.sweep_id not in cache:
            cache[segment.sweep_id] = my_zone_codes(segment.sweep, crew_ids, everything)
        zones = cache[segment.sweep_id]
        if zones is None or segment.zone_code not in zones:
            return {**answer, "code": 403, "errors": {"sweep_segment_id": [gettext("this street is not in a zone of your crew")]}}
        return None

    def _one(self, item: Any, cache: dict, ctx, segments: dict, photo=None) -> dict:
        """Check off one item of a batch; the answer names the item by its client_id."""
        refused = self._refusal(item, cache, ctx, segments)
        if refused is not None:
            return refused
        crews = ctx[0]
        client_id = item["client_id"].strip()
        segment = segments[str(item.get("sweep_segment_id"))]
        try:
            check, created = sweeps.check_off(
                db.session, segment, status=str(item.get("status") or ""), actor=Actor.of(current_user),
                crew=_crew_for(segment.zone_code, segment.sweep, crews), note=str(item.get("note") or ""), photo=photo,
                client_id=client_id, checked_at=item.get("checked_at"), lat=item.get("lat"), long=item.get("long"),
            )
        except CaseError as exc:
            db.session.rollback()
            return {"client_id": client_id, "result": "error", "code": 400, "errors": exc.errors}
        db.session.refresh(segment)
        return {"client_id": client_id, "result": "ok" if created else "duplicate", "check_id": check.id,
                "photo_id": check.photo_id, "segment": {"id": segment.id, "status": segment.status}}

    def _segments(self, ids: list[Any]) -> dict[str, SweepSegment]:
        """The batch's segments in one query."""
        wanted = {int(i) for i in ids if isinstance(i, int) or (isinstance(i, str) and i.isdigit() and len(i) < 19)}
        if not wanted:
            return {}
        return {str(s.id): s for s in db.session.scalars(sa.select(SweepSegment).where(SweepSegment.id.in_(wanted)))}

    @expose("/api/checks", methods=["POST"])
    @has_access_api
    def checks(self):
        """A batch of queued check-offs: ``{"checks": [{client_id, sweep_segment_id, status, note, checked_at, lat, long}]}``
        -> ``{"results": [{client_id, result: ok | duplicate | error, errors}]}``, in the same order."""
        body = request.get_json(silent=True)
        items = body.get("checks") if isinstance(body, dict) else body
        if not isinstance(items, list):
            return _error(400, "checks", gettext("must be a list of check-offs"))
        if len(items) > MAX_BATCH:
            return _error(400, "checks", gettext("send at most %(num)d check-offs at a time", num=MAX_BATCH))
        ctx = self._context()
        segments = self._segments([i.get("sweep_segment_id") for i in items if isinstance(i, dict)])
        cache: dict = {}
        return jsonify(results=[self._one(item, cache, ctx, segments) for item in items])

    @expose("/api/photo", methods=["POST"])
    @has_access_api
    def photo(self):
        """One check-off with its photo (multipart: the check's fields and ``photo``).  A check-off already received
        answers "duplicate" without storing the photo again."""
        from plugins.fieldservice.models import FieldPhoto, SweepCheck
        from plugins.fieldservice.photos import discard_photo, forget_file, save_photo

        item = {k: request.form.get(k) for k in ("client_id", "sweep_segment_id", "status", "note", "checked_at", "lat", "long")}
        upload = request.files.get("photo")
        if upload is None or not upload.filename:
            return _error(400, "photo", gettext("is required"))
        ctx = self._context()
        segments = self._segments([item["sweep_segment_id"]])
        refused = self._refusal(item, {}, ctx, segments)
        if refused is not None:
            return jsonify(results=[refused]), refused["code"]
        client_id = item["client_id"].strip()
        first = db.session.scalar(sa.select(SweepCheck).where(SweepCheck.client_id == client_id))
        if first is not None:
            return jsonify(results=[{"client_id": client_id, "result": "duplicate", "check_id": first.id, "photo_id": first.photo_id}])
        try:
            photo = save_photo(db.session, upload, Actor.of(current_user))
        except CaseError as exc:
            db.session.rollback()
            return jsonify(results=[{"client_id": client_id, "result": "error", "code": 400, "errors": exc.errors}]), 400
        stored_name, photo_id = photo.stored_name, photo.id
        answer = self._one(item, {}, ctx, segments, photo=photo)
        if answer["result"] != "ok":  # refused, or the same check-off won a race: the photo is not kept
            db.session.rollback()
            kept = db.session.get(FieldPhoto, photo_id)
            if kept is not None and answer.get("photo_id") != photo_id:
                discard_photo(db.session, kept)
            elif kept is None:
                forget_file(stored_name)
        return jsonify(results=[answer]), (answer.get("code") or 200)


# ---------------------------------------------------------------- registration (screens.py)


def view_specs() -> list[ViewSpec]:
    return [ViewSpec("CrewSweep", CrewSweepView, _l("My sweep"), "Field", _l("Field"), "fa-mobile")]


def role_specs() -> list[RoleSpec]:
    use = (("CrewSweepView", "can_use"), ("CrewSweep", "menu_access"))
    return [
        RoleSpec("Field crew", use),
        RoleSpec("Dispatcher", (("CrewSweepView", "can_use|can_any_sweep"), ("CrewSweep", "menu_access"))),
    ]
