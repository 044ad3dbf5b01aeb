"""Following a case: who gets its updates by e-mail."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from core.extensions import db
from core.models import Account, Case
from plugins.intake.models import Follower


def follow(case: Case, email: str, *, account: Account | None = None, locale: str = "en", reason: str = "follow") -> Follower:
    """Add (or return) the follower ``email`` of ``case``; idempotent, safe under concurrent clicks."""
    email = email.strip().lower()
    existing = db.session.scalar(select(Follower).where(Follower.case_id == case.id, Follower.email == email))
    if existing is not None:
        return existing
    follower = Follower(case_id=case.id, email=email, account_id=account.id if account else None, locale=locale, reason=reason)
    try:
        with db.session.begin_nested():
            db.session.add(follower)
    except IntegrityError:
        return db.session.scalar(select(Follower).where(Follower.case_id == case.id, Follower.email == email))
    db.session.commit()
    return follower


def unfollow(case_id: int, email: str) -> bool:
    follower = db.session.scalar(select(Follower).where(Follower.case_id == case_id, Follower.email == email.strip().lower()))
    if follower is None:
        return False
    db.session.delete(follower)
    db.session.commit()
    return True


def followers(case: Case) -> list[Follower]:
    return list(db.session.scalars(select(Follower).where(Follower.case_id == case.id).order_by(Follower.id)))
