from __future__ import annotations

from flask_appbuilder import Model
from flask_babel import lazy_gettext as _l
from sqlalchemy import JSON, Boolean, Column, DateTime, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import relationship

from core.models.base import BigId, utcnow
from core.models.tag import case_tag

# The case workflow.  Each status maps to Open311's open/closed.
STATUSES = {
    "new": (_l("New"), "open"),
    "acknowledged": (_l("Acknowledged"), "open"),
    "in_progress": (_l("In progress"), "open"),
    "on_hold": (_l("On hold"), "open"),
    "reopened": (_l("Reopened"), "open"),
    "resolved": (_l("Resolved"), "closed"),
    "closed": (_l("Closed"), "closed"),
    "duplicate": (_l("Duplicate"), "closed"),
}
_WORKING = ("acknowledged", "in_progress", "on_hold", "resolved", "closed", "duplicate")
TRANSITIONS = {
    "new": _WORKING,
    "acknowledged": ("in_progress", "on_hold", "resolved", "closed", "duplicate"),
    "in_progress": ("on_hold", "resolved", "closed", "duplicate"),
    "on_hold": ("in_progress", "resolved", "closed", "duplicate"),
    "reopened": _WORKING,
    "resolved": ("closed", "reopened"),
    "closed": ("reopened",),
    "duplicate": ("reopened",),
}
CLOSED_STATUSES = frozenset(s for s, (_, o) in STATUSES.items() if o == "closed")
OPEN_STATUSES = frozenset(STATUSES) - CLOSED_STATUSES
PRIORITIES = {"low": _l("Low"), "normal": _l("Normal"), "high": _l("High"), "urgent": _l("Urgent")}
CHANNELS = {
    "web": _l("Web"),
    "phone": _l("Phone"),
    "email": _l("E-mail"),
    "open311": _l("Open311"),
    "walk_in": _l("Walk-in"),
    "field": _l("Field"),
}


def open311_status(status: str) -> str:
    return STATUSES[status][1]


class Case(Model):
    """A resident's request or a staff-raised issue, tracked from intake to closure."""

    __tablename__ = "case"
    id = Column(BigId, primary_key=True)
    reference = Column(String(32), unique=True, nullable=False)
    service_type_id = Column(Integer, ForeignKey("service_type.id"), nullable=False)
    service_type = relationship("ServiceType", lazy="joined")
    description = Column(Text, nullable=False, default="")
    status = Column(String(20), nullable=False, default="new")
    priority = Column(String(10), nullable=False, default="normal")
    channel = Column(String(10), nullable=False, default="web")
    address = Column(String(300))
    address_id = Column(String(64))
    zipcode = Column(String(10))
    lat = Column(Float)
    long = Column(Float)
    zone = Column(String(50))
    department_id = Column(Integer, ForeignKey("department.id"), nullable=False)
    department = relationship("Department", lazy="joined")
    assignee_id = Column(Integer, ForeignKey("ab_user.id"))
    assignee = relationship("User", foreign_keys=[assignee_id])
    account_id = Column(Integer, ForeignKey("account.id"), index=True)
    account = relationship("Account")
    contact_name = Column(String(200))
    contact_email = Column(String(254))
    contact_phone = Column(String(40))
    attributes = Column(JSON, nullable=False, default=dict)
    tags = relationship("Tag", secondary=case_tag, lazy="selectin", order_by="Tag.name")
    expected_at = Column(DateTime)
    created_at = Column(DateTime, nullable=False, default=utcnow)
    updated_at = Column(DateTime, nullable=False, default=utcnow)
    closed_at = Column(DateTime)
    acknowledged_at = Column(DateTime)  # when staff first moved it on from "new" (time to acknowledge)
    reopen_count = Column(Integer, nullable=False, default=0, server_default="0")  # times it went back to "reopened"
    duplicate_of_id = Column(BigId, ForeignKey("case.id"), index=True)
    duplicate_of = relationship("Case", remote_side=[id], foreign_keys=[duplicate_of_id])
    parent_id = Column(BigId, ForeignKey("case.id"), index=True)
    parent = relationship("Case", remote_side=[id], foreign_keys=[parent_id])
    incident_id = Column(Integer, ForeignKey("incident.id", ondelete="SET NULL"), index=True)
    incident = relationship("Incident", backref="cases")
    version = Column(Integer, nullable=False, default=1)

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        # Lists are scoped by department and ordered by recency; dashboards group by status.
        Index("ix_case_department_status_created", "department_id", "status", "created_at"),
        Index("ix_case_status_created", "status", "created_at", "id"),
        Index("ix_case_service_created", "service_type_id", "created_at"),
        # The list pages newest first by (created_at, id): the page's ids come from the index alone (0007).
        Index("ix_case_created", "created_at", "id"),
        Index("ix_case_closed", "closed_at"),
        Index("ix_case_updated", "updated_at"),
        Index("ix_case_expected_open", "expected_at"),
        Index("ix_case_assignee", "assignee_id"),
        # The phone desk finds a caller's earlier cases by the phone or e-mail they left.
        Index("ix_case_contact_phone", "contact_phone"),
        Index("ix_case_contact_email", "contact_email"),
        # The EOC hot-spot map: open cases since a moment, counted per cell from the index alone (0008).
        Index("ix_case_open_map", "status", "created_at", "lat", "long", "priority"),
        # A new report's likely duplicate: the same service in a thin band of latitude around it (0011).
        Index("ix_case_duplicate_spot", "service_type_id", "lat", "long", "created_at"),
    )

    def __repr__(self) -> str:
        return self.reference or "(new case)"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def status_label(self):
        return STATUSES[self.status][0]


