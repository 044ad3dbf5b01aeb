"""Resident accounts: sign up and confirm, sign in, reset a password, link a utility account,
download my data and close my account.

A resident is a Flask-AppBuilder user with the role "Resident" (username = e-mail, lower-cased)
plus a core ``Account`` (``Account.user_id``) that holds everything else: name, language,
utility account number, communication preferences.  The portal routes
(``plugins/intake/portal/accounts.py``) are thin: the rules live here.

Privacy rules kept by every function:
- no answer says whether an e-mail is registered or a utility account number exists;
- wrong guesses (sign-in, linking) are counted per client and per target and refused past a limit;
- tokens sent by e-mail are signed, expire and are usable once.
"""
from __future__ import annotations

import math
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, false, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from werkzeug.security import check_password_hash

from core import privacy
from core.extensions import db
from core.i18n_content import localized
from core.models import OPEN_STATUSES, Account, Case, CaseEvent, OutboxMessage, User
from core.models.base import utcnow
from core.notify import enqueue
from plugins.intake import ratelimit, tokens
from plugins.intake.following import email_key
from plugins.intake.links import public_url
from plugins.intake.mail import render_mail
from plugins.intake.models import Call, Follower, Notice, RateEvent, Satisfaction, UtilityAccount

RESIDENT_ROLE = "Resident"
PASSWORD_MIN = 12  # as core.security.PASSWORD_MIN: every password of the site
PASSWORD_MAX = 200
EMAIL_MAX = 128  # ab_user.username holds the e-mail

CONFIRM_MAX_AGE = 3 * tokens.DAY
RESET_MAX_AGE = 2 * 3600

# Communication topics a resident can subscribe to (Account.preferences["topics"]); notices are sent by topic.
TOPICS = {
    "storm-alerts": _l("Storm alerts"),
    "debris": _l("Debris pick-up"),
    "water": _l("Water service"),
    "newsletter": _l("Newsletter"),
    "general": _l("General city announcements"),
}


@dataclass(frozen=True)
class Limit:
    """At most ``count`` events per ``window`` seconds in a rate-limit bucket."""

    bucket: str
    count: int
    window: int


SIGNUP_PER_CLIENT = Limit("signup", 10, 3600)
REMINDERS_PER_EMAIL = Limit("signup", 3, 3600)  # "you already have an account" e-mails to one address
SIGNIN_FAILURES_PER_CLIENT = Limit("signin", 30, 900)
SIGNIN_FAILURES_PER_EMAIL = Limit("signin", 5, 900)
RESET_PER_CLIENT = Limit("reset", 10, 3600)
RESET_PER_EMAIL = Limit("reset", 3, 3600)
LINK_FAILURES_PER_ACCOUNT = Limit("link", 5, 3600)
LINK_FAILURES_PER_CLIENT = Limit("link", 10, 3600)
CLOSE_FAILURES_PER_ACCOUNT = Limit("close", 5, 3600)


# ---------------------------------------------------------------- small rules

def normalise_email(email: str | None) -> str:
    return (email or "").strip().lower()


def password_problem(password: str) -> str | None:
    """Why a new password is refused (a sentence for the form), or None when it is fine: the site's one rule
    (``core.security.password_problem``), as for staff."""
    from core.security import password_problem as site_rule

    return site_rule(password)


def normalise_name(text: str | None) -> str:
    """A last name for matching: upper case, no accents, punctuation and runs of spaces as one space."""
    decomposed = unicodedata.normalize("NFKD", text or "")
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    words = "".join(ch if ch.isalnum() else " " for ch in plain.upper())
    return " ".join(words.split())


def normalise_zip(text: str | None) -> str:
    """A ZIP code for matching: ``32137-1234`` and ``32137`` match, spaces and case ignored."""
    return "".join((text or "").upper().split()).split("-")[0]


def normalise_account_number(text: str | None) -> str:
    return "".join((text or "").split()).upper()


def _key(kind: str, value: Any) -> str:
    return ratelimit.hashed(f"{kind}:{value}")


