"""The dispatcher's sweep screens (menu Field › Sweeps): the campaigns with their progress, a form to create
one, and a campaign's page (progress per zone, its streets on a map coloured by status, flagged streets
with "Create case" / "Create work order", Start / Close).

Dispatchers and admins manage sweeps; supervisors and the EOC viewer read them; field crews use their
phone view instead (crew.py).  The work is in ``sweeps.py``; the percentages come from ``progress.py``.
"""
from __future__ import annotations

import sqlalchemy as sa
from flask import abort, flash, jsonify, redirect, request, url_for
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access, has_access_api
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from core.extensions import db
from core.formats import format_datetime, format_number
from core.models import Crew
from core.records import RoleSpec, ViewSpec
from core.services.cases import Actor, CaseError
from plugins.fieldservice import photos, sweeps
from plugins.fieldservice.crew import leaflet_url
from plugins.fieldservice.models import SWEEP_STATES, StreetSegment, SweepCampaign, SweepSegment, Zone
from plugins.fieldservice.progress import ZoneProgress, total_progress, zone_progress
from plugins.fieldservice.progress import add_counts
from plugins.fieldservice.settings import sweep_type, sweep_types

PAGE_SIZE = 25
FLAGGED_LIMIT = 200
MAP_LIMIT = 5000
FIELD_LABELS = {"name": _l("Name"), "sweep_type": _l("Type"), "zones": _l("Zones"), "crew": _l("Crew"), "notes": _l("Notes"),
                "state": _l("State"), "version": _l("Version"), "status": _l("Status"), "zone": _l("Zone")}


def _label(field: str) -> str:
    return str(FIELD_LABELS.get(field, field))


def _flash_errors(exc: CaseError) -> None:
    for field, messages in exc.errors.items():
        for message in messages:
            flash(gettext("%(field)s: %(message)s", field=_label(field), message=message), "danger")


def _whole(name: str, value: str | None, default: int = 0) -> int:
    if value is None or value == "":
        return default
    if not value.isdigit() or len(value) > 9:
        abort(400, description=gettext("%(field)s: %(message)s", field=name, message=gettext("must be a whole number")))
    return int(value)


def page_progress(session, page: list[SweepCampaign]) -> dict[int, ZoneProgress]:
    """% checked / cleared of the listed sweeps only: one GROUP BY (sweep, status) over them (``zone_progress`` per
    sweep would be a query per row), counted by progress.py's rules."""
    if not page:
        return {}
    rows = session.execute(
        sa.select(SweepSegment.sweep_id, SweepSegment.status, sa.func.count())
        .where(SweepSegment.sweep_id.in_([s.id for s in page])).group_by(SweepSegment.sweep_id, SweepSegment.status)
    ).all()
    kinds = {s.id: sweep_type(s.sweep_type) for s in page}
    found = {s.id: ZoneProgress(None, "") for s in page}
    for sweep_id, status, count in rows:
        add_counts(found[sweep_id], status, int(count), 0.0, kinds[sweep_id])  # progress.py's own counting rules
    return found


