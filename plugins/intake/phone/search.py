"""Finding the caller, their cases, and the open cases near their address.

Every look-up is a bounded query: equality on indexed columns where the data allows it (the phone's
usual spellings, the e-mail, the utility account number, the normalised address), a prefix or a
word-prefix otherwise (names, the start of an address), and never more than ``LIMIT`` rows.
Phones are compared by their digits: "(386) 555-0100", "386.555.0100" and "+1 386 555 0100" are the
same number.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from core.duplicates import METRES_PER_DEGREE, distance_m
from core.models import OPEN_STATUSES, Account, Case
from core.security import case_scope
from plugins.intake.models import UtilityAccount, address_key

LIMIT = 20
NEARBY_LIMIT = 10
NEARBY_SCAN = 200  # rows read from the bounding box at most (the newest count)
MAX_QUERY = 200
PHONE_TEXT = re.compile(r"[\d\s().+\-/]+")
PHONE_SEPARATORS = (" ", "-", "(", ")", ".", "+", "/")


# ---------------------------------------------------------------- phones

def digits(text: str | None) -> str:
    return re.sub(r"\D", "", text or "")


def national(number: str) -> str:
    """The 10-digit North American number of ``+1 386 555 0100`` (other lengths unchanged)."""
    return number[1:] if len(number) == 11 and number.startswith("1") else number


def phone_variants(text: str | None) -> list[str]:
    """How people write this number: equality on these finds it through the column's index."""
    number = national(digits(text))
    if len(number) < 7:
        return []
    found = {number, (text or "").strip()}
    if len(number) == 10:
        a, e, x = number[:3], number[3:6], number[6:]
        found.update({
            f"{a}-{e}-{x}", f"({a}) {e}-{x}", f"({a}){e}-{x}", f"{a}.{e}.{x}", f"{a} {e} {x}", f"{a} {e}-{x}",
            f"1{number}", f"+1{number}", f"1-{a}-{e}-{x}", f"+1-{a}-{e}-{x}", f"+1 {a} {e} {x}", f"+1 {a}-{e}-{x}",
            f"+1 ({a}) {e}-{x}", f"1 ({a}) {e}-{x}", f"+1.{a}.{e}.{x}", f"1.{a}.{e}.{x}",
        })
    elif len(number) == 7:
        found.update({f"{number[:3]}-{number[3:]}", f"{number[:3]} {number[3:]}", f"{number[:3]}.{number[3:]}"})
    return sorted(v for v in found if v)


def phone_digits_sql(column):
    """The column without its usual separators, in SQL (the same expression on SQLite and PostgreSQL)."""
    expr = column
    for sep in PHONE_SEPARATORS:
        expr = func.replace(expr, sep, "")
    return expr


def phone_matches(column, text: str):
    """A WHERE clause: the column holds the number of ``text``, however it was written."""
    number = national(digits(text))
    stripped = phone_digits_sql(column)
    if len(number) == 10:
        return stripped.in_([number, "1" + number])
    return stripped.like("%" + number)


def looks_like_phone(text: str) -> bool:
    return bool(PHONE_TEXT.fullmatch(text)) and len(national(digits(text))) >= 7


# ---------------------------------------------------------------- the caller

@dataclass
class Caller:
    """Who is on the line, as far as the city knows: a resident's account, a utility account (its service
    address), or the contact details of an earlier case.  A utility account's holder name is never shown."""

    name: str = ""
    phone: str = ""
    email: str = ""
    address: str = ""
    lat: float | None = None
    long: float | None = None
    zipcode: str | None = None
    zone: str | None = None
    account: Account | None = None
    utility: UtilityAccount | None = None
    contact_case_id: int | None = None
    matched_on: list[str] = field(default_factory=list)

    @property
    def account_number(self) -> str:
        if self.utility is not None:
            return self.utility.account_number
        return (self.account.utility_account_number or "") if self.account is not None else ""

    @property
    def key(self) -> dict[str, int]:
        """What identifies the caller in a link or a hidden field (ids only: no personal data in URLs)."""
        if self.account is not None:
            return {"account": self.account.id}
        if self.utility is not None:
            return {"utility": self.utility.id}
        if self.contact_case_id is not None:
            return {"contact": self.contact_case_id}
        return {}

    @property
    def has_location(self) -> bool:
        return self.lat is not None and self.long is not None


def _with_utility(caller: Caller, utility: UtilityAccount | None) -> Caller:
    if utility is not None:
        caller.utility = utility
        caller.address = utility.service_address
        caller.lat, caller.long = utility.lat, utility.long
        caller.zipcode, caller.zone = utility.zipcode or None, utility.zone or None
    return caller


