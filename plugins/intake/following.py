"""Following a case: who gets its updates by e-mail, its unfollow links, and each status in plain words.

Links in e-mails carry a signed token (plugins.intake.tokens) with the case id and a keyed hash of the
address, never the address itself: a URL ends up in server logs and browser histories.
"""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from core.extensions import db
from core.models import Account, Case
from plugins.intake import tokens
from plugins.intake.models import Follower

UNFOLLOW_PURPOSE = "unfollow"
UNFOLLOW_MAX_AGE = 365 * tokens.DAY

# What each workflow status means to a resident: a headline and one sentence (the portal's case page,
# and e-mails that want the same words).
STATUS_WORDS = {
    "new": (_l("We have received your report"), _l("It is waiting to be reviewed by the city.")),
    "acknowledged": (_l("Your report has been reviewed"), _l("It has been passed to the team that will handle it.")),
    "in_progress": (_l("Work is under way"), _l("A city team is working on it.")),
    "on_hold": (_l("On hold"), _l("Work is paused for now, waiting for something outside the team's control.")),
    "reopened": (_l("Reopened"), _l("The city is looking at it again.")),
    "resolved": (_l("Resolved"), _l("The city considers the problem fixed.")),
    "closed": (_l("Closed"), _l("This case is closed.")),
    "duplicate": (_l("Already reported"), _l("The same problem was reported earlier; it is followed under the other case.")),
}


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


def status_in_plain_words(status: str) -> tuple[str, str]:
    """The resident-facing headline and sentence for a status, in the current language."""
    title, detail = STATUS_WORDS.get(status, (status, ""))
    return str(title), str(detail)


def email_key(email: str) -> str:
    """A keyed hash of an address, as tokens and survey answers carry it."""
    from plugins.intake.ratelimit import hashed

    return hashed("email:" + email.strip().lower())


def unfollow_token(case: Case, email: str) -> str:
    return tokens.sign(UNFOLLOW_PURPOSE, {"case": case.id, "who": email_key(email)})


def unfollow_url(case: Case, email: str) -> str:
    """The absolute "stop following" link each notification e-mail carries (valid one year)."""
    from plugins.intake.links import public_url

    return public_url("portal.unfollow", token=unfollow_token(case, email))


def read_unfollow_token(token: str) -> dict | None:
    """``{"case": id, "who": key}`` of a valid unfollow token, else None (forged, expired, other purpose)."""
    data = tokens.verify(UNFOLLOW_PURPOSE, token, max_age=UNFOLLOW_MAX_AGE)
    if not data or not isinstance(data.get("case"), int) or not isinstance(data.get("who"), str):
        return None
    return data


def follower_by_key(case_id: int, who: str) -> Follower | None:
    """The follower of a case whose address hashes to ``who`` (a case has a handful of followers)."""
    for follower in db.session.scalars(select(Follower).where(Follower.case_id == case_id)):
        if email_key(follower.email) == who:
            return follower
    return None


def unfollow_by_key(case_id: int, who: str) -> bool:
    follower = follower_by_key(case_id, who)
    if follower is None:
        return False
    db.session.delete(follower)
    db.session.commit()
    return True
