from __future__ import annotations

from flask_appbuilder import Model
from sqlalchemy import JSON, Boolean, Column, ForeignKey, Integer, String, Text
from sqlalchemy.orm import relationship


class ServiceType(Model):
    """A catalog entry: what a resident can report, who handles it, how fast."""

    __tablename__ = "service_type"
    id = Column(Integer, primary_key=True)
    code = Column(String(64), unique=True, nullable=False)
    name = Column(String(200), nullable=False)
    description = Column(Text, nullable=False, default="")
    group = Column(String(100), nullable=False, default="")
    keywords = Column(String(500), nullable=False, default="")
    department_id = Column(Integer, ForeignKey("department.id"), nullable=False, index=True)
    department = relationship("Department", lazy="joined")
    sla_hours = Column(Integer)
    public = Column(Boolean, nullable=False, default=True)
    type = Column(String(20), nullable=False, default="realtime")
    active = Column(Boolean, nullable=False, default=True)
    # Open311 attribute definitions: [{code, description, datatype, required, values: [{key, name}], ...}]
    attributes = Column(JSON, nullable=False, default=list)

    def __repr__(self) -> str:
        return self.name

    @property
    def keyword_list(self) -> list[str]:
        return [k.strip() for k in self.keywords.split(",") if k.strip()]