def spent(limit: Limit, key: str) -> bool:
    """True when ``key`` already used up ``limit`` (reads only: failures are recorded with ``record``)."""
    since = utcnow() - timedelta(seconds=limit.window)
    count = db.session.scalar(
        select(func.count()).select_from(RateEvent).where(RateEvent.bucket == limit.bucket, RateEvent.key == key, RateEvent.created_at >= since)
    )
    return count >= limit.count


def record(limit: Limit, key: str) -> None:
    """Count one event (a failure) for ``key``."""
    ratelimit.allow(limit.bucket, key, limit.count + 1, limit.window)


# ---------------------------------------------------------------- users

def sm():
    return current_app.appbuilder.sm


def is_resident(user) -> bool:
    return user is not None and any(role.name == RESIDENT_ROLE for role in user.roles)


def find_user(email: str):
    """The FAB user whose username or e-mail is ``email`` (case-insensitive), or None."""
    email = normalise_email(email)
    if not email:
        return None
    return db.session.scalar(select(User).where(or_(func.lower(User.username) == email, func.lower(User.email) == email)))


def account_of(user) -> Account | None:
    if user is None:
        return None
    return db.session.scalar(select(Account).where(Account.user_id == user.id))


def offered_locale(locale: str | None) -> str:
    city = current_app.extensions["civic"].config.city
    return locale if locale in city["locales"] else city["default_locale"]


def _queue_mail(template: str, recipient: str, locale: str, kind: str, related: str | None, **context) -> OutboxMessage:
    locale = offered_locale(locale)
    mail = render_mail(template, locale, **context)
    return enqueue(
        db.session, recipient=recipient, subject=mail.subject, body_text=mail.text, body_html=mail.html,
        locale=locale, kind=kind, related=related,
    )


def _password_mark(user) -> str:
    """A short keyed digest of the user's current password hash: it changes with the password, and a
    link (signed, not encrypted) shows nothing of the hash itself."""
    return ratelimit.hashed(f"password:{user.password or ''}")[-16:]


def reset_token(user) -> str:
    """A password-reset token; it dies when the password changes, so it works once."""
    return tokens.sign("reset", {"u": user.id, "p": _password_mark(user)})


def confirm_token(user) -> str:
    return tokens.sign("confirm", {"u": user.id, "e": _email_mark(user.email)})


def _email_mark(email: str | None) -> str:
    """A short keyed digest of the e-mail: a token is signed, not encrypted, and its link lands in access logs."""
    return ratelimit.hashed(f"email:{normalise_email(email)}")[-16:]


# ---------------------------------------------------------------- sign up, confirm

def sign_up(name: str, email: str, password: str, language: str) -> None:
    """Create an inactive resident and send the confirmation e-mail; for a known e-mail, send a
    "you already have an account" e-mail instead.  The caller says the same thing either way."""
    email = normalise_email(email)
    language = offered_locale(language)
    existing = find_user(email)
    if existing is not None:
        _send_already_registered(existing, email, language)
        db.session.commit()
        return
    role = sm().find_role(RESIDENT_ROLE)
    if role is None:
        raise RuntimeError("the Resident role does not exist: run `civic init`")
    name = " ".join(name.split())
    user = sm().add_user(username=email, first_name=name[:64], last_name="-", email=email, role=role, password=password, commit=False)
    if not user:  # FAB rolled back: the same e-mail signed up a moment ago
        _answer_known(email, language)
        return
    try:
        user.active = False
        account = Account(name=name, kind="resident", email=email, preferred_language=language, user_id=user.id,
                          contact_by_email=True, preferences={"topics": []})
        db.session.add(account)
        db.session.flush()
        _queue_mail(
            "account_confirm", email, language, "account_confirm", f"account:{account.id}",
            resident_name=name, link=public_url("portal.confirm", token=confirm_token(user)), days=CONFIRM_MAX_AGE // tokens.DAY,
        )
        db.session.commit()
    except IntegrityError:  # a concurrent sign-up with the same e-mail won: answer as for a known e-mail
        db.session.rollback()
        _answer_known(email, language)


