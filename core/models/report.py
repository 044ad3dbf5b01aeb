"""Saved reports: a subject, filters, a grouping, measures and a chart, kept as data (``spec``) so a
manager builds them in a screen without code; who else may run them; who gets them by e-mail."""
from __future__ import annotations

from flask_appbuilder import Model
from sqlalchemy import JSON, Column, DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import relationship

from core.models.base import utcnow

SCHEDULES = ("daily", "weekly")


class Report(Model):
    """A saved report.  ``spec`` holds what core.reports.spec validates: filters, grouping, measures, chart."""

    __tablename__ = "report"
    id = Column(Integer, primary_key=True)
    name = Column(String(150), nullable=False)
    description = Column(Text, nullable=False, default="")
    subject = Column(String(40), nullable=False)
    spec = Column(JSON, nullable=False, default=dict)
    owner_id = Column(Integer, ForeignKey("ab_user.id", ondelete="SET NULL"), index=True)
    owner = relationship("User")
    created_at = Column(DateTime, nullable=False, default=utcnow)
    updated_at = Column(DateTime, nullable=False, default=utcnow)
    shares = relationship("ReportShare", cascade="all, delete-orphan", back_populates="report")
    subscriptions = relationship("ReportSubscription", cascade="all, delete-orphan", back_populates="report")

    def __repr__(self) -> str:
        return self.name


class ReportShare(Model):
    """The report is shown to every holder of a role, or every member of a department (one of the two)."""

    __tablename__ = "report_share"
    id = Column(Integer, primary_key=True)
    report_id = Column(Integer, ForeignKey("report.id", ondelete="CASCADE"), nullable=False, index=True)
    report = relationship("Report", back_populates="shares")
    role_id = Column(Integer, ForeignKey("ab_role.id", ondelete="CASCADE"))
    department_id = Column(Integer, ForeignKey("department.id", ondelete="CASCADE"))

    __table_args__ = (
        Index("ix_report_share_role", "role_id"),
        Index("ix_report_share_department", "department_id"),
    )


class ReportSubscription(Model):
    """A user receives the report by e-mail, daily or weekly (run with that user's permissions)."""

    __tablename__ = "report_subscription"
    id = Column(Integer, primary_key=True)
    report_id = Column(Integer, ForeignKey("report.id", ondelete="CASCADE"), nullable=False)
    report = relationship("Report", back_populates="subscriptions")
    user_id = Column(Integer, ForeignKey("ab_user.id", ondelete="CASCADE"), nullable=False, index=True)
    user = relationship("User")
    frequency = Column(String(10), nullable=False, default="daily")  # daily | weekly
    created_at = Column(DateTime, nullable=False, default=utcnow)
    last_sent_at = Column(DateTime)

    __table_args__ = (UniqueConstraint("report_id", "user_id", name="uq_report_subscription"),)
