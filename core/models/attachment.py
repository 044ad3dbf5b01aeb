from __future__ import annotations

from flask_appbuilder import Model
from sqlalchemy import Boolean, Column, DateTime, ForeignKey, Integer, String
from sqlalchemy.orm import relationship

from core.models.base import BigId, utcnow


class Attachment(Model):
    """A photo or document on a case, stored outside the web root under a generated name."""

    __tablename__ = "attachment"
    id = Column(BigId, primary_key=True)
    case_id = Column(BigId, ForeignKey("case.id", ondelete="CASCADE"), nullable=False, index=True)
    case = relationship("Case", backref="attachments")
    original_name = Column(String(255), nullable=False)
    stored_name = Column(String(80), unique=True, nullable=False)
    content_type = Column(String(100), nullable=False)
    size = Column(Integer, nullable=False)
    sha256 = Column(String(64), nullable=False)
    width = Column(Integer)
    height = Column(Integer)
    has_thumbnail = Column(Boolean, nullable=False, default=False)
    public = Column(Boolean, nullable=False, default=False)
    task_id = Column(BigId, ForeignKey("case_task.id", ondelete="SET NULL"), index=True)  # a photo of one task's work
    uploaded_by_id = Column(Integer, ForeignKey("ab_user.id"))
    created_at = Column(DateTime, nullable=False, default=utcnow)

    def __repr__(self) -> str:
        return self.original_name