def _answer_known(email: str, language: str) -> None:
    existing = find_user(email)
    if existing is not None:
        _send_already_registered(existing, email, language)
        db.session.commit()


def _send_already_registered(user, email: str, language: str) -> None:
    if not ratelimit.allow(REMINDERS_PER_EMAIL.bucket, _key("email", email), REMINDERS_PER_EMAIL.count, REMINDERS_PER_EMAIL.window):
        return  # sign-ups keep naming this address: do not fill its mailbox
    account = account_of(user)
    locale = account.preferred_language if account is not None else language
    context = {"sign_in": public_url("portal.sign_in"), "reset": None}
    if is_resident(user):  # staff reset their password on the staff screens
        context["reset"] = public_url("portal.reset", token=reset_token(user))
    _queue_mail("account_exists", email, locale, "account_exists", f"account:{account.id}" if account else None, **context)


def confirm(token: str):
    """Activate the resident of a confirmation token; returns (user, newly_confirmed) or (None, False)."""
    data = tokens.verify("confirm", token, max_age=CONFIRM_MAX_AGE)
    if not data:
        return None, False
    user = db.session.get(User, data.get("u"))
    if user is None or not is_resident(user) or not secrets.compare_digest(_email_mark(user.email), str(data.get("e", ""))):
        return None, False
    if user.active:
        return user, False
    user.active = True
    db.session.commit()
    return user, True


# ---------------------------------------------------------------- sign in

class TooManyAttempts(Exception):
    """The client or the target of an action used up its allowance of failures."""


def authenticate(email: str, password: str, client: str):
    """The active resident with this e-mail and password, or None.  Raises TooManyAttempts when the
    client or the e-mail had too many failures lately (the password is then not even checked)."""
    email = normalise_email(email)
    by_client, by_email = _key("client", client), _key("email", email)
    if spent(SIGNIN_FAILURES_PER_CLIENT, by_client) or spent(SIGNIN_FAILURES_PER_EMAIL, by_email):
        raise TooManyAttempts()
    user = sm().auth_user_db(email, password) if email and password else None
    if user is not None and user.active and is_resident(user):
        return user
    record(SIGNIN_FAILURES_PER_CLIENT, by_client)
    record(SIGNIN_FAILURES_PER_EMAIL, by_email)
    return None


# ---------------------------------------------------------------- reset password

def request_reset(email: str, client: str, locale: str) -> None:
    """Send a reset link to a resident with this e-mail; nothing for anyone else (same answer).
    Raises TooManyAttempts when the client asked too often."""
    client_key = _key("client", client)
    if not ratelimit.allow(RESET_PER_CLIENT.bucket, client_key, RESET_PER_CLIENT.count, RESET_PER_CLIENT.window):
        raise TooManyAttempts()
    email = normalise_email(email)
    user = find_user(email)
    if user is None or not is_resident(user):
        return
    if not ratelimit.allow(RESET_PER_EMAIL.bucket, _key("email", email), RESET_PER_EMAIL.count, RESET_PER_EMAIL.window):
        return  # someone keeps asking for this address: stop filling its mailbox, say nothing
    account = account_of(user)
    _queue_mail(
        "account_reset", user.email, account.preferred_language if account else locale, "account_reset",
        f"account:{account.id}" if account else None,
        link=public_url("portal.reset", token=reset_token(user)), hours=RESET_MAX_AGE // 3600,
    )
    db.session.commit()


def user_for_reset(token: str):
    """The resident a reset token is for, while it is valid and unused; else None."""
    data = tokens.verify("reset", token, max_age=RESET_MAX_AGE)
    if not data:
        return None
    user = db.session.get(User, data.get("u"))
    if user is None or not is_resident(user) or not secrets.compare_digest(_password_mark(user), str(data.get("p", ""))):
        return None
    return user


def set_password(user, password: str) -> None:
    """A new password (from a reset link, which also proves the e-mail: the account becomes active)."""
    sm().reset_password(user.id, password)
    if not user.active:
        user.active = True
    db.session.commit()


def password_matches(user, password: str) -> bool:
    return bool(user is not None and user.password and password and check_password_hash(user.password, password))