def from_account(session: Session, account: Account, utility: UtilityAccount | None = None) -> Caller:
    if utility is None and account.utility_account_number:
        utility = session.scalar(select(UtilityAccount).where(UtilityAccount.account_number == account.utility_account_number))
    caller = Caller(name=account.name or "", phone=account.phone or "", email=account.email or "", account=account)
    return _with_utility(caller, utility)


def from_utility(session: Session, utility: UtilityAccount) -> Caller:
    account = session.scalar(select(Account).where(Account.utility_account_number == utility.account_number))
    if account is not None:
        return from_account(session, account, utility)
    return _with_utility(Caller(), utility)


def callers_of_accounts(session: Session, accounts: list[Account]) -> list[Caller]:
    """Callers for several accounts, their utility accounts read in one query."""
    numbers = sorted({a.utility_account_number for a in accounts if a.utility_account_number})
    utilities = {}
    if numbers:
        theirs = select(UtilityAccount).where(UtilityAccount.account_number.in_(numbers))
        utilities = {u.account_number: u for u in session.scalars(theirs)}
    callers = [Caller(name=a.name or "", phone=a.phone or "", email=a.email or "", account=a) for a in accounts]
    return [_with_utility(c, utilities.get(c.account.utility_account_number)) for c in callers]


def callers_of_utilities(session: Session, utilities: list[UtilityAccount]) -> list[Caller]:
    """Callers for several utility accounts: the resident account linked to each (one query), else the address alone."""
    numbers = sorted({u.account_number for u in utilities})
    accounts = {}
    if numbers:
        linked = select(Account).where(Account.utility_account_number.in_(numbers))
        accounts = {a.utility_account_number: a for a in session.scalars(linked)}
    return [from_account(session, accounts[u.account_number], u) if u.account_number in accounts else _with_utility(Caller(), u)
            for u in utilities]


def from_case_contact(case: Case) -> Caller:
    return Caller(name=case.contact_name or "", phone=case.contact_phone or "", email=case.contact_email or "",
                  contact_case_id=case.id)


def resolve(session: Session, account: int | None = None, utility: int | None = None, contact: int | None = None) -> Caller | None:
    """The caller a desk link or form names by id; None when the id is unknown (or out of the agent's scope)."""
    if account:
        row = session.get(Account, account)
        return from_account(session, row) if row is not None else None
    if utility:
        row = session.get(UtilityAccount, utility)
        return from_utility(session, row) if row is not None else None
    if contact:
        scope = case_scope()
        stmt = select(Case).where(Case.id == contact)
        row = session.scalar(stmt if scope is None else stmt.where(scope))
        return from_case_contact(row) if row is not None else None
    return None


# ---------------------------------------------------------------- the search box