# Kinds of timeline entries.
EVENT_KINDS = {
    "created": _l("Created"),
    "routed": _l("Routed"),
    "status_changed": _l("Status changed"),
    "assigned": _l("Assigned"),
    "department_changed": _l("Department changed"),
    "updated": _l("Updated"),
    "tagged": _l("Tags changed"),
    "internal_note": _l("Internal note"),
    "public_note": _l("Public note"),
    "resident_note": _l("Update from the resident"),
    "attachment_added": _l("Attachment added"),
    "duplicate_suggested": _l("Possible duplicate"),
    "merged": _l("Duplicate merged"),
    "incident_linked": _l("Linked to incident"),
    "incident_unlinked": _l("Unlinked from incident"),
    "task_added": _l("Task added"),
    "task_changed": _l("Task changed"),
    "task_status_changed": _l("Task status changed"),
    "task_note": _l("Task note"),
    "open_tasks_confirmed": _l("Resolved with open tasks"),
}


class CaseEvent(Model):
    """One entry of a case's append-only timeline.  Never updated, never deleted."""

    __tablename__ = "case_event"
    id = Column(BigId, primary_key=True)
    case_id = Column(BigId, ForeignKey("case.id", ondelete="CASCADE"), nullable=False)
    case = relationship("Case", backref="events")
    kind = Column(String(32), nullable=False)
    created_at = Column(DateTime, nullable=False, default=utcnow)
    actor_id = Column(Integer, ForeignKey("ab_user.id"))
    actor = relationship("User")
    actor_label = Column(String(120), nullable=False, default="system")
    public = Column(Boolean, nullable=False, default=False)
    body = Column(Text, nullable=False, default="")
    data = Column(JSON, nullable=False, default=dict)
    task_id = Column(BigId, ForeignKey("case_task.id", ondelete="SET NULL"), index=True)  # an entry about one task

    __table_args__ = (
        Index("ix_case_event_case_created", "case_id", "created_at"),
        Index("ix_case_event_created", "created_at"),  # feeds across all cases (Open311 servicerequestupdates)
    )

    @property
    def kind_label(self):
        return EVENT_KINDS.get(self.kind, self.kind)


class CaseSequence(Model):
    """The last number handed out per reference prefix and year (one row locked per new case)."""

    __tablename__ = "case_sequence"
    prefix = Column(String(16), primary_key=True)
    year = Column(Integer, primary_key=True, autoincrement=False)
    last = Column(BigId, nullable=False, default=0)


def _refuse_change(mapper, connection, target):
    raise PermissionError("case events are append-only: they are never updated or deleted")


from sqlalchemy import event as _sa_event  # noqa: E402


def _refuse_case_delete(mapper, connection, target):
    raise PermissionError("cases are evidence: close a case (or mark it a duplicate), never delete it")


_sa_event.listen(CaseEvent, "before_update", _refuse_change)
_sa_event.listen(CaseEvent, "before_delete", _refuse_change)
_sa_event.listen(Case, "before_delete", _refuse_case_delete)