# ---------------------------------------------------------------- utility account

def link_utility_account(account: Account, number: str, last_name: str, zipcode: str, client: str) -> bool:
    """Link ``account`` to the utility account when number, holder last name and ZIP all match and no
    other resident holds it.  Every failure looks the same and counts against the account and the client;
    raises TooManyAttempts when either used up its allowance."""
    account_key, client_key = _key("account", account.id), _key("client", client)
    if spent(LINK_FAILURES_PER_ACCOUNT, account_key) or spent(LINK_FAILURES_PER_CLIENT, client_key):
        raise TooManyAttempts()
    number = normalise_account_number(number)
    utility = db.session.scalar(select(UtilityAccount).where(UtilityAccount.account_number == number)) if number else None
    ok = (
        utility is not None
        and secrets.compare_digest(normalise_name(last_name).encode(), utility.holder_last_name.encode())
        and bool(normalise_zip(zipcode))
        and normalise_zip(zipcode) == normalise_zip(utility.zipcode)
    )
    if ok:
        holder = db.session.scalar(select(Account.id).where(Account.utility_account_number == utility.account_number))
        ok = holder is None or holder == account.id
    if ok:
        account.utility_account_number = utility.account_number
        try:
            db.session.commit()
            return True
        except IntegrityError:  # another resident linked it a moment ago
            db.session.rollback()
    record(LINK_FAILURES_PER_ACCOUNT, account_key)
    record(LINK_FAILURES_PER_CLIENT, client_key)
    return False


def linked_utility_account(account: Account) -> UtilityAccount | None:
    if not account.utility_account_number:
        return None
    return db.session.scalar(select(UtilityAccount).where(UtilityAccount.account_number == account.utility_account_number))


# ---------------------------------------------------------------- "My city"

NEARBY_METERS = 500
METERS_PER_DEGREE = 111_320


def _listed():
    """Loader options for the cases "My city" lists: one statement each (a case's tags and its departments'
    staff, eager by default, are not shown)."""
    from sqlalchemy.orm import defaultload, lazyload

    from core.models import Department, ServiceType

    return (lazyload(Case.tags), defaultload(Case.department).lazyload(Department.staff),
            defaultload(Case.service_type).defaultload(ServiceType.department).lazyload(Department.staff))


def my_cases(account: Account, limit: int = 50) -> list[Case]:
    stmt = select(Case).where(Case.account_id == account.id).order_by(Case.created_at.desc()).limit(limit).options(*_listed())
    return list(db.session.scalars(stmt))


def followed_cases(account: Account, limit: int = 50) -> list[Case]:
    """Cases the resident follows by e-mail, other than their own."""
    if not account.email:
        return []
    stmt = (
        select(Case).join(Follower, Follower.case_id == Case.id)
        .where(Follower.email == normalise_email(account.email), or_(Case.account_id.is_(None), Case.account_id != account.id))
        .order_by(Case.updated_at.desc()).limit(limit).options(*_listed())
    )
    return list(db.session.scalars(stmt))


@dataclass(frozen=True)
class NearbyCase:
    """An open case near the resident's service address: only what anyone may see."""

    reference: str
    service: Any
    status_label: Any
    created_at: Any
    meters: int


