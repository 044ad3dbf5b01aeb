from __future__ import annotations

from flask_appbuilder import Model
from sqlalchemy import Boolean, Column, ForeignKey, Integer, String, Table
from sqlalchemy.orm import relationship

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
    staff = relationship("User", secondary=department_staff, lazy="selectin")

    def __repr__(self) -> str:
        return self.name
