from __future__ import annotations

import re

from flask_appbuilder import Model
from sqlalchemy import Column, ForeignKey, Integer, String, Table

from core.models.base import BigId

case_tag = Table(
    "case_tag",
    Model.metadata,
    Column("case_id", BigId, ForeignKey("case.id", ondelete="CASCADE"), primary_key=True),
    Column("tag_id", Integer, ForeignKey("tag.id", ondelete="CASCADE"), primary_key=True, index=True),
)


def normalise_tag(name: str) -> str:
    """'Hurricane Milton ' -> 'hurricane-milton'."""
    return re.sub(r"[^a-z0-9]+", "-", name.strip().lower()).strip("-")[:64]


class Tag(Model):
    """A label on cases, such as ``hurricane``."""

    __tablename__ = "tag"
    id = Column(Integer, primary_key=True)
    name = Column(String(64), unique=True, nullable=False)

    def __repr__(self) -> str:
        return self.name