def distance_m(lat1: float, long1: float, lat2: float, long2: float) -> float:
    """Great-circle distance in metres (haversine)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(long2 - long1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6_371_000 * math.asin(math.sqrt(a))


def nearby_open_cases(utility: UtilityAccount | None, meters: int = NEARBY_METERS, limit: int = 20) -> list[NearbyCase]:
    """Open cases within ``meters`` of the service address (a bounding box, then the true distance)."""
    if utility is None or utility.lat is None or utility.long is None:
        return []
    dlat = meters / METERS_PER_DEGREE
    dlong = meters / (METERS_PER_DEGREE * max(math.cos(math.radians(utility.lat)), 0.01))
    stmt = (
        select(Case)
        .where(Case.status.in_(sorted(OPEN_STATUSES)), Case.lat.between(utility.lat - dlat, utility.lat + dlat),
               Case.long.between(utility.long - dlong, utility.long + dlong))
        .order_by(Case.created_at.desc()).limit(limit * 3).options(*_listed())
    )
    found = []
    for case in db.session.scalars(stmt):
        d = distance_m(utility.lat, utility.long, case.lat, case.long)
        if d <= meters:
            found.append(NearbyCase(case.reference, localized(case.service_type, "name"), case.status_label, case.created_at, int(round(d))))
    return sorted(found, key=lambda c: c.meters)[:limit]


def notices_for(utility: UtilityAccount | None, limit: int = 10) -> list[Notice]:
    """Current notices for the whole city and for the resident's zone or ZIP code."""
    now = utcnow()
    zones = [z for z in ((utility.zone, utility.zipcode) if utility is not None else ()) if z]
    where_zone = or_(Notice.zone.is_(None), Notice.zone.in_(zones)) if zones else Notice.zone.is_(None)
    stmt = (
        select(Notice)
        .where(Notice.published_at <= now, or_(Notice.expires_at.is_(None), Notice.expires_at > now), where_zone)
        .order_by(Notice.published_at.desc()).limit(limit)
    )
    return list(db.session.scalars(stmt))


# ---------------------------------------------------------------- preferences

def save_preferences(account: Account, topics: list[str], contact_by_email: bool, language: str) -> None:
    account.preferences = {**(account.preferences or {}), "topics": [t for t in TOPICS if t in set(topics)]}
    account.contact_by_email = bool(contact_by_email)
    account.preferred_language = offered_locale(language)
    db.session.commit()


# ---------------------------------------------------------------- my data

def _iso(value) -> str | None:
    return value.isoformat() if value is not None else None


def export_data(account: Account, user=None) -> dict[str, Any]:
    """Everything the city keeps about the resident: the account, their cases (public fields and what
    they wrote, with the public timeline), the cases they follow, their satisfaction answers and the
    notices and other e-mails sent to them."""
    cases = list(db.session.scalars(select(Case).where(Case.account_id == account.id).order_by(Case.created_at)))
    case_ids = [c.id for c in cases]
    public_events: dict[int, list[dict[str, Any]]] = {}
    if case_ids:
        for ev in db.session.scalars(select(CaseEvent).where(CaseEvent.case_id.in_(case_ids), CaseEvent.public.is_(True)).order_by(CaseEvent.created_at, CaseEvent.id)):
            public_events.setdefault(ev.case_id, []).append(
                {"at": _iso(ev.created_at), "kind": ev.kind, "text": ev.body if ev.kind in ("public_note", "resident_note") else ""}
            )
    follows = db.session.execute(
        select(Follower, Case.reference).join(Case, Case.id == Follower.case_id)
        .where(or_(Follower.account_id == account.id, Follower.email == normalise_email(account.email)) if account.email else Follower.account_id == account.id)
        .order_by(Follower.created_at)
    ).all()
    mine = [Satisfaction.case_id.in_(case_ids)] if case_ids else []
    if account.email:
        mine.append(Satisfaction.respondent == email_key(account.email))
    answers = db.session.execute(
        select(Satisfaction, Case.reference).join(Case, Case.id == Satisfaction.case_id)
        .where(or_(*mine) if mine else false())
        .order_by(Satisfaction.created_at)
    ).all()
    sent_to_them = list(db.session.scalars(
        select(OutboxMessage).where(OutboxMessage.recipient == normalise_email(account.email)).order_by(OutboxMessage.created_at, OutboxMessage.id)
    )) if account.email else []

    def mail(m: OutboxMessage) -> dict[str, Any]:
        return {"kind": m.kind, "subject": m.subject, "status": m.status, "queued_at": _iso(m.created_at), "sent_at": _iso(m.sent_at)}

    return {
        "exported_at": _iso(utcnow()),
        "account": {
            "name": account.name,
            "email": account.email,
            "phone": account.phone,
            "preferred_language": account.preferred_language,
            "utility_account_number": account.utility_account_number,
            "contact_by_email": account.contact_by_email,
            "preferences": account.preferences or {},
            "created_at": _iso(account.created_at),
            "last_active_at": _iso(account.last_active_at),
            "sign_in": {"username": user.username, "last_login": _iso(user.last_login)} if user is not None else None,
        },
        "cases": [
            {
                "reference": c.reference,
                "service_code": c.service_type.code,
                "service": str(localized(c.service_type, "name")),
                "status": c.status,
                "created_at": _iso(c.created_at),
                "expected_at": _iso(c.expected_at),
                "closed_at": _iso(c.closed_at),
                "description": c.description,
                "attributes": c.attributes or {},
                "address": c.address,
                "zipcode": c.zipcode,
                "lat": c.lat,
                "long": c.long,
                "contact_name": c.contact_name,
                "contact_email": c.contact_email,
                "contact_phone": c.contact_phone,
                "timeline": public_events.get(c.id, []),
            }
            for c in cases
        ],
        "follows": [{"reference": ref, "email": f.email, "reason": f.reason, "since": _iso(f.created_at)} for f, ref in follows],
        "satisfaction": [
            {"reference": ref, "resolved": s.resolved, "rating": s.rating, "comment": s.comment, "at": _iso(s.created_at)} for s, ref in answers
        ],
        "notices": [mail(m) for m in sent_to_them if m.kind == "notice"],  # city notices e-mailed to them (topics)
        "emails": [mail(m) for m in sent_to_them if m.kind != "notice"],  # the other e-mails: about their cases, their account
    }


