from __future__ import annotations

from flask_appbuilder import Model
from sqlalchemy import JSON, Boolean, Column, ForeignKey, Integer, String, Table
from sqlalchemy.orm import relationship

from core.i18n_content import localized

department_staff = Table(
    "department_staff",
    Model.metadata,
    Column("department_id", Integer, ForeignKey("department.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", Integer, ForeignKey("ab_user.id", ondelete="CASCADE"), primary_key=True, index=True),
)


class Department(Model):
    """A city department: owns services and the cases routed to it."""

    __tablename__ = "department"
    id = Column(Integer, primary_key=True)
    code = Column(String(64), unique=True, nullable=False)
    name = Column(String(200), nullable=False)
    email = Column(String(254))
    phone = Column(String(40))
    active = Column(Boolean, nullable=False, default=True)
    staff = relationship("User", secondary=department_staff, lazy="select")  # loaded when read: most department loads never need the staff
    # The name in the city's other languages: {"fr": {"name": "Travaux publics"}}.
    translations = Column(JSON, nullable=False, default=dict, server_default="{}")

    def __repr__(self) -> str:
        return self.localized_name or self.code or ""

    __str__ = __repr__

    @property
    def localized_name(self) -> str:
        """The name in the request's language (FAB's related columns, filters and selects show this)."""
        return localized(self, "name")
