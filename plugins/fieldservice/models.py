"""Field service tables: the city's map (zones, street segments, meters, extra layers), storm sweeps
checked off street by street, and work orders (case tasks given to a crew).

Geometries are GeoJSON geometry objects in a JSON column; every feature also keeps its bounding box
and a middle point as plain numbers, so "what is in this map view" and "how many per grid cell" run
as indexed SQL on SQLite and PostgreSQL alike (no spatial extension needed).
"""
from __future__ import annotations

from flask_appbuilder import Model
from flask_babel import lazy_gettext as _l
from sqlalchemy import JSON, Boolean, Column, Date, DateTime, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import backref, relationship

from core.models.base import BigId, utcnow

SWEEP_STATES = {"planned": _l("Planned"), "active": _l("Active"), "closed": _l("Closed")}


class _Extent:
    """Bounding box and middle point of a feature (degrees, WGS 84)."""

    min_lat = Column(Float, nullable=False)
    min_long = Column(Float, nullable=False)
    max_lat = Column(Float, nullable=False)
    max_long = Column(Float, nullable=False)
    mid_lat = Column(Float, nullable=False)
    mid_long = Column(Float, nullable=False)


class Zone(_Extent, Model):
    """A zone or district of the city (polygon): sweeps cover zones, crews work zones."""

    __tablename__ = "fieldservice_zone"
    id = Column(Integer, primary_key=True)
    code = Column(String(50), nullable=False, unique=True)  # the same code as Case.zone
    name = Column(String(200), nullable=False)
    translations = Column(JSON, nullable=False, default=dict)  # {"fr": {"name": ...}}
    geometry = Column(JSON, nullable=False)  # Polygon | MultiPolygon
    sample = Column(Boolean, nullable=False, default=False)  # generated demo data, labelled as such
    imported_at = Column(DateTime, nullable=False, default=utcnow)

    def __repr__(self) -> str:
        return self.name or self.code or ""


class StreetSegment(_Extent, Model):
    """A stretch of street between two intersections, from the city's GIS export."""

    __tablename__ = "fieldservice_segment"
    id = Column(Integer, primary_key=True)
    segment_key = Column(String(64), nullable=False, unique=True)  # the GIS segment id
    street_name = Column(String(200), nullable=False)
    zone_code = Column(String(50), index=True)
    length_m = Column(Float, nullable=False, default=0)
    geometry = Column(JSON, nullable=False)  # LineString | MultiLineString
    sample = Column(Boolean, nullable=False, default=False)
    imported_at = Column(DateTime, nullable=False, default=utcnow)

    __table_args__ = (Index("ix_fieldservice_segment_mid", "mid_lat", "mid_long"),)

    def __repr__(self) -> str:
        return f"{self.street_name} ({self.segment_key})"


class Meter(Model):
    """A utility meter (point) linked to a utility account by its account number."""

    __tablename__ = "fieldservice_meter"
    id = Column(Integer, primary_key=True)
    meter_number = Column(String(40), nullable=False, unique=True)
    account_number = Column(String(40), index=True)
    kind = Column(String(20), nullable=False, default="water")
    lat = Column(Float, nullable=False)
    long = Column(Float, nullable=False)
    zone_code = Column(String(50))
    sample = Column(Boolean, nullable=False, default=False)
    imported_at = Column(DateTime, nullable=False, default=utcnow)

    __table_args__ = (Index("ix_fieldservice_meter_position", "lat", "long"),)


class LayerFeature(_Extent, Model):
    """One feature of an extra layer the city declared with a ``file`` (hydrants, shelters, lift stations)."""

    __tablename__ = "fieldservice_feature"
    id = Column(BigId, primary_key=True)
    layer = Column(String(64), nullable=False)
    feature_key = Column(String(120))
    geometry = Column(JSON, nullable=False)
    properties = Column(JSON, nullable=False, default=dict)
    imported_at = Column(DateTime, nullable=False, default=utcnow)

    __table_args__ = (Index("ix_fieldservice_feature_layer_mid", "layer", "mid_lat", "mid_long"),)


class SweepZone(Model):
    """A zone covered by a sweep, and the crew that drives it (None: any crew of the sweep)."""

    __tablename__ = "fieldservice_sweep_zone"
    sweep_id = Column(Integer, ForeignKey("fieldservice_sweep.id", ondelete="CASCADE"), primary_key=True)
    zone_id = Column(Integer, ForeignKey("fieldservice_zone.id", ondelete="CASCADE"), primary_key=True)
    zone = relationship("Zone", lazy="joined")
    crew_id = Column(Integer, ForeignKey("crew.id", ondelete="SET NULL"), index=True)
    crew = relationship("Crew", lazy="joined")


class SweepCampaign(Model):
    """A storm pass ("Post-storm debris pass 1") over some zones: every street segment in them gets a status
    from the sweep type's list (config ``[[fieldservice.sweep_types]]``)."""

    __tablename__ = "fieldservice_sweep"
    id = Column(Integer, primary_key=True)
    name = Column(String(200), nullable=False)
    sweep_type = Column(String(64), nullable=False)
    state = Column(String(20), nullable=False, default="planned")  # planned | active | closed
    notes = Column(Text, nullable=False, default="")
    zones = relationship("SweepZone", cascade="all, delete-orphan", lazy="selectin")
    created_by_id = Column(Integer, ForeignKey("ab_user.id"))
    created_at = Column(DateTime, nullable=False, default=utcnow)
    started_at = Column(DateTime)
    closed_at = Column(DateTime)
    event_tag = Column(String(50))  # the active event when the sweep was made (hook active_event_tag)
    version = Column(Integer, nullable=False, default=1)

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (Index("ix_fieldservice_sweep_state", "state", "created_at"),)

    def __repr__(self) -> str:
        return self.name or ""

    @property
    def state_label(self):
        return SWEEP_STATES.get(self.state, self.state)