# ---------------------------------------------------------------- closing

CLOSED_NAME = privacy.CLOSED_NAME


def close_account(account: Account, user=None) -> None:
    """Anonymise the resident at their request (core/privacy.py: cases stay without contact details,
    follows and pending e-mails go, the account keeps no personal data, the login is deactivated)."""
    privacy.anonymise_account(db.session, account, user, actor_label="portal")
    db.session.commit()


def forget_contact(session, account: Account | None, emails: list[str], case_ids: list[int] | None) -> None:
    """The intake plugin's part of anonymising (hook ``forget_contact``): follows by the account or these
    addresses go, satisfaction answers stay but no longer point to the address."""
    emails = [normalise_email(e) for e in emails if e]
    who = [Follower.email.in_(emails)] if emails else []
    if account is not None and case_ids is None:
        who.append(Follower.account_id == account.id)
    if who:
        scope = [or_(*who)] + ([Follower.case_id.in_(case_ids)] if case_ids is not None else [])
        session.execute(delete(Follower).where(*scope).execution_options(synchronize_session=False))
    if emails:
        scope = [Satisfaction.respondent.in_([email_key(e) for e in emails])]
        scope += [Satisfaction.case_id.in_(case_ids)] if case_ids is not None else []
        session.execute(update(Satisfaction).where(*scope).values(respondent=None).execution_options(synchronize_session=False))
    calls = [Call.caller_email.in_(emails)] if emails else []
    if case_ids is not None:
        calls = [Call.case_id.in_(case_ids)]
    elif account is not None:
        calls.append(Call.account_id == account.id)
    if calls:
        session.execute(update(Call).where(or_(*calls)).values(**CALLER_BLANK, account_id=None).execution_options(synchronize_session=False))


CALLER_BLANK = {"caller_name": "", "caller_phone": "", "caller_email": "", "address": ""}


def expire_call_contacts(session, before) -> int:
    """Hook ``expire_contacts``: calls taken before ``before`` lose who called (and the address they gave),
    unless their case is still open; what the call was about and how it ended stay."""
    from core.models import CLOSED_STATUSES

    open_case = select(Case.id).where(Case.id == Call.case_id, Case.status.not_in(sorted(CLOSED_STATUSES))).exists()
    has_contact = or_(*(getattr(Call, name) != "" for name in CALLER_BLANK))
    result = session.execute(
        update(Call).where(Call.started_at < before, has_contact, ~open_case)
        .values(**CALLER_BLANK).execution_options(synchronize_session=False)
    )
    return result.rowcount or 0
