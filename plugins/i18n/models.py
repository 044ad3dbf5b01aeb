"""The i18n plugin's table: the language a staff member chose (residents keep theirs on their account)."""
from __future__ import annotations

from flask_appbuilder import Model
from sqlalchemy import Column, ForeignKey, Integer, String


class UserLocale(Model):
    """A signed-in user's saved language, set by the language switcher; it wins over session and browser."""

    __tablename__ = "i18n_user_locale"
    id = Column(Integer, primary_key=True)
    user_id = Column(Integer, ForeignKey("ab_user.id", ondelete="CASCADE"), nullable=False, unique=True)
    locale = Column(String(10), nullable=False)

    def __repr__(self) -> str:
        return f"{self.user_id}: {self.locale}"