class SweepSegment(Model):
    """The current status of one street segment in one sweep (the latest check-off wins by its time)."""

    __tablename__ = "fieldservice_sweep_segment"
    id = Column(BigId, primary_key=True)
    sweep_id = Column(Integer, ForeignKey("fieldservice_sweep.id", ondelete="CASCADE"), nullable=False)
    sweep = relationship("SweepCampaign")
    segment_id = Column(Integer, ForeignKey("fieldservice_segment.id", ondelete="CASCADE"), nullable=False)
    segment = relationship("StreetSegment", lazy="joined")
    zone_code = Column(String(50))  # copied from the segment: progress per zone is one GROUP BY
    status = Column(String(32), nullable=False)
    checked_at = Column(DateTime)  # when the crew checked it (the phone's clock, never in the future)
    checked_by_id = Column(Integer, ForeignKey("ab_user.id"))
    checked_by = relationship("User", foreign_keys=[checked_by_id])
    crew_id = Column(Integer, ForeignKey("crew.id", ondelete="SET NULL"))
    note = Column(Text, nullable=False, default="")
    photo_id = Column(BigId, ForeignKey("fieldservice_photo.id", ondelete="SET NULL"))
    case_id = Column(BigId, ForeignKey("case.id", ondelete="SET NULL"), index=True)  # a case made from it
    task_id = Column(BigId, ForeignKey("case_task.id", ondelete="SET NULL"), index=True)  # a work order made from it
    updated_at = Column(DateTime, nullable=False, default=utcnow)

    __table_args__ = (
        UniqueConstraint("sweep_id", "segment_id", name="uq_fieldservice_sweep_segment"),
        Index("ix_fieldservice_sweep_segment_zone_status", "sweep_id", "zone_code", "status"),
        Index("ix_fieldservice_sweep_segment_status_checked", "status", "checked_at"),
    )


class SweepCheck(Model):
    """Every check-off ever sent, in the order received: the audit trail of a sweep (FEMA asks for it), and
    the guard against duplicates when a phone re-sends its queue (``client_id`` is unique)."""

    __tablename__ = "fieldservice_sweep_check"
    id = Column(BigId, primary_key=True)
    sweep_segment_id = Column(BigId, ForeignKey("fieldservice_sweep_segment.id", ondelete="CASCADE"), nullable=False, index=True)
    client_id = Column(String(64), unique=True)  # the phone's id for this check-off (a UUID)
    status = Column(String(32), nullable=False)
    note = Column(Text, nullable=False, default="")
    photo_id = Column(BigId, ForeignKey("fieldservice_photo.id", ondelete="SET NULL"))
    actor_id = Column(Integer, ForeignKey("ab_user.id"))
    actor_label = Column(String(120), nullable=False, default="system")
    crew_id = Column(Integer, ForeignKey("crew.id", ondelete="SET NULL"))
    lat = Column(Float)  # where the phone was, when it said
    long = Column(Float)
    checked_at = Column(DateTime, nullable=False)
    received_at = Column(DateTime, nullable=False, default=utcnow, index=True)
    event_tag = Column(String(50), index=True)  # the active event when the check-off was received


class FieldPhoto(Model):
    """A photo taken in the field (a sweep check-off), stored like case attachments: outside the web root,
    under a generated name, re-encoded without EXIF.  Copied onto the case made from the segment."""

    __tablename__ = "fieldservice_photo"
    id = Column(BigId, primary_key=True)
    stored_name = Column(String(80), nullable=False, unique=True)
    content_type = Column(String(100), nullable=False)
    size = Column(Integer, nullable=False)
    sha256 = Column(String(64), nullable=False)
    width = Column(Integer)
    height = Column(Integer)
    has_thumbnail = Column(Boolean, nullable=False, default=False)
    uploaded_by_id = Column(Integer, ForeignKey("ab_user.id"))
    created_at = Column(DateTime, nullable=False, default=utcnow)


class WorkOrder(Model):
    """A case task given to a crew, scheduled for a day: what the field adds to a core ``Task``."""

    __tablename__ = "fieldservice_work_order"
    task_id = Column(BigId, ForeignKey("case_task.id", ondelete="CASCADE"), primary_key=True)
    task = relationship("Task", lazy="joined", backref=backref("work_order", uselist=False))
    scheduled_for = Column(Date, index=True)
    segment_id = Column(Integer, ForeignKey("fieldservice_segment.id", ondelete="SET NULL"))
    segment = relationship("StreetSegment")
    sweep_segment_id = Column(BigId, ForeignKey("fieldservice_sweep_segment.id", ondelete="SET NULL"))
    completion_notes = Column(Text, nullable=False, default="")
    created_at = Column(DateTime, nullable=False, default=utcnow)