def _like_escaped(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _accounts_by_phone(session: Session, text: str) -> list[Account]:
    variants = phone_variants(text)
    rows = list(session.scalars(select(Account).where(Account.phone.in_(variants)).order_by(Account.id).limit(LIMIT)))
    if rows:
        return rows
    # Written some other way ("386 5550100"): compare digits in SQL, bounded.
    stmt = select(Account).where(Account.phone.is_not(None), phone_matches(Account.phone, text)).order_by(Account.id).limit(LIMIT)
    return list(session.scalars(stmt))


def _accounts_by_email(session: Session, text: str) -> list[Account]:
    spellings = sorted({text, text.lower()})
    return list(session.scalars(select(Account).where(Account.email.in_(spellings)).order_by(Account.id).limit(LIMIT)))


def _accounts_by_name(session: Session, text: str) -> list[Account]:
    """Names starting with the text, or with a word starting with it ("smi" finds "Ann Smith")."""
    pattern = _like_escaped(text)
    starts = or_(Account.name.ilike(pattern + "%", escape="\\"), Account.name.ilike("% " + pattern + "%", escape="\\"))
    stmt = select(Account).where(starts).order_by(Account.name, Account.id).limit(LIMIT)
    return list(session.scalars(stmt))


def _utilities_by_number(session: Session, text: str) -> list[UtilityAccount]:
    spellings = sorted({text, text.upper()})
    return list(session.scalars(select(UtilityAccount).where(UtilityAccount.account_number.in_(spellings)).limit(LIMIT)))


def _accounts_by_number(session: Session, text: str) -> list[Account]:
    spellings = sorted({text, text.upper()})
    return list(session.scalars(select(Account).where(Account.utility_account_number.in_(spellings)).limit(LIMIT)))


def _utilities_by_address(session: Session, text: str) -> list[UtilityAccount]:
    """The address exactly (indexed), else the addresses starting with it."""
    key = address_key(text)
    stmt = select(UtilityAccount).order_by(UtilityAccount.address_key, UtilityAccount.account_number).limit(LIMIT)
    rows = list(session.scalars(stmt.where(UtilityAccount.address_key == key)))
    if rows:
        return rows
    return list(session.scalars(stmt.where(UtilityAccount.address_key.like(_like_escaped(key) + "%", escape="\\"))))


def _earlier_contacts(session: Session, text: str, by_phone: bool) -> list[Case]:
    """Cases whose contact is this phone or e-mail: a caller without an account who called before."""
    column = Case.contact_phone if by_phone else Case.contact_email
    values = phone_variants(text) if by_phone else sorted({text, text.lower()})
    stmt = select(Case).where(column.in_(values)).order_by(Case.created_at.desc()).limit(LIMIT)
    scope = case_scope()
    return list(session.scalars(stmt if scope is None else stmt.where(scope)))


def find_callers(session: Session, query: str, limit: int = LIMIT) -> list[Caller]:
    """Callers matching one search box: phone, e-mail, utility account number, name or address.

    Exact identifiers first (phone, e-mail, account number), then names, then addresses; each caller once.
    """
    text = " ".join((query or "").split())[:MAX_QUERY]
    if len(text) < 2:
        return []
    found: dict[tuple[str, int], Caller] = {}

    def add(caller: Caller, why: str) -> None:
        kind, ident = next(iter(caller.key.items()))
        existing = found.setdefault((kind, ident), caller)
        if why not in existing.matched_on:
            existing.matched_on.append(why)

    is_email = "@" in text
    has_letters = any(c.isalpha() for c in text)
    if looks_like_phone(text):
        for caller in callers_of_accounts(session, _accounts_by_phone(session, text)):
            add(caller, "phone")
    if is_email:
        for caller in callers_of_accounts(session, _accounts_by_email(session, text)):
            add(caller, "email")
    elif " " not in text:
        for caller in callers_of_accounts(session, _accounts_by_number(session, text)):
            add(caller, "account_number")
        for caller in callers_of_utilities(session, _utilities_by_number(session, text)):
            add(caller, "account_number")
    if has_letters and not is_email:
        for caller in callers_of_accounts(session, _accounts_by_name(session, text)):
            add(caller, "name")
    if not is_email and len(address_key(text)) >= 3:
        for caller in callers_of_utilities(session, _utilities_by_address(session, text)):
            add(caller, "address")
    if not found and (is_email or looks_like_phone(text)):
        seen: set[str] = set()
        for case in _earlier_contacts(session, text, by_phone=not is_email):
            who = (case.contact_name or "", digits(case.contact_phone), (case.contact_email or "").lower())
            if "|".join(who) not in seen:
                seen.add("|".join(who))
                add(from_case_contact(case), "earlier_case")
    return list(found.values())[:limit]


# ---------------------------------------------------------------- what the agent sees about the caller

def caller_cases(session: Session, caller: Caller, limit: int = LIMIT) -> list[Case]:
    """The caller's cases, newest first: their account's, and those left with their phone or e-mail."""
    conditions = []
    if caller.account is not None:
        conditions.append(Case.account_id == caller.account.id)
    if phone_variants(caller.phone):
        conditions.append(Case.contact_phone.in_(phone_variants(caller.phone)))
    if caller.email:
        conditions.append(Case.contact_email.in_(sorted({caller.email, caller.email.lower()})))
    if not conditions:
        return []
    found: dict[int, Case] = {}
    scope = case_scope()
    for condition in conditions:  # one indexed look-up each rather than an OR over several columns
        stmt = select(Case).where(condition).order_by(Case.created_at.desc(), Case.id.desc()).limit(limit)
        for case in session.scalars(stmt if scope is None else stmt.where(scope)):
            found.setdefault(case.id, case)
    return sorted(found.values(), key=lambda c: (c.created_at, c.id), reverse=True)[:limit]


def open_cases_near(session: Session, lat: float | None, long: float | None, radius_m: float,
                    limit: int = NEARBY_LIMIT) -> list[tuple[Case, float]]:
    """Open cases within ``radius_m`` metres of a point, nearest first, with their distance in metres.

    A lat/long box in SQL narrows the rows; the exact great-circle distance decides.
    """
    if lat is None or long is None:
        return []
    dlat = radius_m / METRES_PER_DEGREE
    dlong = radius_m / (METRES_PER_DEGREE * max(math.cos(math.radians(lat)), 0.01))
    stmt = (
        select(Case)
        .where(
            Case.status.in_(sorted(OPEN_STATUSES)),
            Case.lat.between(lat - dlat, lat + dlat),
            Case.long.between(long - dlong, long + dlong),
        )
        .order_by(Case.created_at.desc(), Case.id.desc())
        .limit(NEARBY_SCAN)
    )
    scope = case_scope()
    rows = session.scalars(stmt if scope is None else stmt.where(scope)).all()
    near = [(case, distance_m(lat, long, case.lat, case.long)) for case in rows]
    near = [(case, d) for case, d in near if d <= radius_m]
    return sorted(near, key=lambda pair: pair[1])[:limit]
