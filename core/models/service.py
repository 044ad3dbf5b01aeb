from __future__ import annotations

from flask_appbuilder import Model
from sqlalchemy import JSON, Boolean, Column, ForeignKey, Integer, String, Text
from sqlalchemy.orm import relationship

from core.i18n_content import localized


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
    # Open311 attribute definitions: [{code, description, datatype, required, values: [{key, name}], ...}],
    # other languages inline: description_i18n / datatype_description_i18n = {"fr": ...}, per value name_i18n.
    attributes = Column(JSON, nullable=False, default=list)
    # The texts above in the city's other languages: {"fr": {"name", "description", "group", "keywords"}}.
    translations = Column(JSON, nullable=False, default=dict, server_default="{}")

    def __repr__(self) -> str:
        return self.localized_name or self.code or ""

    __str__ = __repr__

    @property
    def localized_name(self) -> str:
        """The name in the request's language (FAB's related columns, filters and selects show this)."""
        return localized(self, "name")

    @property
    def localized_group(self) -> str:
        return localized(self, "group")

    @property
    def keyword_list(self) -> list[str]:
        return [k.strip() for k in self.keywords.split(",") if k.strip()]
