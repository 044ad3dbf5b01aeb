"""Coordination across departments: tasks on a case, crews, incidents that link related cases,
mentions in internal comments, and the time a case spends with each department."""
from __future__ import annotations

from flask_appbuilder import Model
from flask_babel import lazy_gettext as _l
from sqlalchemy import Boolean, Column, DateTime, ForeignKey, Index, Integer, String, Table, Text
from sqlalchemy.orm import relationship

from core.models.base import BigId, utcnow

TASK_STATUSES = {
    "open": _l("Open"),
    "in_progress": _l("In progress"),
    "blocked": _l("Blocked"),
    "done": _l("Done"),
    "cancelled": _l("Cancelled"),
}
OPEN_TASK_STATUSES = frozenset({"open", "in_progress", "blocked"})
INCIDENT_STATUSES = {"open": _l("Open"), "closed": _l("Closed")}

crew_member = Table(
    "crew_member",
    Model.metadata,
    Column("crew_id", Integer, ForeignKey("crew.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", Integer, ForeignKey("ab_user.id", ondelete="CASCADE"), primary_key=True, index=True),
)


class Crew(Model):
    """A field crew of a department ("PW Tree crew 2"): tasks and work orders can be given to it."""

    __tablename__ = "crew"
    id = Column(Integer, primary_key=True)
    name = Column(String(100), nullable=False, unique=True)
    department_id = Column(Integer, ForeignKey("department.id"), nullable=False, index=True)
    department = relationship("Department")
    members = relationship("User", secondary=crew_member, lazy="selectin")
    active = Column(Boolean, nullable=False, default=True)

    def __repr__(self) -> str:
        return self.name or ""


class Task(Model):
    """A piece of work on a case for one department (and optionally a person or a crew)."""

    __tablename__ = "case_task"
    id = Column(BigId, primary_key=True)
    case_id = Column(BigId, ForeignKey("case.id", ondelete="CASCADE"), nullable=False, index=True)
    case = relationship("Case", backref="tasks")
    department_id = Column(Integer, ForeignKey("department.id"), nullable=False)
    department = relationship("Department", lazy="joined")
    assignee_id = Column(Integer, ForeignKey("ab_user.id"))
    assignee = relationship("User", foreign_keys=[assignee_id])
    crew_id = Column(Integer, ForeignKey("crew.id"))
    crew = relationship("Crew")
    title = Column(String(200), nullable=False)
    instructions = Column(Text, nullable=False, default="")
    status = Column(String(20), nullable=False, default="open")
    due_at = Column(DateTime)
    template = Column(String(64))  # the config template that created it, if any
    created_by_id = Column(Integer, ForeignKey("ab_user.id"))
    created_at = Column(DateTime, nullable=False, default=utcnow)
    updated_at = Column(DateTime, nullable=False, default=utcnow)
    started_at = Column(DateTime)
    completed_at = Column(DateTime)  # done or cancelled
    version = Column(Integer, nullable=False, default=1)

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        Index("ix_case_task_department_status_due", "department_id", "status", "due_at"),
        Index("ix_case_task_assignee_status", "assignee_id", "status"),
        Index("ix_case_task_crew_status", "crew_id", "status"),
    )

    def __repr__(self) -> str:
        return self.title or ""

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_TASK_STATUSES

    @property
    def status_label(self):
        return TASK_STATUSES.get(self.status, self.status)


class Incident(Model):
    """One event behind many related reports (a water main break reported forty times): cases link to it."""

    __tablename__ = "incident"
    id = Column(Integer, primary_key=True)
    title = Column(String(200), nullable=False)
    description = Column(Text, nullable=False, default="")
    status = Column(String(20), nullable=False, default="open")
    created_by_id = Column(Integer, ForeignKey("ab_user.id"))
    created_at = Column(DateTime, nullable=False, default=utcnow)
    closed_at = Column(DateTime)

    __table_args__ = (Index("ix_incident_status_created", "status", "created_at"),)

    def __repr__(self) -> str:
        return self.title or ""


class Mention(Model):
    """A person or a department named in an internal comment ("@UTIL", "@jdoe"): their "for me" list."""

    __tablename__ = "mention"
    id = Column(BigId, primary_key=True)
    case_id = Column(BigId, ForeignKey("case.id", ondelete="CASCADE"), nullable=False, index=True)
    case = relationship("Case")
    event_id = Column(BigId, ForeignKey("case_event.id", ondelete="CASCADE"), nullable=False, index=True)
    event = relationship("CaseEvent")
    user_id = Column(Integer, ForeignKey("ab_user.id", ondelete="CASCADE"))
    department_id = Column(Integer, ForeignKey("department.id", ondelete="CASCADE"))
    created_at = Column(DateTime, nullable=False, default=utcnow)
    read_at = Column(DateTime)

    __table_args__ = (
        Index("ix_mention_user_read", "user_id", "read_at"),
        Index("ix_mention_department_read", "department_id", "read_at"),
    )


class DepartmentStint(Model):
    """A stretch of time a case spent with one department (routing opens one, a re-route closes it)."""

    __tablename__ = "case_department_stint"
    id = Column(BigId, primary_key=True)
    case_id = Column(BigId, ForeignKey("case.id", ondelete="CASCADE"), nullable=False, index=True)
    department_id = Column(Integer, ForeignKey("department.id"), nullable=False)
    department = relationship("Department")
    started_at = Column(DateTime, nullable=False, default=utcnow)
    ended_at = Column(DateTime)
    reason = Column(Text, nullable=False, default="")

    __table_args__ = (Index("ix_case_department_stint_department", "department_id", "ended_at"),)
