from __future__ import annotations

from flask_appbuilder import Model
from sqlalchemy import JSON, Boolean, Column, DateTime, ForeignKey, Integer, String
from sqlalchemy.orm import validates

from core.models.base import utcnow


class Account(Model):
    """A resident or a business the city talks to; optionally linked to a utility account."""

    __tablename__ = "account"
    id = Column(Integer, primary_key=True)
    name = Column(String(200), nullable=False)
    kind = Column(String(20), nullable=False, default="resident")  # resident | business
    email = Column(String(254), index=True)
    phone = Column(String(40), index=True)
    preferred_language = Column(String(10), nullable=False, default="en")
    utility_account_number = Column(String(40), unique=True)
    contact_by_email = Column(Boolean, nullable=False, default=True)
    # topics the resident subscribed to, e.g. ["storm-alerts", "debris", "water"]
    preferences = Column(JSON, nullable=False, default=dict)
    user_id = Column(Integer, ForeignKey("ab_user.id"), unique=True)
    created_at = Column(DateTime, nullable=False, default=utcnow)
    # Retention (core/privacy.py): the resident's last portal action, and when the account was anonymised.
    last_active_at = Column(DateTime, index=True)
    anonymised_at = Column(DateTime)

    def __repr__(self) -> str:
        return self.name

    @validates("utility_account_number", "email", "phone")
    def _blank_is_none(self, key, value):
        """Forms send "" for an empty field; "" would collide on the unique utility account number."""
        value = value.strip() if isinstance(value, str) else value
        return value or None