class SweepView(BaseView):
    """Storm sweeps: list, create, follow, start and close; cases and work orders from flagged streets."""

    route_base = "/fieldservice/sweeps"
    default_view = "index"
    base_permissions = ["can_list", "can_show", "can_add", "can_edit"]
    method_permission_name = {"index": "list", "show": "show", "streets": "show", "add": "add", "start": "edit", "close": "edit",
                              "make_case": "edit", "assign": "edit", "add_zones": "edit"}

    def _sweep(self, pk: int) -> SweepCampaign:
        sweep = db.session.get(SweepCampaign, pk)
        if sweep is None:
            abort(404)
        return sweep

    def _may_edit(self) -> bool:
        return bool(self.appbuilder.sm.has_access("can_edit", "SweepView"))

    @expose("/")
    @has_access
    def index(self):
        page = _whole(gettext("Page"), request.args.get("page"))
        state = request.args.get("state", "")
        if state and state not in SWEEP_STATES:
            abort(400, description=gettext("%(field)s: %(message)s", field=gettext("State"),
                                           message=gettext("must be one of: %(choices)s", choices=", ".join(SWEEP_STATES))))
        stmt = sa.select(SweepCampaign)
        count = sa.select(sa.func.count()).select_from(SweepCampaign)
        if state:
            stmt, count = stmt.where(SweepCampaign.state == state), count.where(SweepCampaign.state == state)
        total = db.session.scalar(count)
        listed = list(db.session.scalars(stmt.order_by(SweepCampaign.created_at.desc(), SweepCampaign.id.desc())
                                         .offset(page * PAGE_SIZE).limit(PAGE_SIZE)))
        return self.render_template(
            "fieldservice/sweeps.html", title=gettext("Sweeps"), sweeps=listed, progress=page_progress(db.session, listed),
            kinds={t.code: t for t in sweep_types()}, states=SWEEP_STATES, state=state, page=page,
            pages=max(1, -(-total // PAGE_SIZE)), can_add=self.appbuilder.sm.has_access("can_add", "SweepView"),
            format_datetime=format_datetime, format_number=format_number,
        )

    def _form(self, values: dict, status: int = 200):
        zones = list(db.session.scalars(sa.select(Zone).order_by(Zone.name).limit(1000)))
        crews = list(db.session.scalars(sa.select(Crew).where(Crew.active.is_(True)).order_by(Crew.name).limit(500)))
        return self.render_template("fieldservice/sweep_form.html", title=gettext("New sweep"), types=sweep_types(), zones=zones,
                                    crews=crews, values=values), status

    @expose("/new", methods=["GET", "POST"])
    @has_access
    def add(self):
        if request.method == "GET":
            return self._form({"zones": [], "crews": {}})
        codes = request.form.getlist("zones")
        crews = {code: request.form.get(f"crew_{code}") or None for code in codes}
        values = {"name": request.form.get("name", ""), "sweep_type": request.form.get("sweep_type", ""), "zones": codes,
                  "crews": crews, "notes": request.form.get("notes", "")}
        try:
            sweep = sweeps.create_sweep(db.session, name=values["name"], sweep_type=values["sweep_type"], zone_codes=codes,
                                        actor=Actor.of(current_user), crews_by_zone={k: v for k, v in crews.items() if v},
                                        notes=values["notes"])
        except CaseError as exc:
            db.session.rollback()
            _flash_errors(exc)
            return self._form(values, 400)
        flash(gettext("Sweep \"%(name)s\" created: start it when the crews are ready.", name=sweep.name), "success")
        return redirect(url_for(".show", pk=sweep.id))

    @expose("/<int:pk>")
    @has_access
    def show(self, pk: int):
        return self._page(self._sweep(pk))

    def _page(self, sweep: SweepCampaign, status: int = 200):
        kind = sweep_type(sweep.sweep_type)
        zones = zone_progress(db.session, sweep)
        flagged = []
        if kind is not None and kind.flagged_codes:
            flagged = db.session.execute(
                sa.select(SweepSegment, StreetSegment.street_name)
                .join(StreetSegment, StreetSegment.id == SweepSegment.segment_id)
                .where(SweepSegment.sweep_id == sweep.id, SweepSegment.status.in_(kind.flagged_codes))
                .order_by(SweepSegment.checked_at.desc(), SweepSegment.id).limit(FLAGGED_LIMIT)
            ).all()
        can_edit = self._may_edit()
        crews = other_zones = []
        if can_edit and sweep.state != "closed":
            crews = list(db.session.scalars(sa.select(Crew).where(Crew.active.is_(True)).order_by(Crew.name).limit(500)))
            have = [sz.zone_id for sz in sweep.zones]
            other_zones = list(db.session.scalars(sa.select(Zone).where(Zone.id.not_in(have)).order_by(Zone.name).limit(1000)))
        return self.render_template(
            "fieldservice/sweep.html", title=sweep.name, sweep=sweep, kind=kind, zones=zones, total=total_progress(zones),
            flagged=flagged, flagged_limit=FLAGGED_LIMIT, can_edit=can_edit, crews=crews, other_zones=other_zones,
            streets_url=url_for(".streets", pk=sweep.id), leaflet_js=leaflet_url("leaflet.js"), leaflet_css=leaflet_url("leaflet.css"),
            format_datetime=format_datetime, format_number=format_number,
        ), status

    @expose("/<int:pk>/streets.geojson")
    @has_access_api
    def streets(self, pk: int):
        """The sweep's streets coloured by status (no personal data: street, status, when)."""
        sweep = self._sweep(pk)
        kind = sweep_type(sweep.sweep_type)
        rows = db.session.execute(
            sa.select(SweepSegment.id, SweepSegment.status, SweepSegment.checked_at, StreetSegment.street_name, StreetSegment.geometry)
            .join(StreetSegment, StreetSegment.id == SweepSegment.segment_id)
            .where(SweepSegment.sweep_id == sweep.id).order_by(SweepSegment.id).limit(MAP_LIMIT)
        ).all()
        features = []
        for sid, status, checked_at, street, geometry in rows:
            info = kind.status(status) if kind else None
            features.append({"type": "Feature", "geometry": geometry, "properties": {
                "id": sid, "street": street, "status": status, "status_label": info.label if info else status,
                "color": info.color if info else "#9e9e9e", "checked_at": checked_at.isoformat() + "Z" if checked_at else None}})
        return jsonify(type="FeatureCollection", features=features, truncated=len(rows) >= MAP_LIMIT)

    def _move(self, pk: int, move):
        sweep = self._sweep(pk)
        try:
            move(db.session, sweep, Actor.of(current_user), expected_version=request.form.get("version"))
        except CaseError as exc:
            db.session.rollback()
            _flash_errors(exc)
            return self._page(self._sweep(pk), 400)
        return redirect(url_for(".show", pk=pk))

    @expose("/<int:pk>/start", methods=["POST"])
    @has_access
    def start(self, pk: int):
        return self._move(pk, sweeps.start_sweep)

    @expose("/<int:pk>/close", methods=["POST"])
    @has_access
    def close(self, pk: int):
        return self._move(pk, sweeps.close_sweep)

    @expose("/<int:pk>/zone/<code>/crew", methods=["POST"])
    @has_access
    def assign(self, pk: int, code: str):
        """Give a zone of the sweep to a crew ("" : any crew)."""
        sweep = self._sweep(pk)
        if sweep.state == "closed":
            flash(gettext("%(field)s: %(message)s", field=_label("state"), message=gettext("the sweep is closed")), "danger")
            return self._page(sweep, 400)
        wanted = request.form.get("crew", "")
        crew = None
        if wanted:
            crew = db.session.get(Crew, _whole(gettext("Crew"), wanted))
            if crew is None:
                _flash_errors(CaseError({"crew": [gettext("unknown crew")]}))
                return self._page(sweep, 400)
        try:
            sweeps.assign_crew(db.session, sweep, code, crew)
        except CaseError as exc:
            db.session.rollback()
            _flash_errors(exc)
            return self._page(self._sweep(pk), 400)
        return redirect(url_for(".show", pk=pk))

    @expose("/<int:pk>/zones", methods=["POST"])
    @has_access
    def add_zones(self, pk: int):
        """Add zones to a sweep that is not closed: their streets enter "not checked"."""
        sweep = self._sweep(pk)
        codes = request.form.getlist("zones")
        if not codes:
            _flash_errors(CaseError({"zones": [gettext("choose at least one zone")]}))
            return self._page(sweep, 400)
        try:
            added = sweeps.add_zones(db.session, sweep, codes, Actor.of(current_user))
        except CaseError as exc:
            db.session.rollback()
            _flash_errors(exc)
            return self._page(self._sweep(pk), 400)
        flash(gettext("%(num)s streets added to the sweep.", num=format_number(added)), "success")
        return redirect(url_for(".show", pk=pk))

    @expose("/<int:pk>/segment/<int:sid>/case", methods=["POST"])
    @has_access
    def make_case(self, pk: int, sid: int):
        """"Create case" (or "Create work order" with ``work_order=1``) for a flagged street."""
        sweep = self._sweep(pk)
        segment = db.session.get(SweepSegment, sid)
        if segment is None or segment.sweep_id != sweep.id:
            abort(404)
        work_order = request.form.get("work_order") == "1"
        crew = None
        if segment.crew_id and work_order:
            crew = db.session.get(Crew, segment.crew_id)
        try:
            case, task = sweeps.case_from_segment(db.session, segment, Actor.of(current_user), work_order=work_order, crew=crew)
        except CaseError as exc:
            db.session.rollback()
            _flash_errors(exc)
            return self._page(self._sweep(pk), 400)
        if task is not None:
            flash(gettext("Case %(reference)s and its work order are ready.", reference=case.reference), "success")
        else:
            flash(gettext("Case %(reference)s is ready.", reference=case.reference), "success")
        return redirect(url_for(".show", pk=pk))


# ---------------------------------------------------------------- registration (screens.py)


def view_specs() -> list[ViewSpec]:
    return [ViewSpec("Sweeps", SweepView, _l("Sweeps"), "Field", _l("Field"), "fa-road"), *photos.view_specs()]


def role_specs() -> list[RoleSpec]:
    read = (("SweepView", "can_list|can_show"), ("Sweeps", "menu_access"))
    return [
        RoleSpec("Dispatcher", (("SweepView", ".*"), ("Sweeps", "menu_access"))),
        RoleSpec("Supervisor", read),
        RoleSpec("EOC viewer", read),
        *photos.role_specs(),
    ]
