"""The plugin's own table.  Plugin tables carry the plugin's prefix (``streetlights_``)."""
from __future__ import annotations

from flask_appbuilder import Model
from sqlalchemy import Column, Float, Index, Integer, String


class StreetlightPole(Model):
    """A pole of the city's streetlight inventory (from the utility's GIS export)."""

    __tablename__ = "streetlights_pole"
    id = Column(Integer, primary_key=True)
    pole = Column(String(40), nullable=False, unique=True)  # the number painted on the pole
    street = Column(String(200), nullable=False, default="")
    lat = Column(Float, nullable=False)
    long = Column(Float, nullable=False)
    lamp = Column(String(20), nullable=False, default="LED")

    __table_args__ = (Index("ix_streetlights_pole_position", "lat", "long"),)

    def __repr__(self) -> str:
        return self.pole
