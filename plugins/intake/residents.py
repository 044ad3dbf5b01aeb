"""Who the signed-in resident is (portal pages and the "My city" page use this)."""
from __future__ import annotations

from flask_login import current_user
from sqlalchemy import select

from core.extensions import db
from core.models import Account


def current_account() -> Account | None:
    """The signed-in user's resident account, or None for guests (and for staff without one)."""
    if not getattr(current_user, "is_authenticated", False):
        return None
    return db.session.scalar(select(Account).where(Account.user_id == current_user.id))
